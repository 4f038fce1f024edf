// End to end: the package bin (bin/vggt-workbench.mjs) spawned as users run it, from another folder.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "../tensors/safetensors.js";
import { readColmapBinary, readColmapText } from "../export/colmap-reader.js";
import { loadEngineOutput, selectPoints } from "../export/index.js";
import { colmapRoundTrip, loudSkip, SHARED_DIR } from "../export/test-checks.js";
import { runCli } from "./main.js";
import { buildGoldenEngineOutput, cropMapping, syntheticOutput, writeEngineOutputFile, writeOriginals } from "../export/test-fixtures.js";

const BIN = resolve(import.meta.dirname, "../../../bin/vggt-workbench.mjs");
const tmp = mkdtempSync(join(tmpdir(), "vggt-cli-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]) {
  // cwd is the temp folder: the bin must not depend on being run from the repo.
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: tmp, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const golden = join(SHARED_DIR, "goldens/tiny-2f");
const haveGolden = existsSync(join(golden, "expected.safetensors"));
if (!haveGolden) loudSkip(`golden tiny-2f not found under ${SHARED_DIR}: the CLI uses a synthetic engine output instead`);

function input(): { file: string; imagesDir: string } {
  if (haveGolden) return buildGoldenEngineOutput(golden, join(tmp, "in"));
  const frames = [cropMapping("a.png", 112, 84, 56, 42), cropMapping("b.png", 112, 84, 56, 42)];
  const file = join(tmp, "in", "engine-output.safetensors");
  mkdirSync(join(tmp, "in"), { recursive: true });
  writeEngineOutputFile(file, syntheticOutput({ S: 2, frames }));
  writeOriginals(join(tmp, "in", "images-orig"), frames);
  return { file, imagesDir: join(tmp, "in", "images-orig") };
}
const { file, imagesDir } = input();

describe("vggt-workbench export", () => {
  it("colmap and colmap-bin, relative paths, from another cwd", () => {
    const out = loadEngineOutput(file);
    const n = selectPoints(out, { confPercentile: 30, points: "pointmap" }).indices.length;
    for (const [fmt, read] of [["colmap", readColmapText], ["colmap-bin", readColmapBinary]] as const) {
      const r = cli(["export", "in/engine-output.safetensors", "--images", "in/images-orig", "--format", fmt, "--out", `o-${fmt}`, "--conf-percentile", "30", "--points", "pointmap"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`exported ${fmt} .* ${n} points`));
      const model = read(join(tmp, `o-${fmt}`, "sparse/0"));
      expect(model.points.size).toBe(n);
      expect(model.images.size).toBe(out.S);
      // pointmap points are not exactly on their pixel rays: the projection error is the model's own, not ours;
      // the stored observation still maps back to the exact source pixel.
      const rt = colmapRoundTrip(model, out, out.worldPoints!);
      expect(rt.maxPixelErr).toBeLessThan(1e-6);
      expect(readdirSync(join(tmp, `o-${fmt}`, "images")).sort()).toEqual(out.frames!.map((f) => f.path).sort());
    }
  });

  it("ply (binary/ascii), json, nerfstudio and glb", () => {
    for (const [fmt, extra, files] of [
      ["ply", [], ["points.ply"]],
      ["ply", ["--ascii"], ["points.ply"]],
      ["json", [], ["cameras.json"]],
      ["nerfstudio", [], ["images", "sparse_pc.ply", "transforms.json"]],
      ["glb", [], ["scene.glb"]],
    ] as const) {
      const dir = join(tmp, `o-${fmt}-${extra.length}`);
      const r = cli(["export", file, "--images", imagesDir, "--format", fmt, "--out", dir, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      expect(readdirSync(dir).sort()).toEqual([...files]);
    }
    const ply = readFileSync(join(tmp, "o-ply-1", "points.ply"), "latin1");
    expect(ply.startsWith("ply\nformat ascii 1.0\n")).toBe(true);
  });

  it("fails clearly on a missing file", () => {
    const r = cli(["export", "nope.safetensors", "--format", "ply", "--out", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope\.safetensors: no such file/);
    expect(existsSync(join(tmp, "x"))).toBe(false);
  });

  it("fails clearly on wrong tensor shapes and on a file that is not safetensors", () => {
    const bad = join(tmp, "bad.safetensors");
    const S = 2;
    writeSafetensors(bad, {
      extrinsic: { dtype: "F32", shape: [S, 3, 4], data: new Float32Array(S * 12) },
      intrinsic: { dtype: "F32", shape: [S, 3, 3], data: new Float32Array(S * 9) },
      world_points: { dtype: "F32", shape: [S, 4, 5, 3], data: new Float32Array(S * 60) },
      world_points_conf: { dtype: "F32", shape: [S, 5, 4], data: new Float32Array(S * 20) },
    });
    const r = cli(["export", bad, "--format", "ply", "--out", "y"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}: tensor 'world_points_conf' has shape [2,5,4], expected [2,4,5]`);
    const junk = join(tmp, "junk.safetensors");
    writeFileSync(junk, "hello, this is not a tensor file");
    const r2 = cli(["export", junk, "--format", "ply", "--out", "y"]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(junk);
    expect(existsSync(join(tmp, "y"))).toBe(false);
  });

  it("refuses a non-empty output folder without --force and leaves it untouched", () => {
    const dir = join(tmp, "busy");
    mkdirSync(dir);
    writeFileSync(join(dir, "mine.txt"), "keep me");
    const r = cli(["export", file, "--images", imagesDir, "--format", "colmap", "--out", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/busy: output folder is not empty \(mine\.txt\); pass --force/);
    expect(readdirSync(dir)).toEqual(["mine.txt"]);
    const r2 = cli(["export", file, "--images", imagesDir, "--format", "colmap", "--out", dir, "--force"]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["images", "mine.txt", "sparse"]);
    expect(readdirSync(tmp).filter((f) => f.includes(".export-"))).toEqual([]);
  });

  it("usage errors exit 2 with the usage text", async () => {
    // In process (runCli is what the bin calls) to keep the suite fast; one spawn checks the exit code path.
    const spawned = cli(["export", file, "--format", "obj", "--out", "z"]);
    expect(spawned.code).toBe(2);
    expect(spawned.stderr).toMatch(/--format must be one of ply, colmap, colmap-bin, json, nerfstudio, glb, got 'obj'/);
    for (const args of [
      ["export", file, "--format", "obj", "--out", "z"],
      ["export", file, "--out", "z"],
      ["export", file, "--format", "ply", "--out", "z", "--conf-percentile", "150"],
      ["export", file, "--format", "ply", "--out", "z", "--bogus"],
      ["frobnicate"],
    ]) {
      let stderr = "";
      const code = await runCli(args, { stdout: () => {}, stderr: (t) => (stderr += t) });
      expect(code, args.join(" ")).toBe(2);
      expect(stderr).toMatch(/Usage: vggt-workbench/);
    }
    let help = "";
    expect(await runCli(["help", "export"], { stdout: (t) => (help += t), stderr: () => {} })).toBe(0);
    expect(help).toContain("--conf-percentile");
  });

  it("an output made from a tensor exports at the model resolution and says so", () => {
    const f = join(tmp, "tensor.safetensors");
    writeEngineOutputFile(f, syntheticOutput({ S: 2 }));
    const r = cli(["export", f, "--format", "colmap", "--out", "t-out"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/note: .*no 'frames' metadata.*model resolution 56x42/);
    const m = readColmapText(join(tmp, "t-out/sparse/0"));
    expect([...m.cameras.values()].map((c) => [c.width, c.height])).toEqual([[56, 42], [56, 42]]);
    expect(readdirSync(join(tmp, "t-out/images"))).toEqual(["frame_0000.png", "frame_0001.png"]);
  });
});

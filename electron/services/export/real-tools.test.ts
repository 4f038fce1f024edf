// The exports as real tools read them: Debian's COLMAP (model_analyzer, model_converter) and Open3D.
// Inputs: a synthetic 'pad' output with known cameras, and a realistic one built from the golden tiny-2f case
// (official VGGT outputs) with PNG originals at twice the model resolution.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readColmapBinary, readColmapText, type ReadModel } from "./colmap-reader.js";
import { exportEngineOutputFile, loadEngineOutput, selectPoints } from "./index.js";
import { colmapRoundTrip, findColmap, findOpen3dPython, loudSkip, SHARED_DIR } from "./test-checks.js";
import { buildGoldenEngineOutput, padMapping, syntheticOutput, writeEngineOutputFile, writeOriginals } from "./test-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-export-tools-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const colmap = findColmap();
const python = findOpen3dPython();
if (!colmap) loudSkip("COLMAP not found (install Debian's colmap): COLMAP real-tool export tests");
if (!python) loudSkip("python3 with open3d not found (install python3-open3d): Open3D PLY test");

const golden = join(SHARED_DIR, "goldens/tiny-2f");
const haveGolden = existsSync(join(golden, "expected.safetensors")) && existsSync(join(golden, "input.safetensors"));
if (!haveGolden) loudSkip(`golden tiny-2f not found under ${SHARED_DIR} (set VGGT_SHARED_DIR): realistic-input export tests`);

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  const text = (r.stdout ?? "") + (r.stderr ?? "");
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${text}`);
  return text;
}

function analyze(path: string): Record<string, number> {
  const text = run(colmap!, ["model_analyzer", "--path", path]);
  const get = (k: string) => {
    const m = new RegExp(`${k}: ([0-9.]+)`).exec(text);
    if (!m) throw new Error(`model_analyzer printed no '${k}':\n${text}`);
    return Number(m[1]);
  };
  return { cameras: get("Cameras"), images: get("Images"), registered: get("Registered images"), points: get("Points"), observations: get("Observations") };
}

interface Case {
  name: string;
  make: () => { file: string; imagesDir: string };
}
const cases: Case[] = [
  {
    name: "synthetic pad",
    make: () => {
      const d = join(tmp, "synthetic");
      const frames = [padMapping("a.png", 300, 400, 56, 56), padMapping("b.png", 640, 480, 56, 56)];
      const file = join(d, "engine-output.safetensors");
      mkdirSync(d, { recursive: true });
      writeEngineOutputFile(file, syntheticOutput({ S: 2, W: 56, H: 56, frames }));
      writeOriginals(join(d, "images-orig"), frames);
      return { file, imagesDir: join(d, "images-orig") };
    },
  },
  ...(haveGolden ? [{ name: "golden tiny-2f", make: () => buildGoldenEngineOutput(golden, join(tmp, "golden")) }] : []),
];

describe.skipIf(!colmap)("COLMAP reads the exports", () => {
  for (const c of cases)
    for (const fmt of ["colmap", "colmap-bin"] as const)
      it(`${c.name}, ${fmt}: model_analyzer counts, model_converter round trip, projections < 1e-3 px`, async () => {
        const { file, imagesDir } = c.make();
        const out = loadEngineOutput(file);
        const dir = join(tmp, `${c.name}-${fmt}`.replace(/\W+/g, "_"));
        await exportEngineOutputFile(file, { format: fmt, outDir: dir, imagesDir, confPercentile: 50, force: true });
        const n = selectPoints(out, { confPercentile: 50 }).indices.length;
        const sparse = join(dir, "sparse/0");
        expect(analyze(sparse)).toEqual({ cameras: out.S, images: out.S, registered: out.S, points: n, observations: n });
        // COLMAP rewrites the model in the other form; read what COLMAP wrote and recheck the geometry.
        const conv = join(dir, "converted");
        mkdirSync(conv, { recursive: true });
        run(colmap!, ["model_converter", "--input_path", sparse, "--output_path", conv, "--output_type", fmt === "colmap" ? "BIN" : "TXT"]);
        const model: ReadModel = fmt === "colmap" ? readColmapBinary(conv) : readColmapText(conv);
        expect([model.cameras.size, model.images.size, model.points.size]).toEqual([out.S, out.S, n]);
        expect(analyze(conv)).toEqual({ cameras: out.S, images: out.S, registered: out.S, points: n, observations: n });
        const rt = colmapRoundTrip(model, out, out.worldPointsFromDepth!);
        expect(rt.points).toBe(n);
        // COLMAP prints doubles with 17 significant digits in text; float32 data keeps this far below 1e-3 px.
        expect(rt.maxProjErr).toBeLessThan(1e-3);
        expect(rt.maxCenterErr).toBeLessThan(1e-6);
        for (const im of model.images.values()) expect(existsSync(join(dir, "images", im.name))).toBe(true);
      });

  it("empty tracks (--tracks none) are accepted too", async () => {
    const { file, imagesDir } = cases[0].make();
    const dir = join(tmp, "empty-tracks");
    await exportEngineOutputFile(file, { format: "colmap", outDir: dir, imagesDir, tracks: "none", force: true });
    const out = loadEngineOutput(file);
    const n = selectPoints(out).indices.length;
    expect(analyze(join(dir, "sparse/0"))).toEqual({ cameras: 2, images: 2, registered: 2, points: n, observations: 0 });
  });
});

describe.skipIf(!python)("Open3D reads the PLY", () => {
  for (const c of cases)
    for (const ascii of [false, true])
      it(`${c.name}, ${ascii ? "ASCII" : "binary"}: point and colour counts, colours and coordinates`, async () => {
        const { file } = c.make();
        const out = loadEngineOutput(file);
        const dir = join(tmp, `${c.name}-ply-${ascii}`.replace(/\W+/g, "_"));
        await exportEngineOutputFile(file, { format: "ply", outDir: dir, points: "pointmap", confPercentile: 25, ascii, force: true });
        const sel = selectPoints(out, { points: "pointmap", confPercentile: 25 });
        const script = [
          "import open3d as o3d, numpy as np, json, sys",
          "p = o3d.io.read_point_cloud(sys.argv[1])",
          "P = np.asarray(p.points); C = np.asarray(p.colors)",
          "print(json.dumps({'n': len(P), 'nc': len(C), 'first': P[0].tolist(), 'last': P[-1].tolist(), 'c0': (C[0]*255).round().tolist(), 'sum': (C*255).round().sum(0).tolist()}))",
        ].join("\n");
        const r = JSON.parse(run(python!, ["-c", script, join(dir, "points.ply")]).trim().split("\n").pop()!);
        expect(r.n).toBe(sel.indices.length);
        expect(r.nc).toBe(sel.indices.length);
        const i0 = sel.indices[0];
        const il = sel.indices[sel.indices.length - 1];
        // ASCII holds 9 significant digits: the same float32 once rounded back.
        expect(r.first.map(Math.fround)).toEqual(Array.from(out.worldPoints!.subarray(3 * i0, 3 * i0 + 3)));
        expect(r.last.map(Math.fround)).toEqual(Array.from(out.worldPoints!.subarray(3 * il, 3 * il + 3)));
        const HW = out.H * out.W;
        const sum = [0, 0, 0];
        for (const i of sel.indices) {
          const s = Math.floor(i / HW);
          for (let ch = 0; ch < 3; ch++) sum[ch] += Math.min(255, Math.max(0, Math.round(out.images![s * 3 * HW + ch * HW + (i - s * HW)] * 255)));
        }
        expect(r.sum).toEqual(sum);
      });
});

// `vggt-workbench reconstruct --chunk K --overlap O` with the real engine (the tiny golden model):
// one chunk is exactly the single run; a 2-chunk run on kitchen photos merges and reports residuals.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadEngineOutput } from "../export/engine-output.js";

const repo = resolve(import.meta.dirname, "../../..");
const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(repo, "../shared"));
const tiny = join(shared, "goldens", "tiny-2f");
const kitchen = join(shared, "datasets", "kitchen", "images");
const have = existsSync(join(tiny, "weights.safetensors")) && existsSync(kitchen);
if (!have) console.warn(`*** ${tiny} or ${kitchen} not found: chunked reconstruct CLI test SKIPPED ***`);

const cli = (args: string[]) =>
  spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", ...args, "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--options", "all"], {
    encoding: "utf8",
    timeout: 400_000,
  });

describe.skipIf(!have)("vggt-workbench reconstruct --chunk", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vggt-chunked-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("--chunk >= the frame count reproduces the single run byte for byte", () => {
    const a = cli([join(repo, "assets/sample"), "--frames", "2", "--out", join(tmp, "single")]);
    expect(a.status, a.stderr).toBe(0);
    const b = cli([join(repo, "assets/sample"), "--frames", "2", "--chunk", "8", "--overlap", "2", "--out", join(tmp, "one-chunk")]);
    expect(b.status, b.stderr).toBe(0);
    const x = readFileSync(join(tmp, "single", "reconstruction.safetensors"));
    const y = readFileSync(join(tmp, "one-chunk", "reconstruction.safetensors"));
    expect(x.length).toBeGreaterThan(1_000_000);
    expect(Buffer.compare(x, y)).toBe(0);
    expect(existsSync(join(tmp, "one-chunk", "chunks.json"))).toBe(false);
  }, 400_000);

  it("a 2-chunk run on 5 kitchen photos merges into one reconstruction and reports the overlap residual", () => {
    const dir = join(tmp, "kitchen5");
    mkdirSync(dir);
    for (const f of readdirSync(kitchen).sort().slice(0, 5)) symlinkSync(join(kitchen, f), join(dir, f));
    const out = join(tmp, "kitchen-out");
    const r = cli([dir, "--chunk", "3", "--overlap", "1", "--out", out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/chunk 2\/2 \(frames 3-5\): starting — \d+% done/);
    expect(r.stdout).toMatch(/chunk 2 \(frames 3-5\): scale [\d.]+, rotation [\d.]+ deg, overlap residual [\d.e-]+ \([\d.]+% of the scene scale\), inliers [\d.]+% of \d+ points/);
    const report = JSON.parse(readFileSync(join(out, "chunks.json"), "utf8"));
    expect(report.chunks.map((c: { frames: number[] }) => c.frames)).toEqual([[0, 2], [2, 4]]);
    const c1 = report.chunks[1];
    expect(c1.scale).toBeGreaterThan(0);
    expect(c1.residual).toBeGreaterThan(0);
    expect(c1.relativeResidual).toBeGreaterThan(0);
    expect(c1.relativeResidual).toBeLessThan(1);
    // Half of the 350x518 shared frame (pixels under the median confidence are left out).
    expect(c1.points).toBeGreaterThanOrEqual((350 * 518) / 2);
    expect(c1.points).toBeLessThan((350 * 518) / 2 + 100);
    const m = loadEngineOutput(join(out, "reconstruction.safetensors"));
    expect([m.S, m.H, m.W]).toEqual([5, 350, 518]);
    expect(m.frames!.map((f) => f.path.split("/").pop())).toEqual(readdirSync(dir).sort());
    expect(JSON.parse(m.metadata.chunks).chunks).toHaveLength(2);
    expect(readdirSync(out).filter((f) => f.startsWith(".chunks-") || f.includes(".tmp-"))).toEqual([]);
    expect(existsSync(join(out, "colmap/sparse/0/images.bin"))).toBe(true);
  }, 400_000);

  it("Ctrl-C during a chunk stops the engine and leaves the earlier result and nothing else", async () => {
    const out = join(tmp, "cancelled");
    mkdirSync(out);
    writeFileSync(join(out, "reconstruction.safetensors"), "earlier result");
    const p = spawn(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", join(repo, "assets/sample"), "--chunk", "3", "--overlap", "1", "--out", out, "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--options", "all"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    const code = await new Promise<number | null>((ok) => {
      p.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        // Interrupt once the first chunk's engine is at work.
        if (/chunk 1 engine: .*encoder/.test(err) && !p.killed) p.kill("SIGINT");
      });
      p.on("close", ok);
    });
    expect(code, err).not.toBe(0);
    expect(err).toMatch(/cancelled; earlier results in .* are unchanged/);
    expect(readFileSync(join(out, "reconstruction.safetensors"), "utf8")).toBe("earlier result");
    expect(readdirSync(out)).toEqual(["reconstruction.safetensors"]);
  }, 400_000);

  it("refuses an overlap that is not smaller than the chunk", () => {
    const r = cli([join(repo, "assets/sample"), "--chunk", "2", "--overlap", "2", "--out", join(tmp, "bad")]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--overlap must be smaller than --chunk/);
  });
});

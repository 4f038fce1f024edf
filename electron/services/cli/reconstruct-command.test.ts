// `vggt-workbench reconstruct` end to end with the real engine: the bundled sample through the
// tiny golden model (the README's main job runs the same code with VGGT-1B or random weights).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSafetensors } from "../tensors/safetensors.js";
import { dimsFromConfig, MEMORY_SHARE, processPeakBytes } from "../runs/estimate.js";
import { countParams } from "../runs/workbench.js";

const repo = resolve(import.meta.dirname, "../../..");
const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(repo, "../shared"));
const tiny = join(shared, "goldens", "tiny-2f");
const have = existsSync(join(tiny, "weights.safetensors"));
if (!have) console.warn(`*** ${tiny} not found: reconstruct CLI test SKIPPED ***`);

describe.skipIf(!have)("vggt-workbench reconstruct", () => {
  const out = mkdtempSync(join(tmpdir(), "vggt-reconstruct-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("reconstructs the bundled sample into engine output, PLY and a COLMAP model", () => {
    const r = spawnSync(
      process.execPath,
      [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", join(repo, "assets/sample"), "--out", out,
        "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--frames", "2"],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const engineOut = readSafetensors(join(out, "reconstruction.safetensors"));
    expect(engineOut.tensors.get("world_points")?.shape).toEqual([2, 350, 518, 3]);
    expect(engineOut.metadata.random_weights).toBe("false");
    // The default set `all`: bf16 on, int8 off.
    const options = JSON.parse(engineOut.metadata.options);
    expect([options.bf16, options["flash-attn"], options.w8a8]).toEqual([true, true, false]);
    const ply = readFileSync(join(out, "points.ply"));
    const count = Number(/element vertex (\d+)/.exec(ply.subarray(0, 400).toString("latin1"))![1]);
    expect(count).toBeGreaterThan(1000);
    for (const f of ["cameras.bin", "images.bin", "points3D.bin"]) expect(existsSync(join(out, "colmap/sparse/0", f))).toBe(true);
    expect(r.stdout).toMatch(/point cloud: .*points\.ply/);
  }, 150_000);

  it("explains the default option set in its help", () => {
    const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", "--help"], { encoding: "utf8" });
    const help = (r.stdout + r.stderr).replace(/\s+/g, " ");
    expect(help).toMatch(/default: all = every option but int8/);
    expect(help).toMatch(/sincos-lowp,rope-fused,rope-cache,dpt-pos-cache,fused-add-ln,prepack,flash-attn for fp32-exact/);
    expect(help).toMatch(/closer to the fp32 outputs than the official bf16 run/);
  });

  describe("a video input", () => {
    const work = mkdtempSync(join(tmpdir(), "vggt-reconstruct-video-"));
    afterAll(() => rmSync(work, { recursive: true, force: true }));
    const video = join(work, "walk.mp4");
    // The 4 sample views, 2 per second, as 16 frames at 8 fps.
    execFileSync("ffmpeg", ["-v", "error", "-y", "-framerate", "2", "-pattern_type", "glob", "-i", join(repo, "assets/sample/view-*.png"), "-vf", "fps=8", "-c:v", "libx264", "-pix_fmt", "yuv420p", video]);
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", ...args, "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json")], { encoding: "utf8", timeout: 120_000 });

    it("samples frames at a rate into DIR/frames and reconstructs them", () => {
      const out = join(work, "by-rate");
      const r = cli([video, "--out", out, "--fps", "1.5"]);
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(join(out, "frames"))).toEqual(["frame_0001.jpg", "frame_0002.jpg", "frame_0003.jpg"]);
      expect(r.stderr).toMatch(/3 frames of 518x350 from 2\.0 s of video \(1\.50 per second\)/);
      expect(r.stderr).toMatch(/decoding: 3\/3 frames/);
      expect(readSafetensors(join(out, "reconstruction.safetensors")).tensors.get("world_points")?.shape).toEqual([3, 350, 518, 3]);
      // The COLMAP export points at the sampled frames.
      expect(existsSync(join(out, "colmap/images/frame_0002.jpg"))).toBe(true);
    }, 150_000);

    it("without --fps/--frames samples the most frames that fit the machine's memory", () => {
      // A memory limit (as the planner reads it) that holds 3 frames of the tiny model, not 4.
      const dims = dimsFromConfig(JSON.parse(readFileSync(join(tiny, "config.json"), "utf8")));
      const params = countParams(join(tiny, "weights.safetensors"))!;
      const peak = (n: number) => processPeakBytes(dims, params, { bf16: true, prepack: true }, n, 518, 350);
      const limit = Math.floor((peak(3) + peak(4)) / 2 / MEMORY_SHARE);
      const out = join(work, "default");
      const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", video, "--out", out, "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json")], {
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, VGGT_MEMORY_LIMIT_BYTES: String(limit) },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/Sampling 3 frames: the most one run holds on this machine/);
      expect(readdirSync(join(out, "frames"))).toHaveLength(3);
    }, 150_000);

    it("names the file when it is not a video, and refuses --fps for a folder", () => {
      const fake = join(work, "notes.mp4");
      writeFileSync(fake, "not a video\n");
      const r = cli([fake, "--out", join(work, "bad"), "--frames", "3"]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/error: notes\.mp4: not a readable video/);
      expect(existsSync(join(work, "bad", "frames"))).toBe(false);
      const f = cli([join(repo, "assets/sample"), "--out", join(work, "bad"), "--fps", "2"]);
      expect(f.status).toBe(2);
      expect(f.stderr).toMatch(/--fps applies to a video input only/);
    });
  });

  it("fails clearly on a folder without images", () => {
    const empty = mkdtempSync(join(tmpdir(), "vggt-empty-"));
    const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", empty, "--out", join(empty, "o")], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no PNG or JPEG images/);
    rmSync(empty, { recursive: true, force: true });
  });
});

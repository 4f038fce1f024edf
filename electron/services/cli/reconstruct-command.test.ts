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
import { presetById, PRESET_LABELS, type PresetId } from "../../../common/option-catalog.js";

const repo = resolve(import.meta.dirname, "../../..");
const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(repo, "../shared"));
const tiny = join(shared, "goldens", "tiny-2f");
const have = existsSync(join(tiny, "weights.safetensors"));
if (!have) console.warn(`*** ${tiny} not found: reconstruct CLI test SKIPPED ***`);

describe.skipIf(!have)("vggt-workbench reconstruct", () => {
  const out = mkdtempSync(join(tmpdir(), "vggt-reconstruct-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  // A fresh app data folder: this machine is not calibrated there yet.
  const data = mkdtempSync(join(tmpdir(), "vggt-reconstruct-data-"));
  afterAll(() => rmSync(data, { recursive: true, force: true }));
  const env = { ...process.env, VGGT_DATA_DIR: data };
  const help = () => {
    const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", "--help"], { encoding: "utf8", env });
    return (r.stdout + r.stderr).replace(/\s+/g, " ");
  };

  it("before calibration, the help says the machine is not calibrated and how to calibrate it", () => {
    const h = help();
    expect(h).toMatch(/is not calibrated yet; the first run without --options calibrates it/);
    expect(h).toMatch(/'vggt-workbench calibrate'/);
    expect(h).toMatch(/sincos-lowp,rope-fused,rope-cache,dpt-pos-cache,fused-add-ln,prepack,flash-attn for fp32-exact/);
    expect(h).toMatch(/official VGGT release's own bf16 run against its fp32 run \(cameras 1\.42 deg/);
  });

  it("reconstructs the bundled sample with this machine's calibrated default into engine output, PLY and a COLMAP model", () => {
    const r = spawnSync(
      process.execPath,
      [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", join(repo, "assets/sample"), "--out", out,
        "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--frames", "2"],
      { encoding: "utf8", timeout: 120_000, env },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Calibrating this machine/);
    // The calibration the run used is cached under the app's data folder, and the engine ran its choice.
    const [id] = readdirSync(join(data, "calibration"));
    const cal = JSON.parse(readFileSync(join(data, "calibration", id, "calibration.json"), "utf8"));
    expect(["fastest-exact", "all", "fastest-int8", "int8-fp32"]).toContain(cal.chosen.preset);
    expect(r.stderr).toContain(`Options: ${PRESET_LABELS[cal.chosen.preset as PresetId]} — ${cal.chosen.reason}`);
    const engineOut = readSafetensors(join(out, "reconstruction.safetensors"));
    expect(engineOut.tensors.get("world_points")?.shape).toEqual([2, 350, 518, 3]);
    expect(engineOut.metadata.random_weights).toBe("false");
    const options = JSON.parse(engineOut.metadata.options);
    const ran = Object.keys(options).filter((k) => options[k] === true).sort();
    expect(ran).toEqual([...presetById(cal.chosen.preset).on].sort());
    const ply = readFileSync(join(out, "points.ply"));
    const count = Number(/element vertex (\d+)/.exec(ply.subarray(0, 400).toString("latin1"))![1]);
    expect(count).toBeGreaterThan(1000);
    for (const f of ["cameras.bin", "images.bin", "points3D.bin"]) expect(existsSync(join(out, "colmap/sparse/0", f))).toBe(true);
    expect(r.stdout).toMatch(/point cloud: .*points\.ply/);

    // Once calibrated: the help names the machine's default and why; a second run does not measure again.
    const h = help();
    expect(h).toContain(`Default options on this machine: ${PRESET_LABELS[cal.chosen.preset as PresetId]} (${presetById(cal.chosen.preset).on.join(",")}) — ${cal.chosen.reason}`.replace(/\s+/g, " "));
    const again = spawnSync(
      process.execPath,
      [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", join(repo, "assets/sample"), "--out", join(out, "again"),
        "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--frames", "2"],
      { encoding: "utf8", timeout: 120_000, env },
    );
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/Calibrating/);
    expect(again.stderr).toMatch(/Options: /);
  }, 150_000);

  describe("a video input", () => {
    const work = mkdtempSync(join(tmpdir(), "vggt-reconstruct-video-"));
    afterAll(() => rmSync(work, { recursive: true, force: true }));
    const video = join(work, "walk.mp4");
    // The 4 sample views, 2 per second, as 16 frames at 8 fps.
    execFileSync("ffmpeg", ["-v", "error", "-y", "-framerate", "2", "-pattern_type", "glob", "-i", join(repo, "assets/sample/view-*.png"), "-vf", "fps=8", "-c:v", "libx264", "-pix_fmt", "yuv420p", video]);
    // `all` named: these check the sampling, and the memory plan depends on the options.
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", ...args, "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--options", "all"], { encoding: "utf8", timeout: 120_000 });

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
      const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", video, "--out", out, "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--options", "all"], {
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
    const fresh = join(empty, "data");
    const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", empty, "--out", join(empty, "o")], { encoding: "utf8", env: { ...process.env, VGGT_DATA_DIR: fresh } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no PNG or JPEG images/);
    // Bad input is refused before the machine is calibrated.
    expect(r.stderr).not.toMatch(/Calibrating/);
    expect(existsSync(fresh)).toBe(false);
    rmSync(empty, { recursive: true, force: true });
  });
});

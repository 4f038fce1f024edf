// A dropped video in the app's services: sampled into frame images in the data folder, with
// progress events, a note, resampling by count or rate, and bad videos listed as rejected.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { AppEvent } from "../../ipc/types.js";
import { allSet } from "../../../common/option-catalog.js";
import { DEFAULT_GFLOPS, framesThatFit, VGGT_1B_DIMS, VGGT_1B_PARAMS } from "./estimate.js";
import { Workbench } from "./workbench.js";
import { idleEngine } from "../testing/idle-engine.js";

const root = mkdtempSync(join(tmpdir(), "vggt-wb-video-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const video = join(root, "walk.mp4");
execFileSync("ffmpeg", ["-v", "error", "-y", "-framerate", "2", "-pattern_type", "glob", "-i", join(resolve(__dirname, "../../../assets/sample"), "view-*.png"), "-vf", "fps=8", "-c:v", "libx264", "-pix_fmt", "yuv420p", video]);


describe("Workbench.scanPaths with a video", () => {
  const dataDir = mkdtempSync(join(root, "data-"));
  const wb = new Workbench({ mode: "electron", dataDir, engine: idleEngine, hostMemoryBytes: 64 * 2 ** 30 });
  const events: AppEvent[] = [];
  wb.subscribe((e) => events.push(e));

  it("samples frames (default: the most that fit memory and 10 minutes) into the data folder, with progress", async () => {
    const scan = await wb.scanPaths([video]);
    expect(scan.rejected).toEqual([]);
    // Nothing measured yet: VGGT-1B (random weights) at the default rate, 64 GiB.
    const fit = framesThatFit({ dims: VGGT_1B_DIMS, params: VGGT_1B_PARAMS, flags: allSet(), width: 518, height: 350, preprocess: "crop", hostMemoryBytes: 64 * 2 ** 30, throughput: { gflops: DEFAULT_GFLOPS, basis: "" }, cap: 16 });
    expect(fit).toBeGreaterThan(2);
    expect(fit).toBeLessThan(16);
    expect(scan.images).toHaveLength(fit);
    expect(scan.images[0]).toMatchObject({ name: "walk.mp4/frame_0001.jpg", format: "jpeg", width: 518, height: 350 });
    expect(scan.images.every((i) => i.path.startsWith(join(dataDir, "videos")))).toBe(true);
    expect(scan.videos).toEqual([{ path: video, name: "walk.mp4", width: 518, height: 350, durationSeconds: 2, videoFrames: 16, frames: fit, rate: fit / 2 }]);
    expect(scan.notes?.[0]).toMatch(new RegExp(`walk\\.mp4: ${fit} of its 16 frames \\(${(fit / 2).toFixed(2)} per second\\), the most one run holds on this machine`));
    const progress = events.filter((e) => e.type === "video-progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual({ type: "video-progress", progress: { name: "walk.mp4", framesDone: fit, framesExpected: fit } });
  });

  it("resamples by count or by rate", async () => {
    expect((await wb.scanPaths([video], { video: { frames: 5 } })).images).toHaveLength(5);
    const byRate = await wb.scanPaths([video], { video: { fps: 2 } });
    expect(byRate.images).toHaveLength(4);
    expect(byRate.videos?.[0].rate).toBe(2);
  });

  it("a bad video is rejected with its reason; images next to it still scan", async () => {
    const bad = join(root, "notes.mov");
    writeFileSync(bad, "not a video");
    const scan = await wb.scanPaths([bad, join(resolve(__dirname, "../../../assets/sample"), "view-1.png")]);
    expect(scan.images.map((i) => i.name)).toEqual(["view-1.png"]);
    expect(scan.rejected).toEqual([{ path: bad, name: "notes.mov", reason: expect.stringMatching(/^not a readable video \(/) }]);
    expect(existsSync(join(dataDir, "videos"))).toBe(true);
  });
});

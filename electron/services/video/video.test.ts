// Video input against the real ffmpeg: small videos made here from the bundled sample images, and
// hostile files (truncated, text named .mp4, audio only).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { inspectImageFile } from "../runs/scan.js";
import { extractFrames, isVideoPath, probeVideo, samplePlan, VideoProblem } from "./video.js";

const sample = resolve(__dirname, "../../../assets/sample");
const dir = mkdtempSync(join(tmpdir(), "vggt-video-test-"));
const ff = (args: string[]) => execFileSync("ffmpeg", ["-v", "error", "-y", ...args], { stdio: ["ignore", "ignore", "pipe"] });

/** 4 sample views at 2 per second, resampled to 8 fps: 16 frames, 2 s, 518 x 350. */
function makeVideo(file: string, codec: string[]): string {
  const out = join(dir, file);
  ff(["-framerate", "2", "-pattern_type", "glob", "-i", join(sample, "view-*.png"), "-vf", "fps=8", ...codec, out]);
  return out;
}

let mp4: string;
beforeAll(() => {
  mp4 = makeVideo("walk.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const leftovers = (parent: string) => readdirSync(parent).filter((f) => f.includes(".decoding-"));

describe("video input", () => {
  it("recognises the video extensions, case-insensitively", () => {
    expect(["a.mp4", "b.MOV", "c.webm", "d.mkv", "e.m4v"].every(isVideoPath)).toBe(true);
    expect(["a.png", "b.jpg", "mp4", "c.mp4.txt"].some(isVideoPath)).toBe(false);
  });

  it("probes size, duration and frame count of an mp4", async () => {
    const info = await probeVideo(mp4);
    expect(info).toMatchObject({ width: 518, height: 350, frameCount: 16, codec: "h264" });
    expect(info.durationSeconds).toBeCloseTo(2, 3);
    expect(info.fps).toBeCloseTo(8, 6);
  });

  it("plans a count or a rate, and every frame when asked for more than there are", () => {
    const info = { width: 518, height: 350, durationSeconds: 2, frameCount: 16, fps: 8, codec: "h264" };
    expect(samplePlan(info, { frames: 5 }, 3)).toEqual({ frames: 5, rate: 2.5 });
    expect(samplePlan(info, {}, 3)).toEqual({ frames: 3, rate: 1.5 });
    expect(samplePlan(info, { fps: 2 }, 3)).toEqual({ frames: 4, rate: 2 });
    expect(samplePlan(info, { frames: 40 }, 3)).toEqual({ frames: 16, rate: null });
    expect(samplePlan(info, { fps: 30 }, 3)).toEqual({ frames: 16, rate: null });
    expect(() => samplePlan(info, { fps: 2, frames: 3 }, 3)).toThrow(/not both/);
    expect(() => samplePlan(info, { frames: 0 }, 3)).toThrow(/positive integer/);
    expect(() => samplePlan(info, { fps: -1 }, 3)).toThrow(/positive number/);
  });

  it("samples a count of frames as complete JPEG images, with progress up to 1", async () => {
    const out = join(dir, "count");
    const progress: number[] = [];
    const r = await extractFrames(mp4, out, { choice: { frames: 5 }, defaultFrames: 2, onProgress: (f) => progress.push(f) });
    expect(r.frames.map((f) => f.slice(out.length + 1))).toEqual(["frame_0001.jpg", "frame_0002.jpg", "frame_0003.jpg", "frame_0004.jpg", "frame_0005.jpg"]);
    expect(r.rate).toBeCloseTo(2.5, 9);
    for (const f of r.frames) expect(await inspectImageFile(f)).toMatchObject({ format: "jpeg", width: 518, height: 350 });
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((p, i) => p >= 0 && p <= 1 && (i === 0 || p >= progress[i - 1]))).toBe(true);
    expect(leftovers(dir)).toEqual([]);
  });

  it("samples at a rate, and uses the default count when none is chosen", async () => {
    const byRate = await extractFrames(mp4, join(dir, "rate"), { choice: { fps: 2 }, defaultFrames: 9 });
    expect(byRate.frames).toHaveLength(4);
    const byDefault = await extractFrames(mp4, join(dir, "default"), { defaultFrames: 3 });
    expect(byDefault.frames).toHaveLength(3);
  });

  it("samples frames whose content follows the video's time (first and last views differ)", async () => {
    const r = await extractFrames(mp4, join(dir, "content"), { choice: { frames: 4 }, defaultFrames: 4 });
    const bytes = r.frames.map((f) => readFileSync(f));
    expect(Buffer.compare(bytes[0], bytes[3])).not.toBe(0);
  });

  it.each([
    ["webm (VP8)", "walk.webm", ["-c:v", "libvpx", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8"]],
    ["mkv (MPEG-4)", "walk.mkv", ["-c:v", "mpeg4"]],
    ["mov (MJPEG)", "walk.mov", ["-c:v", "mjpeg"]],
  ])("reads %s", async (_label, file, codec) => {
    const v = makeVideo(file, codec);
    const info = await probeVideo(v);
    expect(info).toMatchObject({ width: 518, height: 350 });
    expect(info.frameCount).toBe(16);
    const r = await extractFrames(v, join(dir, `${file}-frames`), { choice: { frames: 4 }, defaultFrames: 4 });
    expect(r.frames).toHaveLength(4);
  });

  describe("hostile files: a clear error naming the file, and nothing written", () => {
    const expectRefused = async (file: string, pattern: RegExp) => {
      const out = join(dir, "kept");
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, "earlier.jpg"), "earlier result");
      const err = await extractFrames(file, out, { defaultFrames: 4 }).catch((e) => e);
      expect(err).toBeInstanceOf(VideoProblem);
      expect(err.message.startsWith(`${file.split("/").pop()}: `)).toBe(true);
      expect(err.message).toMatch(pattern);
      expect(readdirSync(out)).toEqual(["earlier.jpg"]);
      expect(leftovers(dir)).toEqual([]);
    };

    it("a truncated mp4", async () => {
      const whole = readFileSync(mp4);
      const cut = join(dir, "cut.mp4");
      writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
      await expectRefused(cut, /truncated|damaged/);
    });

    it("an mp4 cut before its index (moov atom at the end)", async () => {
      const late = makeVideo("late.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]);
      const cut = join(dir, "cut-late.mp4");
      writeFileSync(cut, readFileSync(late).subarray(0, 20000));
      await expectRefused(cut, /not a readable video/);
    });

    it("a text file named .mp4", async () => {
      const t = join(dir, "notes.mp4");
      writeFileSync(t, "this is not a video\n".repeat(20));
      await expectRefused(t, /not a readable video/);
    });

    it("an audio-only file", async () => {
      const a = join(dir, "sound.mp4");
      ff(["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", a]);
      await expectRefused(a, /no video stream \(audio only/);
    });

    it("a file whose only stream is subtitles", async () => {
      const srt = join(dir, "words.srt");
      writeFileSync(srt, "1\n00:00:00,000 --> 00:00:01,000\nhello\n");
      const subs = join(dir, "words.mkv");
      ff(["-i", srt, subs]);
      await expectRefused(subs, /no video stream/);
    });

    it("an empty file and a missing file", async () => {
      const e = join(dir, "empty.webm");
      writeFileSync(e, "");
      await expectRefused(e, /empty file/);
      await expectRefused(join(dir, "missing.mkv"), /file not found/);
    });

    it("more frames than the limit, or more bytes than the cap, refused before decoding", async () => {
      const out = join(dir, "limited");
      await expect(extractFrames(mp4, out, { choice: { frames: 10 }, defaultFrames: 2, maxFrames: 8 })).rejects.toThrow(/walk\.mp4: sampling gives 10 frames, more than the limit of 8/);
      await expect(extractFrames(mp4, out, { choice: { frames: 10 }, defaultFrames: 2, maxBytes: 2 ** 20 })).rejects.toThrow(/walk\.mp4: 10 frames of 518 x 350 could take .* more than the limit/);
      expect(existsSync(out)).toBe(false);
      expect(leftovers(dir)).toEqual([]);
    });

    it("a decoder that runs past the time limit is stopped", async () => {
      const out = join(dir, "slow");
      await expect(extractFrames(mp4, out, { defaultFrames: 4, timeoutMs: 1 })).rejects.toThrow(/walk\.mp4: .*(too long|longer than)/);
      expect(existsSync(out)).toBe(false);
    });

    it("a missing ffmpeg is named as such", async () => {
      await expect(probeVideo(mp4, { ffprobe: join(dir, "no-such-ffprobe") })).rejects.toThrow(/is not installed .*ffmpeg/);
    });
  });
});

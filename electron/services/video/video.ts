// Video input: frames sampled from a video file become the run's frame images. Decoding is done by
// the system's ffmpeg/ffprobe (Debian's package, installed by scripts/setup.sh): one maintained
// decoder for every container and codec users drop (mp4, mov, webm, mkv), no codec code of ours,
// and usable from the CLI and the services alike (the renderer's media stack exists only in the
// app and cannot seek frame-exactly). Both tools are spawned with argument arrays (no shell),
// under a time limit; what they would write is bounded before they start and watched while they run.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync, statSync, mkdirSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";

import { checkImageSize, ImageProblem, inspectImageFile } from "../runs/scan.js";

export const VIDEO_EXTENSIONS = [".mp4", ".mov", ".m4v", ".webm", ".mkv"];

export function isVideoPath(path: string): boolean {
  return VIDEO_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** A video that cannot be used; the message starts with the file's name. */
export class VideoProblem extends Error {}

export interface VideoInfo {
  width: number;
  height: number;
  durationSeconds: number;
  /** Frames in the stream (the container's count, or duration x rate where it has none). */
  frameCount: number;
  fps: number;
  codec: string;
}

/** How frames are sampled: a rate (frames per second of video) or a count spread evenly. */
export interface SampleChoice {
  fps?: number;
  frames?: number;
}

export interface ToolOptions {
  ffmpeg?: string;
  ffprobe?: string;
  /** Wall-clock limit per tool run (default 10 minutes for decoding, 30 s for probing). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The largest number of frames one video gives (far above what one run holds; a typo guard). */
export const MAX_VIDEO_FRAMES = 2000;
/** What the decoded frames may take on disk together. */
export const MAX_FRAMES_BYTES = 8 * 2 ** 30;
/** Largest video file accepted (also the web-mode upload limit for videos). */
export const MAX_VIDEO_BYTES = 4 * 2 ** 30;

interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a tool without a shell; keeps the last few KiB of its output; kills it on time-out/abort. */
function runTool(bin: string, args: string[], opts: { timeoutMs: number; signal?: AbortSignal; onStdout?: (chunk: string) => void; check?: () => string | null }): Promise<ToolResult> {
  return new Promise((ok, fail) => {
    const p = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let killedWhy: string | null = null;
    const kill = () => p.kill("SIGKILL");
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    const onAbort = () => kill();
    opts.signal?.addEventListener("abort", onAbort);
    p.stdout.on("data", (d: Buffer) => {
      const s = d.toString();
      stdout = (stdout + s).slice(-65536);
      opts.onStdout?.(s);
      const why = opts.check?.();
      if (why && !killedWhy) {
        killedWhy = why;
        kill();
      }
    });
    p.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4096);
    });
    p.on("error", (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      fail((e as NodeJS.ErrnoException).code === "ENOENT" ? new Error(`${bin} is not installed (video input needs ffmpeg: run scripts/setup.sh or apt-get install ffmpeg)`) : e);
    });
    p.on("close", (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (killedWhy) return fail(new VideoProblem(killedWhy));
      ok({ code, stdout, stderr, timedOut });
    });
  });
}

/** ffmpeg's last error line, without its "[demuxer @ 0x...]" prefix and the file path. */
function lastError(stderr: string, path: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.replace(/^\[[^\]]*\]\s*/, "").trim())
    .filter(Boolean);
  const line = lines.pop() ?? "no details";
  return line.split(`${path}: `).join("").slice(0, 300);
}

const rate = (s: unknown): number => {
  if (typeof s !== "string") return NaN;
  const [n, d] = s.split("/").map(Number);
  return d ? n / d : n;
};

/** Stream facts from ffprobe; a clear error for files that are not video or hold no video stream. */
export async function probeVideo(path: string, opts: ToolOptions = {}): Promise<VideoInfo> {
  const name = basename(path);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new VideoProblem(`${name}: file not found`);
  }
  if (!st.isFile()) throw new VideoProblem(`${name}: not a regular file`);
  if (st.size === 0) throw new VideoProblem(`${name}: empty file`);
  if (st.size > MAX_VIDEO_BYTES) throw new VideoProblem(`${name}: file too large (${(st.size / 2 ** 30).toFixed(1)} GiB, at most ${MAX_VIDEO_BYTES / 2 ** 30} GiB)`);
  const r = await runTool(
    opts.ffprobe ?? "ffprobe",
    ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", "-select_streams", "v:0", "--", path],
    { timeoutMs: opts.timeoutMs ?? 30_000, signal: opts.signal },
  );
  if (r.timedOut) throw new VideoProblem(`${name}: reading the video's header took too long`);
  if (opts.signal?.aborted) throw new VideoProblem(`${name}: cancelled`);
  if (r.code !== 0) throw new VideoProblem(`${name}: not a readable video (${lastError(r.stderr, path)})`);
  let j: { streams?: any[]; format?: any };
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw new VideoProblem(`${name}: not a readable video (ffprobe gave no stream list)`);
  }
  const s = j.streams?.[0];
  if (!s) throw new VideoProblem(`${name}: no video stream (${j.format?.nb_streams ? "audio only or data only" : "no streams at all"})`);
  if (s.disposition?.attached_pic) throw new VideoProblem(`${name}: no video stream (only a cover picture)`);
  const width = Number(s.width);
  const height = Number(s.height);
  try {
    checkImageSize(width, height);
  } catch (e) {
    throw new VideoProblem(`${name}: video frames are ${width} x ${height}: ${(e as ImageProblem).message.replace(/^image is [^:]*: /, "")}`);
  }
  const fps = [rate(s.avg_frame_rate), rate(s.r_frame_rate)].find((x) => Number.isFinite(x) && x > 0 && x < 1000) ?? NaN;
  const duration = [Number(s.duration), Number(j.format?.duration)].find((x) => Number.isFinite(x) && x > 0) ?? NaN;
  let frameCount = Number(s.nb_frames);
  if (!(Number.isInteger(frameCount) && frameCount > 0)) frameCount = Number.isFinite(fps * duration) ? Math.round(fps * duration) : NaN;
  if (!(frameCount > 0) || !(duration > 0)) throw new VideoProblem(`${name}: the video stream has no frames or no duration`);
  return { width, height, durationSeconds: duration, frameCount, fps: Number.isFinite(fps) ? fps : frameCount / duration, codec: String(s.codec_name ?? "?") };
}

/** How many frames a choice gives, and the output rate that gives them (null: every frame). */
export function samplePlan(info: VideoInfo, choice: SampleChoice, defaultFrames: number): { frames: number; rate: number | null } {
  if (choice.fps !== undefined && choice.frames !== undefined) throw new VideoProblem("choose a sampling rate or a frame count, not both");
  if (choice.fps !== undefined) {
    if (!(Number.isFinite(choice.fps) && choice.fps > 0)) throw new VideoProblem(`the sampling rate must be a positive number of frames per second, got ${choice.fps}`);
    if (choice.fps >= info.fps) return { frames: info.frameCount, rate: null };
    return { frames: Math.max(1, Math.round(info.durationSeconds * choice.fps)), rate: choice.fps };
  }
  const n = choice.frames ?? defaultFrames;
  if (!(Number.isInteger(n) && n >= 1)) throw new VideoProblem(`the frame count must be a positive integer, got ${n}`);
  if (n >= info.frameCount) return { frames: info.frameCount, rate: null };
  return { frames: n, rate: n / info.durationSeconds };
}

export interface ExtractOptions extends ToolOptions {
  choice?: SampleChoice;
  /** Frame count when the choice names none (the caller's estimate of what fits the machine). */
  defaultFrames: number;
  maxFrames?: number;
  maxBytes?: number;
  /** 0..1 as frames come out of the decoder. */
  onProgress?: (fraction: number, framesDone: number, framesExpected: number) => void;
}

export interface ExtractResult {
  info: VideoInfo;
  /** Frame image paths in time order (inside outDir). */
  frames: string[];
  /** The rate the frames were sampled at (frames per second of video). */
  rate: number;
}

function dirBytes(dir: string): number {
  let n = 0;
  try {
    for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  } catch {
    // the folder is being written; the next look counts again
  }
  return n;
}

/**
 * Samples frames of `path` into `outDir` as JPEG images (frame_0001.jpg, ...). The frame count and
 * size are checked before anything is written; the frames are decoded into a temporary sibling
 * folder and checked again (count, each image complete) before that folder is renamed to
 * `outDir`, so a failure leaves `outDir` as it was.
 */
export async function extractFrames(path: string, outDir: string, opts: ExtractOptions): Promise<ExtractResult> {
  const name = basename(path);
  const info = await probeVideo(path, opts);
  const plan = samplePlan(info, opts.choice ?? {}, opts.defaultFrames);
  const maxFrames = opts.maxFrames ?? MAX_VIDEO_FRAMES;
  if (plan.frames > maxFrames) throw new VideoProblem(`${name}: sampling gives ${plan.frames} frames, more than the limit of ${maxFrames}: choose a lower rate or a count`);
  // JPEG frames stay below 3 bytes per pixel (plus headers) at any quality.
  const perFrame = info.width * info.height * 3 + 65536;
  const maxBytes = opts.maxBytes ?? MAX_FRAMES_BYTES;
  if (!Number.isSafeInteger(perFrame * plan.frames) || perFrame * plan.frames > maxBytes)
    throw new VideoProblem(`${name}: ${plan.frames} frames of ${info.width} x ${info.height} could take ${((perFrame * plan.frames) / 2 ** 30).toFixed(1)} GiB, more than the limit of ${(maxBytes / 2 ** 30).toFixed(1)} GiB`);

  const tmp = join(dirname(outDir), `.${basename(outDir)}.decoding-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const args = ["-v", "error", "-nostdin", "-xerror", "-i", path, "-map", "0:v:0", "-an", "-sn", "-dn"];
    if (plan.rate !== null) args.push("-vf", `fps=${plan.rate}`);
    args.push("-frames:v", String(plan.frames), "-pix_fmt", "yuvj420p", "-q:v", "2", "-progress", "pipe:1", "-nostats", "-f", "image2", join(tmp, "frame_%04d.jpg"));
    let done = 0;
    let lastCheck = 0;
    const r = await runTool(opts.ffmpeg ?? "ffmpeg", args, {
      timeoutMs: opts.timeoutMs ?? 600_000,
      signal: opts.signal,
      onStdout: (s) => {
        for (const m of s.matchAll(/^frame=(\d+)$/gm)) done = Number(m[1]);
        opts.onProgress?.(Math.min(1, done / plan.frames), done, plan.frames);
      },
      check: () => {
        if (done > plan.frames + 1) return `${name}: the decoder gave more frames than planned (${done} > ${plan.frames})`;
        const now = Date.now();
        if (now - lastCheck < 200) return null;
        lastCheck = now;
        const used = dirBytes(tmp);
        return used > maxBytes ? `${name}: decoded frames exceed ${(maxBytes / 2 ** 30).toFixed(1)} GiB` : null;
      },
    });
    if (opts.signal?.aborted) throw new VideoProblem(`${name}: cancelled`);
    if (r.timedOut) throw new VideoProblem(`${name}: decoding took longer than ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s`);
    if (r.code !== 0) throw new VideoProblem(`${name}: the video is damaged or truncated (${lastError(r.stderr, path)})`);
    const files = readdirSync(tmp)
      .filter((f) => /^frame_\d+\.jpg$/.test(f))
      .sort();
    // A truncated file may decode without an error but end early.
    if (files.length < Math.max(1, plan.frames - 1))
      throw new VideoProblem(`${name}: the video is truncated or damaged: decoded ${files.length} of ${plan.frames} frames`);
    for (const f of files) {
      const e = await inspectImageFile(join(tmp, f));
      if ("reason" in e) throw new VideoProblem(`${name}: decoded frame ${f} is unusable (${e.reason})`);
    }
    if (existsSync(outDir)) rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
    opts.onProgress?.(1, files.length, plan.frames);
    return { info, frames: files.map((f) => join(outDir, f)), rate: plan.rate ?? info.fps };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

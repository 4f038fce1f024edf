// `vggt-workbench reconstruct video.mp4`: the video's sampled frames become the images folder.
// Without --fps/--frames the count is the most frames one run holds on this machine (memory and
// a 10-minute time budget by the rates the perf lab measured here; runs/estimate.ts).
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { join } from "node:path";

import { memoryLimitFromEnv, defaultDataDir } from "../runs/app-services.js";
import { dimsFromConfig, framesThatFit, VGGT_1B_DIMS, VGGT_1B_PARAMS, type ModelDims } from "../runs/estimate.js";
import { benchRatesIn, pickRate } from "../runs/plan.js";
import { countParams } from "../runs/workbench.js";
import { allSet, setFromNames } from "../../../common/option-catalog.js";
import { extractFrames, probeVideo, type SampleChoice } from "../video/video.js";
import { UsageError } from "./registry.js";

/** The option set a --options value names ('all' and names, comma-separated). */
function flagsOf(list: string): Record<string, boolean> {
  const names = list.split(",").map((s) => s.trim()).filter(Boolean);
  const set = names.includes("all") ? allSet() : setFromNames([]);
  for (const n of names) if (n !== "all") set[n.split("=")[0]] = true;
  return set;
}

export interface VideoFrames {
  dir: string;
  images: string[];
}

export async function framesFromVideo(
  video: string,
  outDir: string,
  v: { fps?: string; frames?: string; options: string; weights?: string; config?: string; preprocess?: string },
  io: { stderr(s: string): void },
): Promise<VideoFrames> {
  const choice: SampleChoice = {};
  if (v.fps !== undefined) {
    const r = Number(v.fps);
    if (!(Number.isFinite(r) && r > 0)) throw new UsageError(`--fps expects a positive number, got '${v.fps}'`);
    choice.fps = r;
  }
  if (v.frames !== undefined) {
    const n = Number(v.frames);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--frames expects a positive integer, got '${v.frames}'`);
    choice.frames = n;
  }
  if (choice.fps !== undefined && choice.frames !== undefined) throw new UsageError("give --fps or --frames, not both");
  const info = await probeVideo(video);
  let defaultFrames = info.frameCount;
  if (choice.fps === undefined && choice.frames === undefined) {
    let dims: ModelDims = VGGT_1B_DIMS;
    if (v.config) dims = dimsFromConfig(JSON.parse(readFileSync(v.config, "utf8")));
    const params = (v.weights?.endsWith(".safetensors") ? countParams(v.weights) : null) ?? VGGT_1B_PARAMS;
    const flags = flagsOf(v.options);
    const memory = memoryLimitFromEnv() ?? totalmem();
    const throughput = pickRate(benchRatesIn(defaultDataDir(), dims), flags);
    defaultFrames = framesThatFit({ dims, params, flags, width: info.width, height: info.height, preprocess: v.preprocess === "pad" ? "pad" : "crop", hostMemoryBytes: memory, throughput, cap: info.frameCount });
    io.stderr(`Sampling ${defaultFrames} frames: the most one run holds on this machine (${(memory / 2 ** 30).toFixed(0)} GiB, ~10 min at ${throughput.basis}); --frames N or --fps R to choose\n`);
  }
  const dir = join(outDir, "frames");
  let shown = -1;
  const r = await extractFrames(video, dir, {
    choice,
    defaultFrames,
    onProgress: (_f, done, expected) => {
      const pct = Math.floor((100 * done) / Math.max(1, expected));
      if (pct >= shown + 10 || done === expected) {
        shown = pct;
        io.stderr(`  decoding: ${done}/${expected} frames\n`);
      }
    },
  });
  io.stderr(`${r.frames.length} frames of ${info.width}x${info.height} from ${info.durationSeconds.toFixed(1)} s of video (${r.rate.toFixed(2)} per second) in ${dir}\n`);
  return { dir, images: r.frames };
}

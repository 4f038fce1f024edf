// Planning a run before it starts: expected time and peak memory for the chosen frames and
// settings, from the engine's rates measured on this machine (the performance lab's benchmarks and
// earlier runs), checked against the machine's memory; and, when it does not fit, the settings
// that do (int8 weights, the many-frame attention toggles, chunked reconstruction), for one click.

import type { BenchJson } from "../../ipc/perf-types.js";
import { readFinishedBenchmarks } from "../perf/index.js";
import {
  DEFAULT_GFLOPS,
  LONG_RUN_SECONDS,
  MEMORY_SHARE,
  preprocessedSize,
  processPeakBytes,
  runFlops,
  type ModelDims,
  type Throughput,
  type WeightFlags,
} from "./estimate.js";
import type { PreprocessMode } from "../../ipc/types.js";

export type Flags = Record<string, boolean>;

export interface ChunkSetting {
  size: number;
  overlap: number;
}

/** Engine throughput for a set of switches, from one measurement (a bench row or a run). */
export interface RateSample {
  /** GFLOP/s by the estimate's FLOP count. */
  gflops: number;
  flags: Flags;
  at: string;
  source: string;
}

/** The switches that change the engine's speed most (the rest are small or exact re-layouts). */
const SPEED_SWITCHES = ["w8a8", "bf16", "flash-attn", "prepack"];

/** Rates from the perf lab's benchmark results: one per row (its options and median time). */
export function ratesFromBench(json: BenchJson, at: string, dims: ModelDims): RateSample[] {
  if (!(json.frames > 0 && json.width > 0 && json.height > 0)) return [];
  const flops = runFlops(dims, json.frames, json.width, json.height);
  return json.rows
    .filter((r) => r.median_ms > 0 && !Object.keys(r.options).some((k) => k.startsWith("global-") && r.options[k]))
    .map((r) => ({ gflops: flops / 1e9 / (r.median_ms / 1000), flags: r.options, at, source: `benchmark of ${at.slice(0, 16).replace("T", " ")} ('${r.name}', ${json.frames} frames)` }));
}

/**
 * Rates from the perf lab's benchmark history in `dataDir` (read only: the CLI reads the app's
 * history without taking it over): the newest `limit` finished single-process benchmarks.
 */
export function benchRatesIn(dataDir: string, dims: ModelDims, limit = 20): RateSample[] {
  const rates: RateSample[] = [];
  for (const r of readFinishedBenchmarks(dataDir, limit)) {
    try {
      rates.push(...ratesFromBench(r.result!, String(r.createdAt), dims));
    } catch {
      // a result this planner cannot read: no rate from it
    }
  }
  return rates;
}

/**
 * The measured rate closest to these switches: the samples agreeing on the most speed switches
 * (w8a8 first), newest first among them. Nothing measured: a conservative default.
 */
export function pickRate(samples: RateSample[], flags: Flags): Throughput {
  let best: RateSample | null = null;
  let bestScore = -1;
  for (const s of samples) {
    let score = 0;
    SPEED_SWITCHES.forEach((k, i) => {
      if (!!s.flags[k] === !!flags[k]) score += 2 ** (SPEED_SWITCHES.length - i);
    });
    if (score > bestScore || (score === bestScore && best && s.at > best.at)) {
      best = s;
      bestScore = score;
    }
  }
  if (!best) return { gflops: DEFAULT_GFLOPS, basis: `default throughput of ${DEFAULT_GFLOPS} GFLOP/s (nothing measured on this machine yet)` };
  return { gflops: best.gflops, basis: `measured: ${best.source}, ${best.gflops.toFixed(0)} GFLOP/s` };
}

/**
 * Work of the global-attention layers relative to dense, with the many-frame toggles at their
 * default parameters (catalog.ts): early-frame k=8 makes layers 0-7 frame-local; kv-subsample
 * stride 4 over layers 8-21 keeps 1/16 of the other frames' patches; block-sparse keeps 1/4 of
 * the key tiles in the layers left dense.
 */
export function globalAttentionKeys(flags: Flags, depth: number, frames: number, perFrame: number): number {
  let keys = 0;
  for (let l = 0; l < depth; l++) {
    if (flags["global-early-frame"] && l < 8) keys += perFrame;
    else if (flags["global-kv-subsample"] && l >= 8 && l <= 21) keys += perFrame + (frames - 1) * (perFrame / 16 + 1);
    else keys += frames * perFrame * (flags["global-block-sparse"] ? 0.25 : 1);
  }
  return keys / depth;
}

/** FLOPs of one pass with the toggles' effect on global attention. */
export function passFlops(dims: ModelDims, flags: Flags, frames: number, width: number, height: number): number {
  const dense = runFlops(dims, frames, width, height);
  const perFrame = (width / dims.patchSize) * (height / dims.patchSize) + 1 + dims.registerTokens;
  const tokens = frames * perFrame;
  const attnDense = dims.depth * tokens * 4 * dims.embedDim * tokens;
  const attnNow = dims.depth * tokens * 4 * dims.embedDim * globalAttentionKeys(flags, dims.depth, frames, perFrame);
  return dense - attnDense + attnNow;
}

/** How many passes a chunked run makes: chunks of `size` frames sharing `overlap` with the previous one. */
export function chunkCount(frames: number, chunk: ChunkSetting | undefined): number {
  if (!chunk || chunk.size >= frames) return 1;
  return 1 + Math.ceil((frames - chunk.size) / (chunk.size - chunk.overlap));
}

export interface PlanInput {
  frames: number;
  /** Largest original frame size. */
  width: number;
  height: number;
  preprocess: PreprocessMode;
  flags: Flags;
  chunk?: ChunkSetting;
}

export interface PlanContext {
  dims: ModelDims;
  params: number;
  rates: RateSample[];
  /** What the machine has (os.totalmem, or a test's limit). */
  totalMemoryBytes: number;
  /** What is free now (os.freemem + reclaimable), when known. */
  freeMemoryBytes?: number;
}

export interface PlanFigures {
  seconds: number;
  peakBytes: number;
  passes: number;
  framesPerPass: number;
  basis: string;
}

export interface FitSuggestion {
  /** Switches to turn on (the rest stay as chosen). */
  flags: Flags;
  chunk?: ChunkSetting;
  /** The plan with these settings. */
  figures: PlanFigures;
  /** What changes, in words, for the button and its tooltip. */
  summary: string;
}

export interface RunPlan extends PlanFigures {
  /** The memory a run may use here: MEMORY_SHARE of the machine's memory. */
  memoryLimitBytes: number;
  fitsMemory: boolean;
  fitsTime: boolean;
  warnings: string[];
  suggestion: FitSuggestion | null;
}

const weightFlags = (f: Flags): WeightFlags => ({ bf16: !!f.bf16, w8a8: !!f.w8a8, prepack: !!f.prepack });
const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

export function planFigures(input: PlanInput, ctx: PlanContext, flags = input.flags, chunk = input.chunk): PlanFigures {
  const p = preprocessedSize(input.width, input.height, input.preprocess, ctx.dims.imgSize, ctx.dims.patchSize);
  const passes = chunkCount(input.frames, chunk);
  const framesPerPass = passes > 1 ? chunk!.size : input.frames;
  const rate = pickRate(ctx.rates, flags);
  // Every pass but the last is full; the last holds what is left plus the overlap.
  const lastFrames = passes > 1 ? input.frames - (passes - 1) * (chunk!.size - chunk!.overlap) : input.frames;
  const flops = (passes - 1) * passFlops(ctx.dims, flags, framesPerPass, p.width, p.height) + passFlops(ctx.dims, flags, Math.max(1, lastFrames), p.width, p.height);
  return {
    seconds: flops / (rate.gflops * 1e9),
    peakBytes: processPeakBytes(ctx.dims, ctx.params, weightFlags(flags), framesPerPass, p.width, p.height),
    passes,
    framesPerPass,
    basis: rate.basis,
  };
}

/** The largest chunk (at least 4 frames, overlap a fifth of it, at least 2) whose pass fits in `limit`. */
export function largestChunk(input: PlanInput, ctx: PlanContext, flags: Flags, limit: number): ChunkSetting | null {
  const p = preprocessedSize(input.width, input.height, input.preprocess, ctx.dims.imgSize, ctx.dims.patchSize);
  let best = 0;
  for (let k = 4; k < input.frames; k++) {
    if (processPeakBytes(ctx.dims, ctx.params, weightFlags(flags), k, p.width, p.height) > limit) break;
    best = k;
  }
  if (!best) return null;
  return { size: best, overlap: Math.max(2, Math.round(best / 5)) };
}

/**
 * Time and memory of a run as chosen, and, when it does not fit, the least lossy settings that do:
 * first int8 weights (w8a8, if not on), then chunking at the largest chunk that fits (memory); the
 * many-frame toggles when the run is long (time; they change global attention's results).
 */
export function planRun(input: PlanInput, ctx: PlanContext): RunPlan {
  const limit = MEMORY_SHARE * ctx.totalMemoryBytes;
  const figures = planFigures(input, ctx);
  const fitsMemory = figures.peakBytes <= limit;
  const fitsTime = figures.seconds <= LONG_RUN_SECONDS;
  const warnings: string[] = [];
  if (!fitsMemory)
    warnings.push(`needs about ${gib(figures.peakBytes)} of memory, more than ${Math.round(MEMORY_SHARE * 100)}% of this machine's ${gib(ctx.totalMemoryBytes)}`);
  else if (ctx.freeMemoryBytes !== undefined && figures.peakBytes > ctx.freeMemoryBytes)
    warnings.push(`needs about ${gib(figures.peakBytes)}, more than the ${gib(ctx.freeMemoryBytes)} free now: close other programs or the run may swap`);
  if (!fitsTime) warnings.push(`expected to take about ${Math.round(figures.seconds / 60)} minutes`);
  if (fitsMemory && fitsTime) return { ...figures, memoryLimitBytes: limit, fitsMemory, fitsTime, warnings, suggestion: null };

  const flags: Flags = { ...input.flags };
  const changes: string[] = [];
  let chunk = input.chunk;
  if (!fitsMemory && !flags.w8a8) {
    flags.w8a8 = true;
    changes.push("int8 weights (w8a8)");
  }
  if (planFigures(input, ctx, flags, chunk).peakBytes > limit) {
    const c = largestChunk(input, ctx, flags, limit);
    if (c) {
      chunk = c;
      changes.push(`chunks of ${c.size} frames overlapping by ${c.overlap}`);
    }
  }
  if (planFigures(input, ctx, flags, chunk).seconds > LONG_RUN_SECONDS) {
    for (const t of ["global-early-frame", "global-kv-subsample", "global-block-sparse"])
      if (!flags[t]) {
        flags[t] = true;
        changes.push(t);
      }
  }
  const after = planFigures(input, ctx, flags, chunk);
  if (after.peakBytes > limit) warnings.push(`even chunked, one pass needs ${gib(after.peakBytes)}: use fewer or smaller frames`);
  const suggestion: FitSuggestion | null = changes.length
    ? {
        flags: Object.fromEntries(Object.entries(flags).filter(([k, v]) => v && !input.flags[k])),
        ...(chunk && chunk !== input.chunk ? { chunk } : {}),
        figures: after,
        summary: changes.join(", "),
      }
    : null;
  return { ...figures, memoryLimitBytes: limit, fitsMemory, fitsTime, warnings, suggestion };
}

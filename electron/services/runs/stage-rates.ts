// Per-stage rates measured on this machine: each finished run (and each benchmark row) tells how many
// seconds a stage took per unit of its work (load: per GB of weights; encoder, aggregator, heads:
// per GFLOP, which grows with frames² in the aggregator's global attention; input/output: per frame
// megapixel). The rates are smoothed (geometric mean with the earlier value, a new measurement moving
// a rate by at most RATE_STEP), so one disturbed run shifts predictions a little, never wildly.
import { stageWeights } from "./progress.js";
import { runFlops, type ModelDims } from "./estimate.js";

/** The most one measurement changes a stored rate (either way). */
export const RATE_STEP = 3;
/** Weight of a new measurement in the (log-space) smoothing. */
const ALPHA = 0.5;

export interface StageRate {
  /** Seconds per unit of the stage's work. */
  secPerUnit: number;
  /** Measurements folded in. */
  n: number;
  at: string;
}

/** Per option-set key, per stage. */
export type StageRateTable = Record<string, Record<string, StageRate>>;

export interface RunShape {
  dims: ModelDims;
  frames: number;
  /** Preprocessed size (pixels) of a frame. */
  width: number;
  height: number;
  /** Bytes of the weights file loaded. */
  weightsBytes: number;
}

const COMPUTE = ["encoder", "aggregator", "camera_head", "depth_head", "point_head"];

/** Work of each engine stage for a run of this shape, in the stage's own unit. */
export function stageUnits(shape: RunShape): Record<string, number> {
  const flops = runFlops(shape.dims, shape.frames, shape.width, shape.height);
  const w = stageWeights(shape.dims, shape.frames, shape.width, shape.height);
  const computeShare = COMPUTE.reduce((a, s) => a + w[s], 0) || 1;
  const megapixelFrames = (shape.frames * shape.width * shape.height) / 1e6;
  const units: Record<string, number> = {
    load: shape.weightsBytes / 1e9,
    read_input: megapixelFrames,
    geometry: megapixelFrames,
    write_output: megapixelFrames,
  };
  for (const s of COMPUTE) units[s] = ((w[s] / computeShare) * flops) / 1e9;
  return units;
}

/** Seconds per unit when nothing was measured yet: `gflops` for compute, rough I/O figures. */
function defaultRate(stage: string, gflops: number): number {
  if (stage === "load") return 2; // 2 s per GB read and prepared
  if (stage === "read_input" || stage === "write_output" || stage === "geometry") return 0.3;
  return 1 / gflops;
}

/** Predicted seconds per stage (measured rates where there are any, defaults elsewhere). */
export function predictStages(shape: RunShape, rates: Record<string, StageRate> | undefined, defaultGflops: number): { seconds: Record<string, number>; measured: string[] } {
  const units = stageUnits(shape);
  const seconds: Record<string, number> = {};
  const measured: string[] = [];
  for (const [stage, u] of Object.entries(units)) {
    const r = rates?.[stage];
    if (r) measured.push(stage);
    seconds[stage] = u * (r ? r.secPerUnit : defaultRate(stage, defaultGflops));
  }
  return { seconds, measured };
}

/** Folds one run's stage timings into the table (returns a new table). */
export function recordStageTimings(table: StageRateTable, key: string, shape: RunShape, timings: { stage: string; ms: number }[], now = new Date()): StageRateTable {
  const units = stageUnits(shape);
  const row = { ...(table[key] ?? {}) };
  for (const t of timings) {
    const u = units[t.stage];
    if (!u || !(t.ms > 0)) continue;
    const measured = t.ms / 1000 / u;
    const prev = row[t.stage];
    let next = measured;
    if (prev) {
      const bounded = Math.min(Math.max(measured, prev.secPerUnit / RATE_STEP), prev.secPerUnit * RATE_STEP);
      next = Math.exp(ALPHA * Math.log(bounded) + (1 - ALPHA) * Math.log(prev.secPerUnit));
    }
    row[t.stage] = { secPerUnit: next, n: (prev?.n ?? 0) + 1, at: now.toISOString() };
  }
  return { ...table, [key]: row };
}

/** The key rates are kept under: the model and the switches (bf16 vs fp32 differ by 2x). */
export function rateKey(model: string, flags: Record<string, boolean> | undefined): string {
  const on = flags ? Object.keys(flags).filter((k) => flags[k]).sort().join(",") : "engine-defaults";
  return `${model}|${on || "exact"}`;
}

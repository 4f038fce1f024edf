// Overall progress and ETA of a run from the engine's per-stage progress events. Stages are
// weighted by their share of the run's compute (estimate.ts), so the bar moves at a steady rate
// instead of jumping through the cheap stages.
import { runFlops, type ModelDims } from "./estimate.js";
import { SteadyEta } from "../../../common/steady-eta.js";

export { MAX_ETA_STEP, SteadyEta } from "../../../common/steady-eta.js";

export const ENGINE_STAGES = ["load", "read_input", "encoder", "aggregator", "camera_head", "depth_head", "point_head", "geometry", "write_output"] as const;

export function stageWeights(dims: ModelDims, frames: number, width: number, height: number): Record<string, number> {
  const total = runFlops(dims, frames, width, height) || 1;
  const noHeads = runFlops({ ...dims, dptFeatures: 0, cameraIterations: 0 }, frames, width, height);
  const encoderOnly = runFlops({ ...dims, depth: 0, dptFeatures: 0, cameraIterations: 0 }, frames, width, height);
  const dpt = runFlops({ ...dims, depth: 0, encoderDepth: 0, cameraIterations: 0 }, frames, width, height);
  const camera = Math.max(0, total - noHeads - dpt);
  // Small fixed shares for I/O so they are visible but never dominate.
  const w: Record<string, number> = {
    load: 0.02,
    read_input: 0.02,
    encoder: (encoderOnly / total) * 0.9,
    aggregator: ((noHeads - encoderOnly) / total) * 0.9,
    camera_head: (camera / total) * 0.9,
    depth_head: (dpt / 2 / total) * 0.9,
    point_head: (dpt / 2 / total) * 0.9,
    geometry: 0.02,
    write_output: 0.04,
  };
  const sum = Object.values(w).reduce((a, b) => a + b, 0);
  for (const k of Object.keys(w)) w[k] /= sum;
  return w;
}

export class ProgressTracker {
  private readonly done = new Set<string>();
  private fraction = 0;

  constructor(
    private readonly weights: Record<string, number>,
    private readonly estimatedSeconds: number,
  ) {}

  /** Folds in one engine event; returns the overall fraction (monotonic, 0..1). */
  update(stage: string, step: number, total: number): number {
    const order = ENGINE_STAGES as readonly string[];
    const idx = order.indexOf(stage);
    // Stages before this one are complete even if the engine skipped their events.
    if (idx >= 0) for (let i = 0; i < idx; i++) this.done.add(order[i]);
    let f = 0;
    for (const s of this.done) f += this.weights[s] ?? 0;
    if (idx >= 0 && total > 0) f += (this.weights[stage] ?? 0) * Math.min(1, step / total);
    if (idx >= 0 && total > 0 && step >= total) this.done.add(stage);
    this.fraction = Math.max(this.fraction, Math.min(1, f));
    return this.fraction;
  }

  get current(): number {
    return this.fraction;
  }

  private readonly steady = new SteadyEta();

  /** Seconds left (see SteadyEta), from the run's overall fraction. */
  eta(elapsedSeconds: number): number | null {
    return this.steady.eta(this.fraction, elapsedSeconds, this.estimatedSeconds);
  }
}

// What the run service needs from the engine process. The implementation over the engine
// client (services/engine) lives in engine-adapter.ts; tests substitute their own.
import type { EngineState, OptionSet, PreprocessMode, StageTiming } from "../../ipc/types.js";
import type { TrackParams, TrackResult as EngineTrackResult } from "../engine/protocol.js";

export type { EngineTrackResult, TrackParams };

export type EngineModel =
  | { kind: "weights"; weights: string; config: string }
  | { kind: "random"; seed: number; config: string };

export interface EngineJob {
  model: EngineModel;
  images: string[];
  preprocess: PreprocessMode;
  output: string;
  /** Optimization switches for this job; absent: the model's load defaults. */
  flags?: OptionSet;
  /** Sequence parallelism over MPI ranks (mpirun on this machine); absent or degree 1: one process. */
  parallel?: { mode: "ulysses" | "ring"; degree: number; hostfile?: string };
  /** Keep the track head's features of this run in the engine for later `track` calls. */
  trackCache?: boolean;
}

export interface EngineProgress {
  stage: string;
  step: number;
  total: number;
  elapsedMs: number;
}

export interface EngineJobResult {
  stages: StageTiming[];
  /** The switches the engine says the job ran with. */
  flags?: OptionSet;
  /** With trackCache: the engine's id of the cached run, for `track`. */
  trackCacheRun?: string;
}

export interface EngineRunner {
  state(): EngineState;
  onState(listener: (s: EngineState) => void): () => void;
  /** Rejects with an Error whose message is for the user; an aborted signal cancels the job. */
  infer(job: EngineJob, onProgress: (p: EngineProgress) => void, signal: AbortSignal): Promise<EngineJobResult>;
  /** Tracks on the run the engine last cached (EngineJobResult.trackCacheRun); absent where the
   *  engine cannot. Rejects with the engine's message (e.g. the cache was released). */
  track?(params: TrackParams, signal?: AbortSignal): Promise<EngineTrackResult>;
  /** Frees the loaded model (and with it every cache the engine holds); the next job loads it
   *  again. Absent where the runner holds no memory of its own. */
  release?(): Promise<void>;
  dispose(): Promise<void>;
}

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
  }
}

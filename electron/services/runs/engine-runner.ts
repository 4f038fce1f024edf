// What the run service needs from the engine process. The implementation over the engine
// client (services/engine) lives in engine-adapter.ts; tests substitute their own.
import type { EngineState, PreprocessMode, StageTiming } from "../../ipc/types.js";

export type EngineModel =
  | { kind: "weights"; weights: string; config: string }
  | { kind: "random"; seed: number; config: string };

export interface EngineJob {
  model: EngineModel;
  images: string[];
  preprocess: PreprocessMode;
  output: string;
}

export interface EngineProgress {
  stage: string;
  step: number;
  total: number;
  elapsedMs: number;
}

export interface EngineJobResult {
  stages: StageTiming[];
}

export interface EngineRunner {
  state(): EngineState;
  onState(listener: (s: EngineState) => void): () => void;
  /** Rejects with an Error whose message is for the user; an aborted signal cancels the job. */
  infer(job: EngineJob, onProgress: (p: EngineProgress) => void, signal: AbortSignal): Promise<EngineJobResult>;
  dispose(): Promise<void>;
}

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
  }
}

// Data shapes of the Model panel's download (hub download, verify, convert) across IPC/HTTP.
import type { OptionSet } from "./perf-types.js";

export type ModelInstallPhase = "idle" | "download" | "paused" | "verify" | "convert" | "done" | "failed";

export interface ModelInstallState {
  phase: ModelInstallPhase;
  /** Hub repository and file being fetched (facebook/VGGT-1B, model.safetensors). */
  repo: string;
  file: string;
  /** The hub or mirror it comes from (web mode: --hub-url; else $HF_ENDPOINT or huggingface.co). */
  endpoint: string;
  /** Bytes of the current phase done and in all (null: not known yet). */
  bytes: number;
  total: number | null;
  /** Smoothed rate in bytes/s (0 until measurable). */
  speed: number;
  etaSeconds: number | null;
  /** What is happening now, in words (shown under the progress bar). */
  message: string;
  /** Why the last attempt failed (phase "failed"). */
  error?: string;
  /** Converted cache made for the chosen options ("bf16" / "int8"), null: none needed. */
  convertTarget?: "bf16" | "int8" | null;
  /** Increases with every change: a reply that arrives after a newer event is older than it. */
  seq: number;
}

export interface ModelDownloadRequest {
  /** The option set the user has chosen: decides which converted copy is made after the download. */
  engineOptions?: OptionSet;
}

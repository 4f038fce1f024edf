// Performance-lab data that crosses the main/renderer boundary: what the app asks for and the
// benchmark records kept on disk. The engine's benchmark JSON types live in common/bench-schema.ts.

import type { BenchJson, OptionSet } from "../../common/bench-schema.js";
export type { BenchAccuracy, BenchJson, BenchKind, BenchPair, BenchRow, BenchStage, OptionSet } from "../../common/bench-schema.js";

export type ParallelModeSetting = "none" | "ulysses" | "ring";

export interface ParallelSetting {
  mode: ParallelModeSetting;
  /** Ranks (sequence-parallel degree); 1 with mode "none". */
  degree: number;
  /** Open MPI hostfile for ranks on several machines (default: all ranks on this one). */
  hostfile?: string;
}

// ---- what the app asks for and keeps ----

export interface BenchRequest {
  kind: "cumulative" | "ab";
  /** ab only. */
  a?: { label: string; options: OptionSet };
  b?: { label: string; options: OptionSet };
  /** Image paths (from a scan) in frame order; empty = the engine's synthetic input. */
  images: string[];
  /** How the images are fitted to 518 px, for the timed runs and the kept outputs (default crop). */
  preprocess?: "crop" | "pad";
  /** Synthetic input only: frame count. */
  frames?: number;
  repeats: number;
  /** Untimed runs before each timed row (first-run effects: page faults, packing, caches). Default 1. */
  warmup?: number;
  /** 0 = all cores. */
  threads: number;
  randomWeights: boolean;
  parallel: ParallelSetting;
  /** A/B only: also run A and B once each to keep their point clouds (needs images). */
  keepOutputs?: boolean;
  label?: string;
}

export type BenchStatus = "running" | "done" | "failed" | "cancelled" | "interrupted";

export interface MachineDescription {
  /** From the engine's JSON when there is one, else from the OS. */
  cpu: string;
  cores: number;
  memoryBytes: number;
  hostname: string;
  platform: string;
  arch: string;
  isa?: string;
}

export interface BenchSummary {
  id: string;
  createdAt: string;
  label: string;
  kind: BenchRequest["kind"];
  status: BenchStatus;
  engineVersion: string;
  machine: MachineDescription;
  model: string;
  frames: number;
  repeats: number;
  threads: number;
  parallel: ParallelSetting;
  durationMs?: number;
  error?: string;
  /** Medians per row (ms), for lists and comparisons. */
  medians?: { name: string; ms: number }[];
}

export interface BenchRecord extends BenchSummary {
  request: BenchRequest;
  /** The engine command line that ran (argv, binary first). */
  command: string[];
  /** The engine's JSON, as parsed and validated. */
  result?: BenchJson;
  /** A/B point clouds kept next to the record ("A" / "B" -> file name), when requested. */
  outputs?: Partial<Record<"A" | "B", string>>;
  /** Tail of the engine's stderr (progress and diagnostics). */
  log?: string;
}

export interface BenchProgress {
  benchId: string;
  /** The engine's last stderr line. */
  line: string;
  elapsedSeconds: number;
  /** Which engine invocation runs: the benchmark, or an A/B output run. */
  phase: "waiting" | "benchmark" | "output A" | "output B";
  /** Which row / run (e.g. "B run 2/3"), the overall fraction and a steady ETA (bench-eta.ts). */
  stage?: string;
  fraction?: number;
  etaSeconds?: number | null;
}

export interface PerfInfo {
  engineVersion: string | null;
  /** Why the engine's version / capabilities are unknown. */
  engineProblem?: string;
  /** Option names the app knows, in the write-up's order. */
  options: string[];
  parallel: { available: boolean; note: string; modes: ParallelModeSetting[]; maxDegree: number };
  hostCores: number;
}

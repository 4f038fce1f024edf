// The engine's benchmark JSON (`vggt-engine bench --json`, docs/BENCH-JSON.md, schema vggt-bench/1)
// as types. Pure: shared by the renderer, the IPC contract and the services.

/** Optimization switches by name (sincos-lowp, rope-fused, ...); absent = off. */
export type OptionSet = Record<string, boolean>;

export type BenchKind = "single" | "cumulative" | "ab";

export interface BenchStage {
  stage: string;
  ms: number;
  gflop: number;
}

export interface BenchAccuracy {
  depth_rel: number;
  points_rel: number;
  rotation_deg: number;
  translation_rel: number;
}

export interface BenchRow {
  name: string;
  added: string | null;
  options: OptionSet;
  latency_ms: number[];
  /** Process CPU time of each repeat (engine-measured). */
  cpu_ms?: number[];
  median_ms: number;
  speedup: number;
  /** Peak of live activation tensors (the tensor peak). */
  peak_bytes: number;
  /** The engine process's peak resident size during this row (absent from older engines). */
  peak_rss_bytes?: number;
  /** "row": the peak counter was reset at the row's start; "process": the lifetime peak so far. */
  peak_rss_scope?: "row" | "process";
  weight_bytes: number;
  stages: BenchStage[];
  accuracy: BenchAccuracy | null;
}

export interface BenchPair {
  a_ms: number;
  b_ms: number;
  ratio: number;
}

export interface BenchJson {
  schema: "vggt-bench/1";
  kind: BenchKind;
  engine_version: string;
  isa: string;
  machine: { cpu: string; cores: number; memory_bytes: number };
  threads: number;
  weights: string;
  random_weights: boolean;
  config: string;
  input: string;
  frames: number;
  height: number;
  width: number;
  repeats: number;
  machine_gemm_gflops: Record<string, number>;
  rows: BenchRow[];
  /** The benchmark process's lifetime peak resident size. */
  peak_rss_bytes?: number;
  pairs?: BenchPair[];
  ratio?: { median: number; min: number; max: number };
  writeup_npu_ms?: Record<string, number>;
}

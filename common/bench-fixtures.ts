// Benchmark JSON as docs/BENCH-JSON.md specifies it (vggt-bench/1), for the unit tests. The
// e2e suite checks the app against the real engine's output instead.
import type { BenchJson, BenchRow, OptionSet } from "./bench-schema.js";
import { OPTIONS, setFromNames } from "./option-catalog.js";

// The cumulative benchmark adds the write-up's optimizations (not the many-frame toggles).
const CUMULATIVE = OPTIONS.filter((o) => o.group === "optimizations").map((o) => o.name);

const WRITEUP_NPU = { "sincos-lowp": 1324.83, "rope-fused+rope-cache": 1239.55, "dpt-pos-cache": 1211.26, "fused-add-ln": 1208.17, bf16: 1128.18, prepack: 1121.09 };

function row(name: string, added: string | null, options: OptionSet, median: number, baseline: number): BenchRow {
  const latency_ms = [median * 1.02, median, median * 0.99];
  return {
    name,
    added,
    options,
    latency_ms,
    median_ms: median,
    speedup: baseline / median,
    peak_bytes: 100_000_000 + Math.round(median * 1000),
    weight_bytes: options.bf16 ? 2_000_000 : 4_000_000,
    stages: [
      { stage: "encoder", ms: median * 0.3, gflop: 10 },
      { stage: "aggregator.frame_attention", ms: median * 0.1, gflop: 2 },
      { stage: "aggregator.global_attention", ms: median * 0.15, gflop: 3 },
      { stage: "aggregator.mlp", ms: median * 0.1, gflop: 4 },
      { stage: "aggregator", ms: median * 0.4, gflop: 0 },
      { stage: "camera_head", ms: median * 0.05, gflop: 0 },
      { stage: "depth_head", ms: median * 0.1, gflop: 0 },
      { stage: "point_head", ms: median * 0.1, gflop: 0 },
      { stage: "geometry", ms: median * 0.01, gflop: 0 },
    ],
    accuracy: { depth_rel: options.bf16 ? 0.004 : 1e-7, points_rel: options.bf16 ? 0.005 : 2e-7, rotation_deg: options.bf16 ? 0.05 : 0, translation_rel: options.bf16 ? 0.003 : 0 },
  };
}

function header(kind: BenchJson["kind"]): Omit<BenchJson, "rows"> {
  return {
    schema: "vggt-bench/1",
    kind,
    engine_version: "0.1.0",
    isa: "avx512+bf16+vnni",
    machine: { cpu: "Test CPU @ 2.0GHz", cores: 2, memory_bytes: 25769803776 },
    threads: 2,
    weights: "/models/tiny/weights.safetensors",
    random_weights: false,
    config: "/models/tiny/config.json",
    input: "/images",
    frames: 2,
    height: 350,
    width: 518,
    repeats: 3,
    machine_gemm_gflops: { f32: 220, bf16: 430, s8: 850 },
    writeup_npu_ms: WRITEUP_NPU,
  };
}

/** Baseline, then every option added in the write-up's order. */
export function cumulativeFixture(): BenchJson {
  const rows: BenchRow[] = [row("baseline", null, setFromNames([]), 1000, 1000)];
  let median = 1000;
  CUMULATIVE.forEach((n, i) => {
    median *= 0.95;
    rows.push(row(`+ ${n}`, n, setFromNames(CUMULATIVE.slice(0, i + 1)), median, 1000));
  });
  return { ...header("cumulative"), rows };
}

export function abFixture(): BenchJson {
  const a = row("A", null, setFromNames([]), 1000, 1000);
  const b = row("B", null, setFromNames(["bf16", "prepack"]), 800, 800);
  b.speedup = 1000 / 800;
  return {
    ...header("ab"),
    rows: [{ ...a, accuracy: null }, b],
    pairs: [
      { a_ms: 1010, b_ms: 800, ratio: 1010 / 800 },
      { a_ms: 1000, b_ms: 810, ratio: 1000 / 810 },
      { a_ms: 990, b_ms: 790, ratio: 990 / 790 },
    ],
    ratio: { median: 1000 / 810 + 0.01, min: 1000 / 810, max: 990 / 790 },
  };
}

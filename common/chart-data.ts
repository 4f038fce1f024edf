// What the performance charts draw, derived from the engine's benchmark JSON: one latency bar per
// row (ours and the write-up's NPU figure), and the per-stage breakdown as stacked segments.
// No Node imports: the renderer uses this module too.
import type { BenchJson, BenchRow, BenchStage } from "./bench-schema.js";

export interface StageGroup {
  key: StageKey;
  label: string;
}

export type StageKey = "encoder" | "frame_attention" | "global_attention" | "mlp" | "aggregator_rest" | "heads" | "other";

/** Stacking order, bottom to top. */
export const STAGE_GROUPS: readonly StageGroup[] = [
  { key: "encoder", label: "Encoder" },
  { key: "frame_attention", label: "Frame attention" },
  { key: "global_attention", label: "Global attention" },
  { key: "mlp", label: "MLP" },
  { key: "aggregator_rest", label: "Aggregator (rest)" },
  { key: "heads", label: "Heads" },
  { key: "other", label: "Other" },
];

export type StageBreakdown = Record<StageKey, number>;

const HEADS = new Set(["camera_head", "depth_head", "point_head"]);
const AGG_PARTS: Record<string, StageKey> = {
  "aggregator.frame_attention": "frame_attention",
  "aggregator.global_attention": "global_attention",
  "aggregator.mlp": "mlp",
};

/**
 * Groups the engine's stage timings. Entries with a dot are parts of the stage before the dot
 * (BENCH-JSON.md): the aggregator's parts are shown on their own and the aggregator segment keeps
 * only the rest, so the segments add up to the sum of the top-level stages.
 */
export function stageBreakdown(stages: readonly BenchStage[]): StageBreakdown {
  const out: StageBreakdown = { encoder: 0, frame_attention: 0, global_attention: 0, mlp: 0, aggregator_rest: 0, heads: 0, other: 0 };
  let aggregator = 0;
  let aggParts = 0;
  for (const s of stages) {
    if (s.stage in AGG_PARTS) {
      out[AGG_PARTS[s.stage]] += s.ms;
      aggParts += s.ms;
    } else if (s.stage.includes(".")) {
      // Parts of other stages are already inside their parent.
    } else if (s.stage === "encoder") out.encoder += s.ms;
    else if (s.stage === "aggregator") aggregator += s.ms;
    else if (HEADS.has(s.stage)) out.heads += s.ms;
    else out.other += s.ms;
  }
  // Timer granularity can make the parts exceed the whole by a hair; never draw a negative bar.
  out.aggregator_rest = Math.max(0, aggregator - aggParts);
  return out;
}

/** The write-up's NPU figure for each row, matched by the options it names ("a+b": both on). */
export function npuFigures(json: BenchJson): (number | null)[] {
  const figures: (number | null)[] = json.rows.map(() => null);
  if (json.kind !== "cumulative" || !json.writeup_npu_ms) return figures;
  for (const [key, ms] of Object.entries(json.writeup_npu_ms)) {
    const parts = key.split("+").map((p) => p.trim());
    // The first row that has every named option on: the row where the last of them was added.
    const i = json.rows.findIndex((r) => parts.every((p) => r.options[p] === true));
    if (i >= 0) figures[i] = ms;
  }
  return figures;
}

export interface ChartRow extends StageBreakdown {
  /** Axis label. */
  row: string;
  name: string;
  added: string | null;
  ours: number;
  npu: number | null;
  speedup: number;
  stagesTotal: number;
}

export function rowLabel(row: BenchRow, index: number): string {
  if (row.added === null) return index === 0 ? "baseline" : row.name;
  return `+ ${row.added}`;
}

export function chartRows(json: BenchJson): ChartRow[] {
  const npu = npuFigures(json);
  return json.rows.map((r, i) => {
    const b = stageBreakdown(r.stages);
    const stagesTotal = STAGE_GROUPS.reduce((a, g) => a + b[g.key], 0);
    return { ...b, row: json.kind === "cumulative" ? rowLabel(r, i) : r.name, name: r.name, added: r.added, ours: r.median_ms, npu: npu[i], speedup: r.speedup, stagesTotal };
  });
}

export const NPU_LABEL = "Write-up NPU (Ascend, 25 frames) — reference, not measured here";

import { describe, expect, it } from "vitest";

import { chartRows, npuFigures, stageBreakdown, STAGE_GROUPS } from "./chart-data.js";
import { BENCH_CSV_HEADER, benchToCsv, csvField, parseCsv, toCsv } from "./bench-csv.js";
import { abFixture, cumulativeFixture } from "./bench-fixtures.js";

describe("chart data", () => {
  it("splits the aggregator into its parts and keeps the rest, so segments sum to the top-level stages", () => {
    const b = stageBreakdown([
      { stage: "encoder", ms: 30, gflop: 0 },
      { stage: "aggregator", ms: 40, gflop: 0 },
      { stage: "aggregator.frame_attention", ms: 10, gflop: 0 },
      { stage: "aggregator.global_attention", ms: 15, gflop: 0 },
      { stage: "aggregator.mlp", ms: 10, gflop: 0 },
      { stage: "camera_head", ms: 5, gflop: 0 },
      { stage: "depth_head", ms: 10, gflop: 0 },
      { stage: "point_head", ms: 10, gflop: 0 },
      { stage: "geometry", ms: 1, gflop: 0 },
      { stage: "depth_head.upsample", ms: 4, gflop: 0 },
    ]);
    expect(b).toEqual({ encoder: 30, frame_attention: 10, global_attention: 15, mlp: 10, aggregator_rest: 5, heads: 25, other: 1 });
    const sum = STAGE_GROUPS.reduce((a, g) => a + b[g.key], 0);
    expect(sum).toBe(30 + 40 + 5 + 10 + 10 + 1);
    // Parts that overshoot the whole by timer noise never give a negative segment.
    expect(stageBreakdown([{ stage: "aggregator", ms: 9.9, gflop: 0 }, { stage: "aggregator.mlp", ms: 10, gflop: 0 }]).aggregator_rest).toBe(0);
  });

  it("puts each write-up NPU figure on the row where its last option was added", () => {
    const j = cumulativeFixture();
    const npu = npuFigures(j);
    const at = (added: string) => npu[j.rows.findIndex((r) => r.added === added)];
    expect(npu[0]).toBeNull();
    expect(at("sincos-lowp")).toBe(1324.83);
    expect(at("rope-fused")).toBeNull();
    expect(at("rope-cache")).toBe(1239.55);
    expect(at("bf16")).toBe(1128.18);
    expect(at("w8a8")).toBeNull();
    expect(at("prepack")).toBe(1121.09);
    expect(npuFigures(abFixture())).toEqual([null, null]);
  });

  it("labels rows baseline, + option", () => {
    const rows = chartRows(cumulativeFixture());
    expect(rows.map((r) => r.row).slice(0, 3)).toEqual(["baseline", "+ sincos-lowp", "+ rope-fused"]);
    expect(rows[0].ours).toBe(1000);
    expect(chartRows(abFixture()).map((r) => r.row)).toEqual(["A", "B"]);
  });
});

describe("CSV", () => {
  it("quotes fields with commas, quotes and line breaks", () => {
    expect(csvField('say "hi", then\nleave')).toBe('"say ""hi"", then\nleave"');
    expect(csvField(null)).toBe("");
    expect(csvField(Number.NaN)).toBe("");
    const text = toCsv(["a", "b"], [["x,y", 'q"'], [1.5, null]]);
    expect(parseCsv(text)).toEqual([["a", "b"], ["x,y", 'q"'], ["1.5", ""]]);
  });

  it("exports one line per benchmark row with the values of the JSON", () => {
    const j = cumulativeFixture();
    const rows = parseCsv(benchToCsv(j));
    expect(rows[0]).toEqual([...BENCH_CSV_HEADER]);
    expect(rows).toHaveLength(j.rows.length + 1);
    const col = (name: string) => rows[0].indexOf(name);
    j.rows.forEach((r, i) => {
      expect(Number(rows[i + 1][col("median_ms")])).toBe(r.median_ms);
      expect(rows[i + 1][col("latency_ms")].split(";").map(Number)).toEqual(r.latency_ms);
      expect(rows[i + 1][col("bf16")]).toBe(r.options.bf16 ? "1" : "0");
    });
    expect(rows[2][col("writeup_npu_ms")]).toBe("1324.83");
    expect(rows[1][col("writeup_npu_ms")]).toBe("");
  });
});

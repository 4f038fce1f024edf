// A benchmark's progress and ETA through recorded engine output: steady (bounded steps), reaching
// 100 % only at the end, with the row and run named.
import { describe, expect, it } from "vitest";

import type { BenchRequest } from "../../ipc/perf-types.js";
import { MAX_ETA_STEP } from "../../../common/steady-eta.js";
import { BenchProgressTracker, CUMULATIVE_ORDER, benchPlan } from "./bench-eta.js";
import { normalizeSet } from "../../../common/option-catalog.js";

const exact = normalizeSet({});
const all = normalizeSet({ bf16: true, "flash-attn": true });
const ab: BenchRequest = { kind: "ab", a: { label: "A", options: exact }, b: { label: "B", options: all }, images: [], frames: 2, repeats: 3, warmup: 1, threads: 0, randomWeights: true, parallel: { mode: "none", degree: 1 } };
// Measured: exact 20 s a pass, `all` 10 s.
const predict = (o: Record<string, boolean>) => (o.bf16 ? 10 : 20);

/** The engine's lines at the times they came (A: 4 passes of ~22 s, B: 4 of ~9 s: the prediction is a bit off). */
function recorded(): [number, string][] {
  const out: [number, string][] = [];
  let t = 1;
  for (const [name, pass, n] of [["A", 22, 3], ["B", 9, 3]] as const) {
    t += pass; // warm-up
    for (let i = 1; i <= n; i++) {
      t += pass;
      out.push([t, `  ${name.padEnd(24)} run ${i}/${n}: ${pass * 1000} ms`]);
    }
  }
  return out;
}

describe("benchmark progress from measured rates", () => {
  it("plans rows × (warm-up + repeats): A/B, A/B with outputs, cumulative", () => {
    expect(benchPlan(ab, predict).map((s) => [s.label, s.runs, s.timed, s.secondsPerRun])).toEqual([["A", 4, 3, 20], ["B", 4, 3, 10]]);
    expect(benchPlan({ ...ab, keepOutputs: true, images: ["x.png"] }, predict).map((s) => s.label)).toEqual(["A", "B", "output A", "output B"]);
    const cum = benchPlan({ ...ab, kind: "cumulative" }, predict);
    expect(cum).toHaveLength(1 + CUMULATIVE_ORDER.length);
    expect(cum[0].runs).toBe(4); // warm-up only before the baseline
    expect(cum[1].runs).toBe(3);
    expect(cum.at(-1)!.options.w8a8).toBe(true);
  });

  it("the cumulative order is the engine's: `all`'s optimizations in table order, then int8", () => {
    // As the engine's bench --cumulative rows read (docs/PERFORMANCE.md, the cumulative table).
    expect(CUMULATIVE_ORDER).toEqual(["sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln", "bf16", "prepack", "flash-attn", "w8a8"]);
  });

  it("second by second: fraction never goes back, the ETA never jumps by more than the bounded step, ends at 100 %", () => {
    const tr = new BenchProgressTracker(benchPlan(ab, predict));
    expect(tr.predictedSeconds).toBe(4 * 20 + 4 * 10);
    const lines = recorded();
    const end = lines.at(-1)![0];
    let prevF = 0;
    let prevEta: number | null = null;
    const stages = new Set<string>();
    for (let s = 0, li = 0; s <= end; s++) {
      while (li < lines.length && lines[li][0] <= s) tr.onLine(lines[li++][1], s);
      const st = tr.state(s);
      stages.add(st.stage);
      expect(st.fraction).toBeGreaterThanOrEqual(prevF);
      if (s < end) expect(st.fraction).toBeLessThan(1);
      prevF = st.fraction;
      if (prevEta !== null && st.etaSeconds !== null && st.fraction < 1) {
        const expected = Math.max(1, prevEta - 1);
        expect(st.etaSeconds).toBeGreaterThanOrEqual(expected / MAX_ETA_STEP - 1e-9);
        expect(st.etaSeconds).toBeLessThanOrEqual(expected * MAX_ETA_STEP + 1e-9);
      }
      prevEta = st.etaSeconds;
    }
    expect(tr.state(end).fraction).toBe(1);
    expect(tr.state(end).etaSeconds).toBe(0);
    expect([...stages]).toEqual(expect.arrayContaining(["A run 1/3", "A run 3/3", "B run 1/3", "B run 3/3", "finishing"]));
  });

  it("the first ETA is the measured prediction, not a guess from the first seconds", () => {
    const tr = new BenchProgressTracker(benchPlan(ab, predict));
    expect(tr.state(0).etaSeconds).toBe(120);
    // 30 s in, no line yet (the warm-up and first pass of A take ~44 s): still about 90 s left.
    let eta = 0;
    for (let s = 1; s <= 30; s++) eta = tr.state(s).etaSeconds!;
    expect(eta).toBeGreaterThan(80);
    expect(eta).toBeLessThan(100);
  });

  it("ignores lines that are not timed runs", () => {
    const tr = new BenchProgressTracker(benchPlan(ab, predict));
    tr.onLine("bench: ISA avx512, x, 2 frames 518x350", 1);
    expect(tr.state(1).stage).toBe("A run 1/3");
  });
});

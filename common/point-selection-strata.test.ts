// A cloud decimated by confidence (low confidences thinned 3x more) still gives the full set's
// percentile and counts, so the view's threshold matches the exports'.
import { describe, expect, it } from "vitest";

import { percentile, selectCandidates, stratifiedPercentile, strataWeight, type ConfidenceStrata } from "./point-selection.js";
import { rng } from "./rng.js";

const full = (() => {
  const r = rng(7);
  const a = new Float32Array(200_000);
  for (let i = 0; i < a.length; i++) a[i] = 1 + 9 * r() * r(); // skewed, like VGGT's confidences
  return a;
})();

/** Keeps values below the median with probability q, the others with 3q. */
function decimate(values: Float32Array, q: number): { sample: Float32Array; strata: ConfidenceStrata } {
  const split = percentile(values, 50);
  const r = rng(11);
  const kept: number[] = [];
  for (const v of values) if (r() < (v < split ? q : 3 * q)) kept.push(v);
  return { sample: Float32Array.from(kept), strata: { split, weightLow: 1 / q, weightHigh: 1 / (3 * q) } };
}

describe("decimation by confidence", () => {
  const { sample, strata } = decimate(full, 0.05);

  it("over-represents high confidences in the sample (that is the point of it)", () => {
    const above = sample.filter((v) => v >= strata.split).length / sample.length;
    expect(above).toBeGreaterThan(0.72);
    expect(above).toBeLessThan(0.78);
    // A plain percentile of the sample is biased upwards...
    expect(percentile(sample, 50)).toBeGreaterThan(percentile(full, 60));
  });

  it.each([10, 25, 50, 75, 90])("...the stratified %i-th percentile is the full set's (within 1 percentile point)", (p) => {
    const t = stratifiedPercentile(sample, p, strata);
    expect(t).toBeGreaterThan(percentile(full, p - 1));
    expect(t).toBeLessThan(percentile(full, p + 1));
  });

  it("weights give the full set's count above a threshold (within 2%)", () => {
    const sel = selectCandidates({ conf: sample, frame: new Uint16Array(sample.length), colors: null, strata }, { confPercentile: 30, hiddenFrames: [], filterBlack: false, filterWhite: false });
    let est = 0;
    for (const i of sel.keep) est += strataWeight(strata, sample[i]);
    const truth = full.filter((v) => v >= sel.threshold).length;
    expect(Math.abs(est - truth) / truth).toBeLessThan(0.02);
  });

  it("with equal weights and the whole set it is the ordinary percentile", () => {
    const s = { split: percentile(full, 50), weightLow: 1, weightHigh: 1 };
    for (const p of [20, 50, 80]) expect(stratifiedPercentile(full, p, s)).toBeCloseTo(percentile(full, p), 3);
  });
});

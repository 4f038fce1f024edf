import { describe, expect, it } from "vitest";
import { percentile } from "./percentile.js";
import { rng } from "./rng.js";

function sortedPercentile(v: Float32Array, p: number): number {
  const a = Float64Array.from(v).sort();
  const h = ((a.length - 1) * p) / 100;
  const lo = Math.floor(h);
  return lo + 1 < a.length ? a[lo] + (h - lo) * (a[lo + 1] - a[lo]) : a[lo];
}

describe("percentile (numpy 'linear')", () => {
  it("matches numpy on small known cases", () => {
    // np.percentile([1,2,3,4], 25) == 1.75; 50 -> 2.5; 100 -> 4; 0 -> 1
    const a = Float32Array.from([4, 1, 3, 2]);
    expect(percentile(a, 25)).toBeCloseTo(1.75, 12);
    expect(percentile(a, 50)).toBeCloseTo(2.5, 12);
    expect(percentile(a, 100)).toBe(4);
    expect(percentile(a, 0)).toBe(1);
    expect(percentile(Float32Array.from([7]), 30)).toBe(7);
    // np.percentile([1..5], 10) = 1.4 (linear interpolation between order statistics)
    expect(percentile(Float32Array.from([5, 3, 1, 4, 2]), 10)).toBeCloseTo(1.4, 6);
    expect(Number.isNaN(percentile(new Float32Array(0), 50))).toBe(true);
  });

  it("matches a sort-based reference on random data with ties", () => {
    const r = rng(3);
    for (const n of [2, 17, 1000, 20011]) {
      const v = Float32Array.from({ length: n }, () => Math.floor(r() * 50) / 7);
      for (const p of [1, 33.3, 50, 90, 99.9]) expect(percentile(v, p)).toBeCloseTo(sortedPercentile(v, p), 5);
    }
  });
});

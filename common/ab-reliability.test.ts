import { describe, expect, it } from "vitest";

import { abReliability } from "./ab-reliability.js";

describe("A/B reliability", () => {
  it("trusts two sides with the same CPU share and agreeing pairs", () => {
    const r = abReliability({ latency_ms: [1000, 1100], cpu_ms: [1950, 2150] }, { latency_ms: [500, 520], cpu_ms: [990, 1030] }, [2, 2.1]);
    expect(r.coresA).toBeCloseTo((1.95 + 2150 / 1100) / 2, 9);
    expect(r.coresB).toBeCloseTo((1.98 + 1030 / 520) / 2, 9);
    expect(r.reliable).toBe(true);
    expect(r.reasons).toEqual([]);
  });

  it("flags sides whose CPU shares differ by more than 20 % and says why", () => {
    // A measured case: a background job left A about 1.04 cores while B had about 1.96.
    const r = abReliability({ latency_ms: [49300], cpu_ms: [51272] }, { latency_ms: [9300], cpu_ms: [18228] }, [5.3]);
    expect(r.reliable).toBe(false);
    expect(r.reasons[0]).toMatch(/different CPU shares \(A 1\.04 cores, B 1\.96 cores/);
  });

  it("flags widely spread pair ratios", () => {
    const r = abReliability({ latency_ms: [1, 1] }, { latency_ms: [1, 1] }, [1.5, 2.1]);
    expect(r.coresA).toBeNull();
    expect(r.ratioSpread).toBeCloseTo(1.4, 12);
    expect(r.reliable).toBe(false);
    expect(r.reasons[0]).toMatch(/pairs disagree \(ratios 1\.50–2\.10\)/);
  });
});

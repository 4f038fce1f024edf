import { describe, expect, it } from "vitest";

import { VGGT_1B_DIMS } from "./estimate.js";
import { ProgressTracker, stageWeights } from "./progress.js";

describe("ProgressTracker", () => {
  const w = stageWeights(VGGT_1B_DIMS, 4, 518, 350);

  it("weights sum to one and the aggregator dominates", () => {
    expect(Object.values(w).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(w.aggregator).toBeGreaterThan(w.encoder);
    expect(w.aggregator).toBeGreaterThan(w.write_output);
  });

  it("is monotonic, reaches 1 at the end, and extrapolates the ETA", () => {
    const t = new ProgressTracker(w, 100);
    expect(t.eta(0)).toBe(100);
    const seq: [string, number, number][] = [
      ["read_input", 1, 1],
      ["encoder", 2, 4],
      ["encoder", 4, 4],
      ["aggregator", 12, 24],
      ["aggregator", 24, 24],
      ["camera_head", 4, 4],
      ["depth_head", 1, 1],
      ["point_head", 1, 1],
      ["geometry", 1, 1],
      ["write_output", 1, 1],
    ];
    let prev = 0;
    for (const [s, a, b] of seq) {
      const f = t.update(s, a, b);
      expect(f).toBeGreaterThanOrEqual(prev);
      prev = f;
    }
    // "load" never came (model already loaded): its share is counted as done.
    expect(prev).toBeCloseTo(1, 9);
    const u = new ProgressTracker(w, 100);
    const f = u.update("aggregator", 12, 24);
    expect(u.eta(10)).toBeCloseTo((10 * (1 - f)) / f, 6);
  });

  it("keeps the ETA steady through a slow load and a wrong estimate: no step of more than 2x", () => {
    // Estimated 20 s; the load stage alone takes 40 s (nothing moves), then the rest runs fast.
    const t = new ProgressTracker(w, 20);
    const etas: number[] = [];
    for (let s = 1; s <= 40; s++) {
      t.update("load", 0, 1);
      etas.push(t.eta(s)!);
    }
    const steps: [string, number, number][] = [["load", 1, 1], ["encoder", 4, 4], ["aggregator", 6, 24], ["aggregator", 12, 24], ["aggregator", 18, 24], ["aggregator", 24, 24], ["point_head", 1, 1]];
    steps.forEach(([st, a, b], i) => {
      t.update(st, a, b);
      etas.push(t.eta(41 + i)!);
    });
    // One second between answers: each is within 2x of the previous one counted down by a second.
    for (let i = 1; i < etas.length; i++) {
      const expected = Math.max(1, etas[i - 1] - 1);
      expect(etas[i]).toBeGreaterThanOrEqual(expected / 2 - 1e-9);
      expect(etas[i]).toBeLessThanOrEqual(expected * 2 + 1e-9);
    }
    expect(Math.max(...etas) / Math.min(...etas.slice(0, 40))).toBeLessThan(10);
    // While nothing moves the ETA does not fall to zero: the remaining work is still all of it.
    expect(etas[39]).toBeGreaterThanOrEqual(1);
  });
});

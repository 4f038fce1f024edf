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
});

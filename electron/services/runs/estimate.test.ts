import { describe, expect, it } from "vitest";

import { estimateRun, preprocessedSize, runFlops, VGGT_1B_DIMS } from "./estimate.js";

describe("preprocessedSize", () => {
  it("follows the official crop rule (518 wide, height rounded to 14, at most 518)", () => {
    expect(preprocessedSize(518, 350, "crop")).toEqual({ width: 518, height: 350 });
    expect(preprocessedSize(1920, 1080, "crop")).toEqual({ width: 518, height: 294 });
    expect(preprocessedSize(1080, 1920, "crop")).toEqual({ width: 518, height: 518 });
    expect(preprocessedSize(1920, 1080, "pad")).toEqual({ width: 518, height: 518 });
  });
});

describe("estimateRun", () => {
  const est = (frames: number) =>
    estimateRun({ sizes: Array.from({ length: frames }, () => ({ width: 518, height: 350 })), preprocess: "crop", randomWeights: false }, VGGT_1B_DIMS, 5e9, { gflops: 100, basis: "test" }, 24 * 2 ** 30);

  it("counts tokens like the model (37x25 patches + camera + 4 registers)", () => {
    expect(est(1).tokensPerFrame).toBe(37 * 25 + 5);
  });

  it("costs about 2 FLOP per parameter per token for the transformer (within 25%)", () => {
    // VGGT-1B: encoder 304 M + aggregator 605 M parameters in linear layers (vggt-1b-params.json);
    // attention and the heads add the rest, hence the loose bound.
    const perToken = runFlops(VGGT_1B_DIMS, 1, 518, 350) / 930;
    expect(perToken / (2 * (304e6 + 605e6))).toBeGreaterThan(1);
    expect(perToken / (2 * (304e6 + 605e6))).toBeLessThan(1.25 + 0.6); // + DPT heads at full resolution
  });

  it("grows faster than linearly with frames (global attention) and warns for big runs", () => {
    const a = est(10);
    const b = est(100);
    expect(b.seconds / a.seconds).toBeGreaterThan(10);
    expect(b.peakBytes).toBeGreaterThan(a.peakBytes);
    expect(b.warnings.join(" ")).toMatch(/subsampl/);
    expect(est(2).warnings).toEqual([]);
  });
});

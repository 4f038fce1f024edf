import { describe, expect, it } from "vitest";

import { dptParams, estimateRun, heldWeightBytes, preprocessedSize, runFlops, VGGT_1B_DIMS, VGGT_1B_PARAMS } from "./estimate.js";

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
    estimateRun({ sizes: Array.from({ length: frames }, () => ({ width: 518, height: 350 })), preprocess: "crop", randomWeights: false }, VGGT_1B_DIMS, VGGT_1B_PARAMS, { gflops: 100, basis: "test" }, 24 * 2 ** 30);

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

  it("holds each Linear once, as converted (no float32 beside a bf16/int8/packed copy; VGGT-1B: 5.03 GB float32); bf16 halves the kept layers", () => {
    const exact = heldWeightBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, {});
    expect(exact).toBe(VGGT_1B_PARAMS * 4);
    // Encoder + aggregator Linears: 72 blocks x 12 x 1024^2 = 906 M parameters.
    const big = 72 * 12 * 1024 * 1024;
    // The DPT heads (32.65 M parameters each): token projections 2048 x 2816 + 4 x 256^2 fusion
    // 1x1 convs run as Linears, 24.5 M in 3x3 convolutions.
    const { pointwise, convs } = dptParams(VGGT_1B_DIMS);
    expect(pointwise).toBe(2 * (2048 * 2816 + 4 * 256 * 256));
    expect(convs / 2).toBe(24_514_560);
    expect((pointwise + convs) / 2).toBeLessThan(32_654_628);
    // bf16: the big Linears and the DPT's pointwise ones in 2 B instead of 4; the convolutions keep float32 and gain a bf16 copy.
    expect(heldWeightBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true })).toBe(exact - 2 * big - 2 * pointwise + 2 * convs);
    expect(heldWeightBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { prepack: true })).toBe(exact + 4 * convs);
    // int8 with residual weights (w8a8's default, docs/INT8.md): 2 bytes per parameter, as bf16.
    expect(heldWeightBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true, prepack: true, w8a8: true })).toBe(exact - 2 * big - 2 * pointwise + 2 * convs);
    // `all` (bf16 + prepack): the camera trunk packed in place of its float32, the rest as with bf16.
    expect(heldWeightBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true, prepack: true })).toBe(exact - 2 * big - 2 * pointwise + 2 * convs);
    // Without switches given, the estimate assumes the default preset (bf16 + prepack).
    const withDefault = est(1).peakBytes;
    const withExact = estimateRun({ sizes: [{ width: 518, height: 350 }], preprocess: "crop", randomWeights: false, engineOptions: {} as never }, VGGT_1B_DIMS, VGGT_1B_PARAMS, { gflops: 100, basis: "test" }, 24 * 2 ** 30).peakBytes;
    // ... and bf16 keeps the 4 aggregator layers the heads read in bfloat16 (2 bytes less per value).
    const keptValues = 4 * ((518 / 14) * (350 / 14) + 5) * 2 * VGGT_1B_DIMS.embedDim;
    expect(withDefault - withExact).toBe(heldWeightBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true, prepack: true }) - exact - 2 * keptValues);
  });
});

import { describe, expect, it } from "vitest";

import { VGGT_1B_DIMS } from "./estimate.js";
import { RATE_STEP, predictStages, rateKey, recordStageTimings, stageUnits, type RunShape } from "./stage-rates.js";

const shape = (frames: number): RunShape => ({ dims: VGGT_1B_DIMS, frames, width: 518, height: 350, weightsBytes: 5.03e9 });
const timings = (scale: number) => [
  { stage: "load", ms: 20_000 * scale },
  { stage: "encoder", ms: 2_000 * scale },
  { stage: "aggregator", ms: 9_000 * scale },
  { stage: "camera_head", ms: 300 * scale },
  { stage: "depth_head", ms: 800 * scale },
  { stage: "point_head", ms: 800 * scale },
];

describe("per-stage measured rates", () => {
  it("the aggregator's work grows faster than the frame count (global attention over all frames)", () => {
    const u2 = stageUnits(shape(2));
    const u8 = stageUnits(shape(8));
    expect(u8.encoder / u2.encoder).toBeCloseTo(4, 6); // per frame
    expect(u8.aggregator / u2.aggregator).toBeGreaterThan(4);
    expect(u8.load).toBe(u2.load); // the weights, not the frames
  });

  it("a run's timings predict the same run back, stage by stage, and scale to other frame counts", () => {
    const t = recordStageTimings({}, "k", shape(2), timings(1));
    const p = predictStages(shape(2), t.k, 40);
    expect(p.measured.sort()).toEqual(["aggregator", "camera_head", "depth_head", "encoder", "load", "point_head"]);
    for (const x of timings(1)) expect(p.seconds[x.stage]).toBeCloseTo(x.ms / 1000, 6);
    const p8 = predictStages(shape(8), t.k, 40);
    expect(p8.seconds.encoder).toBeCloseTo(8, 6); // 4x the frames
    expect(p8.seconds.load).toBeCloseTo(20, 6);
  });

  it("smooths: a run 10x slower moves a rate by at most the bounded step, and back", () => {
    let t = recordStageTimings({}, "k", shape(2), timings(1));
    const before = predictStages(shape(2), t.k, 40).seconds.aggregator;
    t = recordStageTimings(t, "k", shape(2), timings(10));
    const after = predictStages(shape(2), t.k, 40).seconds.aggregator;
    expect(after / before).toBeGreaterThan(1.2);
    expect(after / before).toBeLessThanOrEqual(Math.sqrt(RATE_STEP) + 1e-9);
    expect(t.k.aggregator.n).toBe(2);
    // Many runs at the new speed converge to it.
    for (let i = 0; i < 20; i++) t = recordStageTimings(t, "k", shape(2), timings(10));
    expect(predictStages(shape(2), t.k, 40).seconds.aggregator).toBeCloseTo(90, 0);
  });

  it("without measurements: compute at the default throughput", () => {
    const p = predictStages(shape(2), undefined, 40);
    expect(p.measured).toEqual([]);
    expect(p.seconds.aggregator).toBeCloseTo(stageUnits(shape(2)).aggregator / 40, 9);
  });

  it("keys by model and the switches that are on", () => {
    expect(rateKey("m", { bf16: true, w8a8: false, "rope-fused": true })).toBe("m|bf16,rope-fused");
    expect(rateKey("m", { bf16: false })).toBe("m|exact");
    expect(rateKey("m", undefined)).toBe("m|engine-defaults");
  });
});

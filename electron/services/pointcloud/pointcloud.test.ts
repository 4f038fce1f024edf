// The viewer's point budget: over it, points are decimated by confidence (below-median ones kept
// 3x more sparsely), and the strata the cloud carries give back the full output's numbers.
import { describe, expect, it } from "vitest";

import { percentile, selectCandidates, strataWeight } from "../../../common/point-selection.js";
import { encodeSafetensors, parseSafetensors } from "../tensors/safetensors.js";
import { extractPointCloud } from "./pointcloud.js";

const S = 2;
const H = 100;
const W = 120;
const N = S * H * W;
const conf = Float32Array.from({ length: N }, (_, i) => 1 + ((i * 7919) % 1000) / 100);
const pts = Float32Array.from({ length: 3 * N }, (_, i) => (i % 3 === 2 ? 2 : ((i * 13) % 97) / 97));
const file = parseSafetensors(
  encodeSafetensors({
    world_points: { dtype: "F32", shape: [S, H, W, 3], data: pts },
    world_points_conf: { dtype: "F32", shape: [S, H, W], data: conf },
    extrinsic: { dtype: "F32", shape: [S, 3, 4], data: new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0.1, 0, 1, 0, 0, 0, 0, 1, 0]) },
    intrinsic: { dtype: "F32", shape: [S, 3, 3], data: new Float32Array([100, 0, 60, 0, 100, 50, 0, 0, 1, 100, 0, 60, 0, 100, 50, 0, 0, 1]) },
  }),
);
const extract = (maxPoints: number) => extractPointCloud(file, { runId: "r", branch: "pointmap", maxPoints, frameNames: ["a", "b"], randomWeights: true });

describe("extractPointCloud's point budget", () => {
  it("within the budget: every point, no decimation", () => {
    const pc = extract(N);
    expect([pc.count, pc.totalPoints, pc.decimation]).toEqual([N, N, undefined]);
  });

  it("over it: about the budget, the upper confidence half 3x denser, weights that restore the totals", () => {
    const pc = extract(6000);
    expect(Math.abs(pc.count - 6000) / 6000).toBeLessThan(0.05);
    const d = pc.decimation!;
    expect(d.split).toBe(percentile(conf, 50));
    expect(d.weightLow / d.weightHigh).toBeCloseTo(3, 9);
    const upper = pc.conf.filter((c) => c >= d.split).length / pc.count;
    expect(upper).toBeGreaterThan(0.72);
    expect(upper).toBeLessThan(0.78);
    // The view's 50% threshold is the full output's median, and the weighted count about N / 2.
    const sel = selectCandidates({ conf: pc.conf, frame: pc.frame, colors: null, strata: d }, { confPercentile: 50, hiddenFrames: [], filterBlack: false, filterWhite: false });
    expect(Math.abs(sel.threshold - d.split)).toBeLessThan(0.05);
    let est = 0;
    for (const i of sel.keep) est += strataWeight(d, pc.conf[i]);
    const truth = conf.filter((c) => c >= sel.threshold).length;
    expect(Math.abs(est - truth) / truth).toBeLessThan(0.03);
  });

  it("a budget above half the points keeps the upper half whole and thins the lower", () => {
    const pc = extract(Math.round(N * 0.8));
    const d = pc.decimation!;
    expect(d.weightHigh).toBe(1);
    expect(pc.conf.filter((c) => c >= d.split).length).toBe(conf.filter((c) => c >= d.split).length);
  });
});

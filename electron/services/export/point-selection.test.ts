import { describe, expect, it } from "vitest";
import { percentile } from "../../../common/percentile.js";
import { selectPoints } from "./point-selection.js";
import { padMapping, syntheticOutput } from "./test-fixtures.js";

describe("selectPoints", () => {
  it("keeps conf >= the percentile threshold of the selected frames, from the chosen tensor", () => {
    const out = syntheticOutput({ S: 3 });
    const HW = out.H * out.W;
    const all = selectPoints(out, { points: "depth" });
    expect(all.indices.length).toBe(3 * HW);
    for (const p of [25, 50, 90]) {
      const sel = selectPoints(out, { points: "depth", confPercentile: p, frames: [0, 2] });
      const pool = Float32Array.from([...out.depthConf!.subarray(0, HW), ...out.depthConf!.subarray(2 * HW)]);
      const thr = percentile(pool, p);
      expect(sel.threshold).toBeCloseTo(thr, 5);
      const expected = [...pool].filter((c) => c >= sel.threshold).length;
      expect(sel.indices.length).toBe(expected);
      for (const i of sel.indices) expect(Math.floor(i / HW)).not.toBe(1);
    }
    const wp = selectPoints(out, { points: "pointmap", confPercentile: 50 });
    const thr = percentile(out.worldPointsConf!, 50);
    expect(wp.indices.length).toBe([...out.worldPointsConf!].filter((c) => c >= wp.threshold).length);
    expect(wp.threshold).toBeCloseTo(thr, 5);
  });

  it("drops near-zero confidences, non-finite points and the white padding of 'pad' frames", () => {
    const W = 56;
    const H = 56;
    const frames = [padMapping("a.png", 300, 400, W, H)];
    const out = syntheticOutput({ S: 1, W, H, frames });
    out.depthConf![0] = 0;
    out.worldPointsFromDepth![3 * 30 * W + 3 * 28] = NaN;
    const sel = selectPoints(out, { points: "depth" });
    const f = frames[0];
    expect(sel.indices.length).toBe(f.content_width * f.content_height - 1);
    const withPad = selectPoints(out, { points: "depth", includePadding: true });
    expect(withPad.indices.length).toBe(W * H - 2);
  });

  it("takes the percentile over the same points it can keep: padding and non-finite pixels left out", () => {
    const W = 56;
    const H = 56;
    const frames = [padMapping("a.png", 300, 400, W, H)];
    const out = syntheticOutput({ S: 1, W, H, frames });
    const f = frames[0];
    const content: number[] = [];
    for (let v = f.content_y0; v < f.content_y0 + f.content_height; v++)
      for (let u = f.content_x0; u < f.content_x0 + f.content_width; u++) content.push(out.depthConf![v * W + u]);
    const sel = selectPoints(out, { points: "depth", confPercentile: 50 });
    expect(sel.threshold).toBeCloseTo(percentile(Float32Array.from(content), 50), 5);
    expect(sel.indices.length).toBe(content.filter((c) => c >= sel.threshold).length);
  });

  it("applies the background filters to the pixels' colours", () => {
    const out = syntheticOutput({ S: 1 });
    const HW = out.H * out.W;
    // Pixel 0 black, pixel 1 white, in the preprocessed images tensor (planar RGB in 0..1).
    for (let c = 0; c < 3; c++) {
      out.images![c * HW] = 0;
      out.images![c * HW + 1] = 1;
    }
    const all = selectPoints(out, { points: "depth" }).indices;
    const noBlack = selectPoints(out, { points: "depth", filterBlack: true }).indices;
    const noWhite = selectPoints(out, { points: "depth", filterWhite: true }).indices;
    expect(all[0]).toBe(0);
    expect(noBlack[0]).not.toBe(0);
    expect([...noWhite].includes(1)).toBe(false);
    expect([...noBlack].includes(1)).toBe(true);
  });

  it("rejects bad options with clear errors", () => {
    const out = syntheticOutput({ S: 2 });
    expect(() => selectPoints(out, { frames: [2] })).toThrow(/frame index 2 is out of range/);
    expect(() => selectPoints(out, { confPercentile: 101 })).toThrow(/0\.\.100/);
    delete out.depthConf;
    expect(() => selectPoints(out, { points: "depth" })).toThrow(/missing tensor 'depth_conf'/);
  });
});

import { describe, expect, it } from "vitest";

import { percentile, selectCandidates } from "./point-selection.js";

describe("one point selection for viewer and exports", () => {
  // Frame 0: confidences 1..4, frame 1: 10..13; colours: one black and one white point per frame.
  const conf = Float32Array.from([1, 2, 3, 4, 10, 11, 12, 13]);
  const frame = Uint16Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
  const colors = Uint8Array.from([0, 0, 0, 100, 100, 100, 255, 255, 255, 50, 60, 70, 5, 5, 5, 241, 250, 245, 128, 0, 0, 240, 255, 255]);

  it("takes the percentile over the visible frames only, like the official viewer after its frame filter", () => {
    const all = selectCandidates({ conf, frame, colors }, { confPercentile: 50, hiddenFrames: [], filterBlack: false, filterWhite: false });
    expect(all.threshold).toBeCloseTo(percentile(conf, 50), 6);
    expect([...all.keep]).toEqual([4, 5, 6, 7]);
    const one = selectCandidates({ conf, frame, colors }, { confPercentile: 50, hiddenFrames: [1], filterBlack: false, filterWhite: false });
    expect(one.threshold).toBeCloseTo(2.5, 6);
    expect([...one.keep]).toEqual([2, 3]);
  });

  it("drops near-black (sum < 16) and near-white (all > 240) points when asked", () => {
    const s = { confPercentile: 0, hiddenFrames: [], filterBlack: true, filterWhite: false };
    expect([...selectCandidates({ conf, frame, colors }, s).keep]).toEqual([1, 2, 3, 5, 6, 7]);
    expect([...selectCandidates({ conf, frame, colors }, { ...s, filterBlack: false, filterWhite: true }).keep]).toEqual([0, 1, 3, 4, 6, 7]);
    // Without colours the background filters cannot apply.
    expect(selectCandidates({ conf, frame, colors: null }, s).keep.length).toBe(8);
  });

  it("ignores NaN confidences in the percentile and drops them", () => {
    const c = Float32Array.from([NaN, 1, 2, 3]);
    const r = selectCandidates({ conf: c, frame: new Uint16Array(4), colors: null }, { confPercentile: 50, hiddenFrames: [], filterBlack: false, filterWhite: false });
    expect(r.threshold).toBe(2);
    expect([...r.keep]).toEqual([2, 3]);
  });
});

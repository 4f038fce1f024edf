// Click-to-track's pixel mapping and checks, with a predictor that returns known model pixels (the
// engine's own tracks are exercised by e2e/track.e2e.test.ts).
import { describe, expect, it } from "vitest";
import { cropMapping, syntheticOutput } from "../export/test-fixtures.js";
import { trackClickedPoints } from "./click-tracks.js";
import type { TrackPredictor } from "./refine.js";

const frames = [cropMapping("a.png", 560, 440, 56, 42), cropMapping("b.png", 560, 440, 56, 42)];
const out = syntheticOutput({ S: 2, W: 56, H: 42, frames });

describe("click-to-track mapping", () => {
  it("maps a click to model pixels of its frame and the tracks back to every frame's original pixels", async () => {
    const seen: [number, [number, number][]][] = [];
    // Frame 0: the query itself; frame 1: 3 model pixels to the right.
    const predict: TrackPredictor = async (q, pts) => {
      seen.push([q, pts]);
      return { track: [pts, pts.map(([u, v]) => [u + 3, v])], vis: [[0.9], [0.4]], conf: [[0.8], [0.7]] };
    };
    // Original (corner) x = (u + 0.5 - ox) * 10 with ox = 0; y offset -1 model px (crop of 440 -> 44 rows).
    const r = await trackClickedPoints(out, "run", 1, [[205, 155]], predict);
    expect(seen[0][0]).toBe(1);
    expect(seen[0][1][0][0]).toBeCloseTo(20, 9);
    expect(seen[0][1][0][1]).toBeCloseTo(155 / 10 + frames[1].offset_y - 0.5, 9);
    expect(r.track[0][0][0]).toBeCloseTo(205, 9);
    expect(r.track[0][0][1]).toBeCloseTo(155, 9);
    expect(r.track[1][0][0]).toBeCloseTo(235, 9);
    expect(r.vis).toEqual([[0.9], [0.4]]);
    // The 3-D point under frame 0's track position is that pixel's depth-branch point.
    const i = 3 * (0 * 42 * 56 + Math.round(seen[0][1][0][1]) * 56 + 20);
    expect(r.world[0][0]).toEqual([out.worldPointsFromDepth![i], out.worldPointsFromDepth![i + 1], out.worldPointsFromDepth![i + 2]]);
    const p = await trackClickedPoints(out, "run", 1, [[205, 155]], predict, "original", "pointmap");
    expect(p.world[0][0]).toEqual([out.worldPoints![i], out.worldPoints![i + 1], out.worldPoints![i + 2]]);
    expect(p.world[0][0]).not.toEqual(r.world[0][0]);
  });

  it("takes model pixels as they are with space 'model'", async () => {
    let got: [number, number][] = [];
    const predict: TrackPredictor = async (_q, pts) => ((got = pts), { track: [pts, pts], vis: [[1], [1]], conf: [[1], [1]] });
    await trackClickedPoints(out, "run", 0, [[12.5, 7]], predict, "model");
    expect(got).toEqual([[12.5, 7]]);
  });

  it("rejects a frame out of range, a click outside the model's view and bad points, naming them", async () => {
    const predict: TrackPredictor = async () => {
      throw new Error("not reached");
    };
    await expect(trackClickedPoints(out, "r1", 2, [[1, 1]], predict)).rejects.toThrow(/frame 2 is not a frame of run r1 \(0\.\.1\)/);
    // Row 0 of the 440-row original was cropped away (the crop keeps rows 10..430).
    await expect(trackClickedPoints(out, "r1", 0, [[100, 2]], predict)).rejects.toThrow(/point 0 \(100\.0, 2\.0\) lies outside the part of frame 0 the model saw/);
    await expect(trackClickedPoints(out, "r1", 0, [[Number.NaN, 2]], predict)).rejects.toThrow(/point 0 is not a finite/);
    await expect(trackClickedPoints(out, "r1", 0, [], predict)).rejects.toThrow(/give 1 to 64 points/);
  });
});

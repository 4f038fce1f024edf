import { describe, expect, it } from "vitest";

import type { CameraFrame } from "../../electron/ipc/channels";
import { cameraPose, countVisible, fitDistance, frameAllBounds, needsReframe, unproject, verticalFov } from "./viewer-math";

// A camera rotated 90° about y and moved: R maps world x to camera -z.
const R = [0, 0, -1, 0, 1, 0, 1, 0, 0];
const t = [0.5, -1, 2];
const cam: CameraFrame = {
  index: 0,
  name: "a",
  width: 518,
  height: 350,
  extrinsic: [R[0], R[1], R[2], t[0], R[3], R[4], R[5], t[1], R[6], R[7], R[8], t[2]],
  intrinsic: [400, 0, 259, 0, 410, 175, 0, 0, 1],
  thumbWidth: 1,
  thumbHeight: 1,
  thumb: new Uint8Array(4),
};

function project(p: number[]): [number, number, number] {
  const c = [0, 1, 2].map((i) => R[3 * i] * p[0] + R[3 * i + 1] * p[1] + R[3 * i + 2] * p[2] + t[i]);
  const K = cam.intrinsic;
  return [(K[0] * c[0]) / c[2] + K[2], (K[4] * c[1]) / c[2] + K[5], c[2]];
}

describe("viewer math", () => {
  it("camera centre maps to the camera origin", () => {
    const { center } = cameraPose(cam.extrinsic);
    const c = [0, 1, 2].map((i) => R[3 * i] * center[0] + R[3 * i + 1] * center[1] + R[3 * i + 2] * center[2] + t[i]);
    for (const v of c) expect(Math.abs(v)).toBeLessThan(1e-12);
  });

  it("unproject inverts the OpenCV projection", () => {
    const p = unproject(cam, 100, 300, 3.5);
    const [u, v, d] = project(p);
    expect(u).toBeCloseTo(100, 9);
    expect(v).toBeCloseTo(300, 9);
    expect(d).toBeCloseTo(3.5, 9);
  });

  it("fov and the visible count behave like their definitions", () => {
    expect(verticalFov(cam)).toBeCloseTo((2 * Math.atan(175 / 410) * 180) / Math.PI, 9);
    expect(countVisible(Float32Array.from([1, 2, 3, 0]), Uint16Array.from([0, 1, 1, 0]), 2, new Set([0]))).toBe(2);
  });
});

describe("framing", () => {
  it("grows the cloud's sphere to hold every camera and its frustum", () => {
    const b = frameAllBounds({ center: [0, 0, 2], radius: 1 }, [[0, 0, 0], [3, 0, 2]], 0.1);
    expect(b.center).toEqual([0, 0, 2]);
    expect(b.radius).toBeCloseTo(3.1, 12);
    expect(frameAllBounds({ center: [0, 0, 2], radius: 5 }, [[0, 0, 0]], 0.1).radius).toBe(5);
  });

  it("fits the sphere in the narrower of the visible field's two angles", () => {
    // 90° vertical, a square view: tan(45°) = 1, so the sphere touches both edges at r / sin 45°.
    expect(fitDistance(1, 90, 500, 500)).toBeCloseTo(Math.SQRT2, 12);
    // Half as wide as tall: the horizontal angle 2 atan(0.5) decides.
    expect(fitDistance(1, 90, 250, 500)).toBeCloseTo(1 / Math.sin(Math.atan(0.5)), 12);
    // Wider than tall: the vertical angle decides, width does not matter.
    expect(fitDistance(2, 60, 2000, 500)).toBeCloseTo(4, 12);
  });
});

describe("branch switch framing", () => {
  it("keeps the view for a cloud in the same place, re-frames one that moved or changed size", () => {
    const a = { center: [0, 0, 2] as [number, number, number], radius: 1 };
    expect(needsReframe(a, { center: [0.2, 0, 2.1], radius: 1.1 })).toBe(false);
    expect(needsReframe(a, { center: [0, 0, 3.5], radius: 1 })).toBe(true);
    expect(needsReframe(a, { center: [0, 0, 2], radius: 0.3 })).toBe(true);
    expect(needsReframe(a, { center: [0, 0, 2], radius: 2.5 })).toBe(true);
  });
});

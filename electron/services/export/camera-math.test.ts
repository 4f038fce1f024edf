import { describe, expect, it } from "vitest";
import {
  cameraCenter,
  mat3Mul,
  modelToOriginal,
  openglCameraToWorld,
  quaternionToRotation,
  rotationToQuaternion,
  type Mat3,
} from "./camera-math.js";
import { cropMapping, padMapping, rng, rotation } from "./test-fixtures.js";

describe("rotationToQuaternion", () => {
  it("round-trips random rotations, including near 180 degrees, with qw >= 0", () => {
    const r = rng(7);
    const angles = [0, 1e-9, 0.5, 2, Math.PI - 1e-7, Math.PI];
    for (let k = 0; k < 200; k++) {
      const angle = k < angles.length ? angles[k] : r() * Math.PI;
      const R = rotation([r() - 0.5, r() - 0.5, r() - 0.5], angle) as Mat3;
      const q = rotationToQuaternion(R);
      expect(q[0]).toBeGreaterThanOrEqual(0);
      expect(Math.hypot(...q)).toBeCloseTo(1, 12);
      const back = quaternionToRotation(q);
      for (let i = 0; i < 9; i++) expect(Math.abs(back[i] - R[i])).toBeLessThan(1e-12);
    }
  });

  it("uses COLMAP's Hamilton convention: 90 degrees about z is (cos45, 0, 0, sin45)", () => {
    const q = rotationToQuaternion([0, -1, 0, 1, 0, 0, 0, 0, 1]);
    expect(q[0]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(q[3]).toBeCloseTo(Math.SQRT1_2, 12);
  });
});

describe("modelToOriginal", () => {
  it("maps pixel centres as x + 0.5 = (u + 0.5 - offset) * scale (crop: negative offset_y)", () => {
    const m = cropMapping("a.png", 500, 1000, 56, 56);
    const A = modelToOriginal(m);
    for (const [u, v] of [[0, 0], [55, 55], [10.25, 3]]) {
      const x = A[0] * u + A[2];
      const y = A[4] * v + A[5];
      expect(x + 0.5).toBeCloseTo((u + 0.5 - m.offset_x) * m.scale_x, 10);
      expect(y + 0.5).toBeCloseTo((v + 0.5 - m.offset_y) * m.scale_y, 10);
    }
    // The crop removes (1000 - 500) / 2 = 250 original rows above the first model row.
    expect(A[4] * -0.5 + A[5] + 0.5).toBeCloseTo(250, 10);
  });

  it("pad: the left edge of the content maps to the left edge of the original", () => {
    const m = padMapping("b.png", 300, 400, 56, 56);
    const A = modelToOriginal(m);
    expect(A[0] * (m.offset_x - 0.5) + A[2] + 0.5).toBeCloseTo(0, 10);
    expect(A[0] * (56 - m.offset_x - 0.5) + A[2] + 0.5).toBeCloseTo(300, 9);
  });

  it("K rescaling keeps projections consistent: A*K projects where the mapping sends the model projection", () => {
    const m = padMapping("c.png", 640, 480, 56, 56);
    const K: Mat3 = [50, 0, 28, 0, 52, 28, 0, 0, 1];
    const K2 = mat3Mul(modelToOriginal(m), K);
    const X = [0.3, -0.2, 2];
    const u = (K[0] * X[0]) / X[2] + K[2];
    const x = (K2[0] * X[0]) / X[2] + K2[2];
    expect(x + 0.5).toBeCloseTo((u + 0.5 - m.offset_x) * m.scale_x, 10);
  });
});

describe("openglCameraToWorld", () => {
  it("has the camera centre as translation and negated y/z camera axes", () => {
    const R = rotation([1, 2, 3], 0.7) as Mat3;
    const t: [number, number, number] = [0.1, -0.4, 2];
    const M = openglCameraToWorld(R, t);
    const C = cameraCenter(R, t);
    for (let i = 0; i < 3; i++) expect(M[i][3]).toBeCloseTo(C[i], 12);
    // OpenGL looks down -z: the world direction of the OpenCV optical axis (third row of R) is -column 2.
    for (let i = 0; i < 3; i++) expect(M[i][2]).toBeCloseTo(-R[6 + i], 12);
    for (let i = 0; i < 3; i++) expect(M[i][1]).toBeCloseTo(-R[3 + i], 12);
    for (let i = 0; i < 3; i++) expect(M[i][0]).toBeCloseTo(R[i], 12);
  });
});

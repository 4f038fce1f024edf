import { describe, expect, it } from "vitest";
import { rng } from "./rng.js";
import { applySim3, composeSim3, invertSim3, robustSim3, rotationAngleDeg, Sim3Error, umeyama, type Mat3, type Sim3 } from "./sim3.js";

function rotation(axis: [number, number, number], deg: number): Mat3 {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n);
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a), s = Math.sin(a), C = 1 - c;
  return [c + x * x * C, x * y * C - z * s, x * z * C + y * s, y * x * C + z * s, c + y * y * C, y * z * C - x * s, z * x * C - y * s, z * y * C + x * s, c + z * z * C];
}

const TRUE: Sim3 = { s: 2.7, R: rotation([0.3, -1, 0.5], 73), t: [1.5, -4, 10] };

function cloud(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const p = new Float64Array(3 * n);
  for (let i = 0; i < 3 * n; i++) p[i] = (r() - 0.5) * 4;
  return p;
}

function transformed(T: Sim3, src: Float64Array): Float64Array {
  const d = new Float64Array(src.length);
  for (let i = 0; i < src.length; i += 3) d.set(applySim3(T, src[i], src[i + 1], src[i + 2]), i);
  return d;
}

/** Rotation error (deg), relative scale error, translation error of `got` against `want`. */
function errors(got: Sim3, want: Sim3) {
  const d = composeSim3(invertSim3(want), got);
  return { rotDeg: rotationAngleDeg(d.R), scale: Math.abs(got.s / want.s - 1), t: Math.hypot(...got.t.map((v, k) => v - want.t[k])) };
}

// Gaussian noise by Box-Muller from the seeded generator.
function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

describe("umeyama (weighted closed form)", () => {
  it("recovers a known similarity exactly from noiseless points", () => {
    const src = cloud(200, 1);
    const T = umeyama(src, transformed(TRUE, src));
    const e = errors(T, TRUE);
    expect(e.rotDeg).toBeLessThan(1e-6);
    expect(e.scale).toBeLessThan(1e-12);
    expect(e.t).toBeLessThan(1e-10);
  });

  it("recovers it from exactly 3 non-collinear points, and the composition/inverse round-trip", () => {
    const src = Float64Array.from([0, 0, 0, 1, 0, 0, 0, 2, 1]);
    const e = errors(umeyama(src, transformed(TRUE, src)), TRUE);
    expect(e.rotDeg).toBeLessThan(1e-6);
    expect(e.scale).toBeLessThan(1e-12);
    const id = composeSim3(TRUE, invertSim3(TRUE));
    expect(Math.abs(id.s - 1)).toBeLessThan(1e-14);
    expect(rotationAngleDeg(id.R)).toBeLessThan(1e-6);
    expect(Math.hypot(...id.t)).toBeLessThan(1e-13);
  });

  it("weights: points with weight 0 do not count, so a corrupted point with weight 0 leaves the fit exact", () => {
    const src = cloud(50, 2);
    const dst = transformed(TRUE, src);
    dst[0] += 100;
    const w = new Float64Array(50).fill(1);
    w[0] = 0;
    expect(errors(umeyama(src, dst, w), TRUE).rotDeg).toBeLessThan(1e-6);
    expect(errors(umeyama(src, dst), TRUE).rotDeg).toBeGreaterThan(1);
  });

  it("refuses too few points, collinear points, coincident points and non-finite values, saying which", () => {
    expect(() => umeyama([0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1])).toThrow(/at least 3 points.*got 2/);
    const line = Float64Array.from({ length: 30 }, (_, i) => [1, 2, -1][i % 3] * 0.1 * Math.floor(i / 3));
    expect(() => umeyama(line, transformed(TRUE, line))).toThrow(/source points are collinear/);
    expect(() => umeyama(new Float64Array(30).fill(2), cloud(10, 3))).toThrow(/source points all coincide/);
    const bad = cloud(10, 4);
    bad[7] = NaN;
    expect(() => umeyama(bad, cloud(10, 5))).toThrow(/point 2 is not finite/);
    expect(() => umeyama(cloud(10, 4), cloud(10, 5), new Float64Array(10).fill(-1))).toThrow(Sim3Error);
    expect(() => umeyama(cloud(10, 4), cloud(9, 5))).toThrow(/same number/);
  });
});

describe("robustSim3 (LMedS + Cauchy IRLS, confidence-weighted)", () => {
  it("recovers a known similarity exactly from noiseless points, all of them inliers", () => {
    const src = cloud(5000, 6);
    const r = robustSim3(src, transformed(TRUE, src));
    const e = errors(r.transform, TRUE);
    expect(e.rotDeg).toBeLessThan(1e-6);
    expect(e.scale).toBeLessThan(1e-10);
    expect(e.t).toBeLessThan(1e-8);
    expect(r.rms).toBeLessThan(1e-9);
    expect(r.inliers).toBeGreaterThan(0.95 * 5000);
  });

  it("with Gaussian noise of 1% of the scene: bounded error, and the residual is the noise level", () => {
    const src = cloud(20000, 7);
    const dst = transformed(TRUE, src);
    const r0 = rng(8);
    const sigma = 0.01 * TRUE.s * 2.3; // ~1% of the target's RMS spread (uniform in [-2,2]^3: 1.15*sqrt(3)*s)
    for (let i = 0; i < dst.length; i++) dst[i] += sigma * gauss(r0);
    const r = robustSim3(src, dst);
    const e = errors(r.transform, TRUE);
    expect(e.rotDeg).toBeLessThan(0.05);
    expect(e.scale).toBeLessThan(1e-3);
    expect(e.t).toBeLessThan(0.02);
    // The RMS of 3-D Gaussian residuals is sigma*sqrt(3); inside 3 sigma_MAD it is a little less.
    expect(r.rms).toBeGreaterThan(0.8 * sigma * Math.sqrt(3));
    expect(r.rms).toBeLessThan(1.05 * sigma * Math.sqrt(3));
    expect(r.relativeRms).toBeGreaterThan(0.012);
    expect(r.relativeRms).toBeLessThan(0.02);
  });

  it("with 30% gross outliers (and noise): recovers the transform tightly where plain least squares fails", () => {
    const n = 20000;
    const src = cloud(n, 9);
    const dst = transformed(TRUE, src);
    const r0 = rng(10);
    const sigma = 0.005 * TRUE.s;
    for (let i = 0; i < dst.length; i++) dst[i] += sigma * gauss(r0);
    // 30% outliers: targets replaced by points spread over a box 10x the scene, all on one side.
    for (let i = 0; i < n; i++) if (r0() < 0.3) for (let c = 0; c < 3; c++) dst[3 * i + c] = TRUE.t[c] + 20 + r0() * 60;
    const plain = errors(umeyama(src, dst), TRUE);
    expect(plain.rotDeg + plain.scale * 100).toBeGreaterThan(5);
    const r = robustSim3(src, dst);
    const e = errors(r.transform, TRUE);
    expect(e.rotDeg).toBeLessThan(0.05);
    expect(e.scale).toBeLessThan(1e-3);
    expect(e.t).toBeLessThan(0.02);
    expect(r.inliers / r.points).toBeGreaterThan(0.66);
    expect(r.inliers / r.points).toBeLessThan(0.72);
  });

  it("confidence weights: a low-confidence half that disagrees is outvoted by a high-confidence half", () => {
    const n = 4000;
    const src = cloud(n, 11);
    const other: Sim3 = { s: 1.3, R: rotation([1, 0, 0], 20), t: [0, 1, 0] };
    const dst = transformed(TRUE, src);
    const alt = transformed(other, src);
    const w = new Float64Array(n);
    // 55% of the points follow `other` with confidence 1; 45% follow TRUE with confidence 20.
    for (let i = 0; i < n; i++) {
      if (i % 20 < 11) {
        dst.set(alt.subarray(3 * i, 3 * i + 3), 3 * i);
        w[i] = 1;
      } else w[i] = 20;
    }
    // LMedS alone (unweighted) would pick the majority; the weighted IRLS must end on TRUE.
    const e = errors(robustSim3(src, dst, w).transform, TRUE);
    expect(e.rotDeg).toBeLessThan(1e-3);
  });

  it("degenerate input: too few usable points, or collinear ones, is a clear error", () => {
    expect(() => robustSim3([0, 0, 0, 1, 0, 0, NaN, 0, 0], [0, 0, 0, 1, 0, 0, 1, 1, 1])).toThrow(/at least 3 points.*got 2/);
    const line = new Float64Array(300);
    for (let i = 0; i < 100; i++) line.set([i, 2 * i, 3 * i], 3 * i);
    expect(() => robustSim3(line, transformed(TRUE, line))).toThrow(/collinear/);
    expect(() => robustSim3(cloud(10, 1), cloud(10, 2), new Float64Array(10))).toThrow(/got 0/);
  });

  it("is reproducible from its seed", () => {
    const src = cloud(3000, 12);
    const dst = transformed(TRUE, src);
    for (let i = 0; i < 900; i++) dst[3 * i] += 50;
    expect(robustSim3(src, dst, undefined, { seed: 5 })).toEqual(robustSim3(src, dst, undefined, { seed: 5 }));
  });
});

// Multi-view linear triangulation (DLT) of one track from known cameras. Each observation gives two
// equations in normalised image coordinates (x_n R3 - R1) X = t1 - x_n t3 (same for y); with the
// point's homogeneous coordinate fixed to 1 the least-squares solution is a 3x3 normal-equation solve.
// Points at infinity cannot occur here: tracks with too small a ray angle are rejected before.
import type { Vec3 } from "../export/camera-math.js";
import type { SparseCamera, SparseImage } from "./sparse-model.js";

export interface ViewObservation {
  cam: SparseCamera;
  im: SparseImage;
  x: number;
  y: number;
}

function solve3(A: number[], b: number[]): Vec3 | null {
  const [a, b1, c, d, e, f, g, h, i] = A;
  const det = a * (e * i - f * h) - b1 * (d * i - f * g) + c * (d * h - e * g);
  const scale = Math.abs(a) + Math.abs(e) + Math.abs(i);
  if (!(Math.abs(det) > 1e-12 * scale * scale * scale)) return null;
  const inv = [e * i - f * h, c * h - b1 * i, b1 * f - c * e, f * g - d * i, a * i - c * g, c * d - a * f, d * h - e * g, b1 * g - a * h, a * e - b1 * d];
  return [
    (inv[0] * b[0] + inv[1] * b[1] + inv[2] * b[2]) / det,
    (inv[3] * b[0] + inv[4] * b[1] + inv[5] * b[2]) / det,
    (inv[6] * b[0] + inv[7] * b[1] + inv[8] * b[2]) / det,
  ];
}

/** Least-squares DLT point; null when the system is singular (fewer than 2 views or parallel rays). */
export function triangulateDLT(views: ViewObservation[]): Vec3 | null {
  if (views.length < 2) return null;
  const AtA = new Array(9).fill(0);
  const Atb = [0, 0, 0];
  for (const { cam, im, x, y } of views) {
    const { R, t } = im;
    const xn = (x - cam.cx) / cam.fx;
    const yn = (y - cam.cy) / cam.fy;
    const rows: [number[], number][] = [
      [[xn * R[6] - R[0], xn * R[7] - R[1], xn * R[8] - R[2]], t[0] - xn * t[2]],
      [[yn * R[6] - R[3], yn * R[7] - R[4], yn * R[8] - R[5]], t[1] - yn * t[2]],
    ];
    for (const [r, rhs] of rows) {
      for (let i = 0; i < 3; i++) {
        for (let k = 0; k < 3; k++) AtA[3 * i + k] += r[i] * r[k];
        Atb[i] += r[i] * rhs;
      }
    }
  }
  return solve3(AtA, Atb);
}

/** Largest angle (degrees) between the viewing rays of a point from the given camera centres. */
export function maxRayAngleDeg(p: Vec3, centers: Vec3[]): number {
  const dirs = centers.map((c) => {
    const d = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
    const n = Math.hypot(d[0], d[1], d[2]);
    return d.map((v) => v / n);
  });
  let best = 0;
  for (let i = 0; i < dirs.length; i++)
    for (let j = i + 1; j < dirs.length; j++) {
      const c = dirs[i][0] * dirs[j][0] + dirs[i][1] * dirs[j][1] + dirs[i][2] * dirs[j][2];
      best = Math.max(best, (Math.acos(Math.min(1, Math.max(-1, c))) * 180) / Math.PI);
    }
  return best;
}

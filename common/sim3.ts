// Similarity transforms (Sim(3): scale, rotation, translation) between two 3-D point sets, as used
// to align overlapping chunks of a long sequence (electron/services/chunking/). Pure and float64.
//
// Closed form: the weighted least-squares similarity of Umeyama (1991), with the rotation found by
// Horn's unit-quaternion method (1987): the quaternion is the top eigenvector of a symmetric 4x4
// matrix, which never yields a reflection and needs only a symmetric eigensolver (Jacobi), so no
// general SVD is needed.
//
// Robust scheme (robustSim3): least-median-of-squares over minimal 3-point samples, then IRLS with
// Cauchy weights (times the callers' confidence weights) refitting the closed form. LMedS needs no
// inlier threshold in scene units (each VGGT pass has its own unknown scale) and tolerates up to 50%
// outliers, so IRLS starts inside the basin of the right solution; IRLS then uses every point, which
// a minimal-sample fit cannot. Cauchy rather than Huber: its influence falls back to zero, so gross
// outliers (sky, mismatched depth edges) stop pulling the fit instead of pulling linearly.
import { rng } from "./rng.js";

export type Vec3 = [number, number, number];
/** Row-major 3x3. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

/** x -> s * R x + t */
export interface Sim3 {
  s: number;
  R: Mat3;
  t: Vec3;
}

/** Points as flat xyz arrays (3 values per point). */
export type Points = ArrayLike<number>;

/** Input the estimate cannot use: too few points, collinear or non-finite values, bad weights. */
export class Sim3Error extends Error {}

export const IDENTITY_SIM3: Sim3 = { s: 1, R: [1, 0, 0, 0, 1, 0, 0, 0, 1], t: [0, 0, 0] };

export function applySim3(T: Sim3, x: number, y: number, z: number): Vec3 {
  const R = T.R;
  return [
    T.s * (R[0] * x + R[1] * y + R[2] * z) + T.t[0],
    T.s * (R[3] * x + R[4] * y + R[5] * z) + T.t[1],
    T.s * (R[6] * x + R[7] * y + R[8] * z) + T.t[2],
  ];
}

/** a ∘ b: x -> a(b(x)). */
export function composeSim3(a: Sim3, b: Sim3): Sim3 {
  const R = new Array(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) R[3 * i + j] += a.R[3 * i + k] * b.R[3 * k + j];
  const at = applySim3({ ...a, t: [0, 0, 0] }, b.t[0], b.t[1], b.t[2]);
  return { s: a.s * b.s, R, t: [at[0] + a.t[0], at[1] + a.t[1], at[2] + a.t[2]] };
}

export function invertSim3(T: Sim3): Sim3 {
  const R = T.R;
  const Rt: Mat3 = [R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]];
  const inv: Sim3 = { s: 1 / T.s, R: Rt, t: [0, 0, 0] };
  const m = applySim3(inv, T.t[0], T.t[1], T.t[2]);
  return { ...inv, t: [-m[0], -m[1], -m[2]] };
}

/** Angle of a rotation matrix in degrees (0 for the identity). */
export function rotationAngleDeg(R: Mat3): number {
  // atan2 of sin and cos stays accurate near 0, where acos of the trace loses half the digits.
  const sin = Math.hypot(R[7] - R[5], R[2] - R[6], R[3] - R[1]) / 2;
  return (Math.atan2(sin, (R[0] + R[4] + R[8] - 1) / 2) * 180) / Math.PI;
}

/** Eigen-decomposition of a small symmetric matrix (cyclic Jacobi). Returns eigenvalues descending
 *  and the matching unit eigenvectors as columns of `vectors` (row-major n x n). */
export function symmetricEigen(a: number[], n: number): { values: number[]; vectors: number[] } {
  const A = a.slice();
  const V = new Array(n * n).fill(0);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        total += A[i * n + j] ** 2;
        if (i !== j) off += A[i * n + j] ** 2;
      }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[j * n + j] - A[i * n + i]);
  const vectors = new Array(n * n);
  for (let c = 0; c < n; c++) for (let r = 0; r < n; r++) vectors[r * n + c] = V[r * n + order[c]];
  return { values: order.map((i) => A[i * n + i]), vectors };
}

/** Relative size of the second principal axis below which a point set counts as collinear: the
 *  rotation about the line is then undetermined. */
const COLLINEAR_RATIO = 1e-10;

interface Moments {
  wsum: number;
  ms: Vec3;
  md: Vec3;
}

function checkInput(src: Points, dst: Points, w: ArrayLike<number> | undefined, what: string): number {
  if (src.length % 3 !== 0 || src.length !== dst.length) throw new Sim3Error(`${what}: source and target must hold the same number of xyz points (${src.length} and ${dst.length} values)`);
  const n = src.length / 3;
  if (w && w.length !== n) throw new Sim3Error(`${what}: ${w.length} weights for ${n} points`);
  return n;
}

/** Weighted least-squares similarity taking src onto dst (Umeyama 1991, rotation by Horn's
 *  quaternion method): minimises sum_i w_i |dst_i - (s R src_i + t)|^2. Throws Sim3Error for fewer
 *  than 3 weighted points, collinear points, non-finite values or negative weights. */
export function umeyama(src: Points, dst: Points, w?: ArrayLike<number>, idx?: ArrayLike<number>): Sim3 {
  const n = checkInput(src, dst, w, "umeyama");
  const count = idx ? idx.length : n;
  const at = (k: number) => (idx ? idx[k] : k);
  const m: Moments = { wsum: 0, ms: [0, 0, 0], md: [0, 0, 0] };
  let used = 0;
  for (let k = 0; k < count; k++) {
    const i = at(k);
    const wi = w ? w[i] : 1;
    if (!(wi >= 0) || !Number.isFinite(wi)) throw new Sim3Error(`umeyama: weight ${k} is ${wi} (weights must be finite and >= 0)`);
    for (let c = 0; c < 3; c++)
      if (!Number.isFinite(src[3 * i + c]) || !Number.isFinite(dst[3 * i + c])) throw new Sim3Error(`umeyama: point ${i} is not finite`);
    if (wi === 0) continue;
    used++;
    m.wsum += wi;
    for (let c = 0; c < 3; c++) {
      m.ms[c] += wi * src[3 * i + c];
      m.md[c] += wi * dst[3 * i + c];
    }
  }
  if (used < 3) throw new Sim3Error(`umeyama: a similarity needs at least 3 points with positive weight, got ${used}`);
  for (let c = 0; c < 3; c++) {
    m.ms[c] /= m.wsum;
    m.md[c] /= m.wsum;
  }
  // S[a][b] = sum w (src_a - ms_a)(dst_b - md_b); covariances of each side for the degeneracy check.
  const S = new Array(9).fill(0);
  const Cs = new Array(9).fill(0);
  const Cd = new Array(9).fill(0);
  let varSrc = 0;
  for (let k = 0; k < count; k++) {
    const i = at(k);
    const wi = w ? w[i] : 1;
    if (wi === 0) continue;
    const a = [src[3 * i] - m.ms[0], src[3 * i + 1] - m.ms[1], src[3 * i + 2] - m.ms[2]];
    const b = [dst[3 * i] - m.md[0], dst[3 * i + 1] - m.md[1], dst[3 * i + 2] - m.md[2]];
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 3; c++) {
        S[3 * r + c] += wi * a[r] * b[c];
        Cs[3 * r + c] += wi * a[r] * a[c];
        Cd[3 * r + c] += wi * b[r] * b[c];
      }
    varSrc += wi * (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
  }
  for (const [C, side] of [
    [Cs, "source"],
    [Cd, "target"],
  ] as const) {
    const ev = symmetricEigen(C, 3).values;
    if (!(ev[0] > 0)) throw new Sim3Error(`umeyama: the ${side} points all coincide`);
    if (ev[1] <= COLLINEAR_RATIO * ev[0]) throw new Sim3Error(`umeyama: the ${side} points are collinear (rotation about their line is undetermined)`);
  }
  const [Sxx, Sxy, Sxz, Syx, Syy, Syz, Szx, Szy, Szz] = S;
  const N = [
    Sxx + Syy + Szz, Syz - Szy, Szx - Sxz, Sxy - Syx,
    Syz - Szy, Sxx - Syy - Szz, Sxy + Syx, Szx + Sxz,
    Szx - Sxz, Sxy + Syx, -Sxx + Syy - Szz, Syz + Szy,
    Sxy - Syx, Szx + Sxz, Syz + Szy, -Sxx - Syy + Szz,
  ];
  const { vectors } = symmetricEigen(N, 4);
  const [qw, qx, qy, qz] = [vectors[0], vectors[4], vectors[8], vectors[12]];
  const R: Mat3 = [
    qw * qw + qx * qx - qy * qy - qz * qz, 2 * (qx * qy - qw * qz), 2 * (qx * qz + qw * qy),
    2 * (qy * qx + qw * qz), qw * qw - qx * qx + qy * qy - qz * qz, 2 * (qy * qz - qw * qx),
    2 * (qz * qx - qw * qy), 2 * (qz * qy + qw * qx), qw * qw - qx * qx - qy * qy + qz * qz,
  ];
  // s = trace(R^T S^T) / var(src) = sum w (dst_c . R src_c) / sum w |src_c|^2 (Umeyama's scale).
  let num = 0;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) num += R[3 * r + c] * S[3 * c + r];
  const s = num / varSrc;
  if (!(s > 0)) throw new Sim3Error(`umeyama: no positive scale maps the source onto the target (got ${s})`);
  const rm = applySim3({ s, R, t: [0, 0, 0] }, m.ms[0], m.ms[1], m.ms[2]);
  return { s, R, t: [m.md[0] - rm[0], m.md[1] - rm[1], m.md[2] - rm[2]] };
}

export interface RobustSim3Options {
  /** Seed of the sampling (the result is reproducible from it). Default 1. */
  seed?: number;
  /** Minimal-sample hypotheses for least-median-of-squares. Default 300. */
  hypotheses?: number;
  /** Points the LMedS score and the IRLS refit use (a deterministic random subset). Default 4096 / 20000. */
  scorePoints?: number;
  fitPoints?: number;
  /** IRLS iterations at most. Default 30. */
  iterations?: number;
}

export interface RobustSim3Result {
  transform: Sim3;
  /** Robust RMS residual (confidence-weighted RMS over the inliers), in the target's units. */
  rms: number;
  /** Confidence-weighted RMS distance of the inlier targets from their centroid (the scene's size). */
  sceneScale: number;
  /** rms / sceneScale. */
  relativeRms: number;
  /** Points within 3 robust standard deviations, of those with positive weight. */
  inliers: number;
  points: number;
  /** The robust standard deviation of the residuals (from the median absolute residual). */
  sigma: number;
  iterations: number;
}

function residuals(T: Sim3, src: Points, dst: Points, ids: ArrayLike<number>, out: Float64Array): void {
  const { s, R, t } = T;
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k];
    const x = src[3 * i], y = src[3 * i + 1], z = src[3 * i + 2];
    const dx = s * (R[0] * x + R[1] * y + R[2] * z) + t[0] - dst[3 * i];
    const dy = s * (R[3] * x + R[4] * y + R[5] * z) + t[1] - dst[3 * i + 1];
    const dz = s * (R[6] * x + R[7] * y + R[8] * z) + t[2] - dst[3 * i + 2];
    out[k] = Math.sqrt(dx * dx + dy * dy + dz * dz);
  }
}

/** Median of r[k] with weight w[ids[k]] (plain median without weights): the confidence-weighted
 *  LMedS score and residual scale, so that confident points outvote many unconfident ones.
 *  Weighted quickselect: expected linear time (it runs once per hypothesis). */
function weightedMedian(r: Float64Array, ids: ArrayLike<number>, w: ArrayLike<number> | undefined): number {
  const n = r.length;
  if (n === 0) return 0;
  const v = Float64Array.from(r);
  const x = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) total += x[k] = w ? w[ids[k]] : 1;
  let lo = 0, hi = n - 1;
  let need = total / 2; // weight still to be reached inside [lo, hi]
  for (;;) {
    if (lo >= hi) return v[lo];
    const pivot = v[(lo + hi) >> 1];
    // Three-way partition of [lo, hi]: < pivot, == pivot, > pivot.
    let lt = lo, i = lo, gt = hi;
    while (i <= gt) {
      if (v[i] < pivot) {
        [v[lt], v[i]] = [v[i], v[lt]];
        [x[lt], x[i]] = [x[i], x[lt]];
        lt++, i++;
      } else if (v[i] > pivot) {
        [v[gt], v[i]] = [v[i], v[gt]];
        [x[gt], x[i]] = [x[i], x[gt]];
        gt--;
      } else i++;
    }
    let wl = 0, we = 0;
    for (let k = lo; k < lt; k++) wl += x[k];
    for (let k = lt; k <= gt; k++) we += x[k];
    if (need <= wl) hi = lt - 1;
    else if (need <= wl + we) return pivot;
    else {
      need -= wl + we;
      lo = gt + 1;
    }
  }
}

/** Robust, confidence-weighted Sim(3) taking src onto dst: LMedS over minimal samples, then IRLS
 *  with Cauchy weights (see the top of this file). Points with weight 0 or non-finite values are
 *  ignored; fewer than 3 usable or collinear points throw a Sim3Error. */
export function robustSim3(src: Points, dst: Points, weights?: ArrayLike<number>, opts: RobustSim3Options = {}): RobustSim3Result {
  const n = checkInput(src, dst, weights, "robustSim3");
  const usable: number[] = [];
  for (let i = 0; i < n; i++) {
    const wi = weights ? weights[i] : 1;
    if (!(wi > 0) || !Number.isFinite(wi)) continue;
    let ok = true;
    for (let c = 0; c < 3; c++) if (!Number.isFinite(src[3 * i + c]) || !Number.isFinite(dst[3 * i + c])) ok = false;
    if (ok) usable.push(i);
  }
  if (usable.length < 3) throw new Sim3Error(`robustSim3: a similarity needs at least 3 points with finite values and positive weight, got ${usable.length}`);
  const rand = rng(opts.seed ?? 1);
  const subset = (k: number): Int32Array => {
    if (usable.length <= k) return Int32Array.from(usable);
    // Partial Fisher-Yates over a copy: k distinct points, reproducible from the seed.
    const a = usable.slice();
    for (let j = 0; j < k; j++) {
      const r = j + Math.floor(rand() * (a.length - j));
      [a[j], a[r]] = [a[r], a[j]];
    }
    return Int32Array.from(a.slice(0, k));
  };
  // The whole set must determine a similarity (this also names degenerate input clearly).
  const fitIds = subset(opts.fitPoints ?? 20000);
  const first = umeyama(src, dst, weights, fitIds);

  // 1) LMedS: the minimal-sample hypothesis with the smallest median squared residual.
  const scoreIds = subset(opts.scorePoints ?? 4096);
  const res = new Float64Array(scoreIds.length);
  residuals(first, src, dst, scoreIds, res);
  let best = first;
  let bestMed = weightedMedian(res, scoreIds, weights);
  const hyps = opts.hypotheses ?? 300;
  const tri = new Int32Array(3);
  for (let h = 0; h < hyps && bestMed > 0; h++) {
    for (let j = 0; j < 3; j++) tri[j] = usable[Math.floor(rand() * usable.length)];
    if (tri[0] === tri[1] || tri[1] === tri[2] || tri[0] === tri[2]) continue;
    let T: Sim3;
    try {
      T = umeyama(src, dst, undefined, tri);
    } catch {
      continue; // a collinear or coincident triple
    }
    residuals(T, src, dst, scoreIds, res);
    const med = weightedMedian(res, scoreIds, weights);
    if (med < bestMed) {
      bestMed = med;
      best = T;
    }
  }

  // 2) IRLS with Cauchy weights on the fit subset, the scale of the residuals re-estimated each step.
  let T = best;
  const r = new Float64Array(fitIds.length);
  const w = new Float64Array(n);
  let spread = 0;
  {
    // Scene size for a floor under sigma (exact data would otherwise divide by zero).
    let ws = 0;
    const c: Vec3 = [0, 0, 0];
    for (const i of fitIds) {
      const wi = weights ? weights[i] : 1;
      ws += wi;
      for (let k = 0; k < 3; k++) c[k] += wi * dst[3 * i + k];
    }
    for (const i of fitIds) {
      const wi = weights ? weights[i] : 1;
      spread += (wi * ((dst[3 * i] - c[0] / ws) ** 2 + (dst[3 * i + 1] - c[1] / ws) ** 2 + (dst[3 * i + 2] - c[2] / ws) ** 2)) / ws;
    }
    spread = Math.sqrt(spread);
  }
  const floor = 1e-12 * spread;
  const maxIt = opts.iterations ?? 30;
  let it = 0;
  for (; it < maxIt; it++) {
    residuals(T, src, dst, fitIds, r);
    const sigma = Math.max(1.4826 * weightedMedian(r, fitIds, weights), floor);
    const c = 2.3849 * sigma; // Cauchy constant for 95% efficiency under Gaussian noise
    for (let k = 0; k < fitIds.length; k++) {
      const i = fitIds[k];
      w[i] = (weights ? weights[i] : 1) / (1 + (r[k] / c) ** 2);
    }
    let next: Sim3;
    try {
      next = umeyama(src, dst, w, fitIds);
    } catch {
      break; // the weights left a degenerate set: keep the last good estimate
    }
    const change = Math.abs(next.s - T.s) / T.s + Math.hypot(...next.t.map((v, k) => v - T.t[k])) / Math.max(spread, 1e-300) + next.R.reduce((a, v, k) => a + Math.abs(v - T.R[k]), 0);
    T = next;
    if (change < 1e-10) {
      it++;
      break;
    }
  }

  // 3) Report on every usable point.
  const all = Int32Array.from(usable);
  const rAll = new Float64Array(all.length);
  residuals(T, src, dst, all, rAll);
  const sigma = Math.max(1.4826 * weightedMedian(rAll, all, weights), floor);
  let ws = 0, wr = 0, inliers = 0;
  const c: Vec3 = [0, 0, 0];
  for (let k = 0; k < all.length; k++) {
    if (rAll[k] > 3 * sigma) continue;
    const i = all[k];
    const wi = weights ? weights[i] : 1;
    inliers++;
    ws += wi;
    wr += wi * rAll[k] ** 2;
    for (let j = 0; j < 3; j++) c[j] += wi * dst[3 * i + j];
  }
  let sc = 0;
  for (let k = 0; k < all.length; k++) {
    if (rAll[k] > 3 * sigma) continue;
    const i = all[k];
    const wi = weights ? weights[i] : 1;
    sc += wi * ((dst[3 * i] - c[0] / ws) ** 2 + (dst[3 * i + 1] - c[1] / ws) ** 2 + (dst[3 * i + 2] - c[2] / ws) ** 2);
  }
  const rms = Math.sqrt(wr / ws);
  const sceneScale = Math.sqrt(sc / ws);
  return { transform: T, rms, sceneScale, relativeRms: sceneScale > 0 ? rms / sceneScale : 0, inliers, points: all.length, sigma, iterations: it };
}

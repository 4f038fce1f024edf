// Geometry for the viewer. Engine outputs are in OpenCV axes (x right, y down, z forward) with
// the first camera at the origin; three.js wants y up and cameras looking down -z. The whole
// scene is drawn under F = diag(1, -1, -1), a 180° rotation about x.
import type { CameraFrame } from "../../electron/ipc/channels";

export type Vec3 = [number, number, number];

export const flip = (v: Vec3): Vec3 => [v[0], -v[1], -v[2]];

/** Camera centre and world-from-camera rotation (row-major 3x3) from camera-from-world [R|t]. */
export function cameraPose(extrinsic: number[]): { center: Vec3; rwc: number[] } {
  const R = [extrinsic[0], extrinsic[1], extrinsic[2], extrinsic[4], extrinsic[5], extrinsic[6], extrinsic[8], extrinsic[9], extrinsic[10]];
  const t = [extrinsic[3], extrinsic[7], extrinsic[11]];
  const rwc = [R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]]; // R^T
  const center: Vec3 = [
    -(rwc[0] * t[0] + rwc[1] * t[1] + rwc[2] * t[2]),
    -(rwc[3] * t[0] + rwc[4] * t[1] + rwc[5] * t[2]),
    -(rwc[6] * t[0] + rwc[7] * t[1] + rwc[8] * t[2]),
  ];
  return { center, rwc };
}

/** World (OpenCV) position of pixel (u, v) at depth d in front of a camera. */
export function unproject(cam: CameraFrame, u: number, v: number, d: number): Vec3 {
  const K = cam.intrinsic;
  const p = [((u - K[2]) / K[0]) * d, ((v - K[5]) / K[4]) * d, d];
  const { center, rwc } = cameraPose(cam.extrinsic);
  return [
    rwc[0] * p[0] + rwc[1] * p[1] + rwc[2] * p[2] + center[0],
    rwc[3] * p[0] + rwc[4] * p[1] + rwc[5] * p[2] + center[1],
    rwc[6] * p[0] + rwc[7] * p[1] + rwc[8] * p[2] + center[2],
  ];
}

/** Vertical field of view in degrees from the intrinsics. */
export function verticalFov(cam: CameraFrame): number {
  return (2 * Math.atan(cam.height / 2 / cam.intrinsic[4]) * 180) / Math.PI;
}

/** Points that pass the filter (the official demo also drops conf <= 1e-5). */
export function countVisible(conf: Float32Array, frame: Uint16Array, threshold: number, hidden: Set<number>): number {
  let n = 0;
  for (let i = 0; i < conf.length; i++) if (conf[i] >= threshold && conf[i] > 1e-5 && !hidden.has(frame[i])) n++;
  return n;
}

/** Robust centre (per-axis median of a sample) and radius (90th percentile distance). */
export function sceneBounds(positions: Float32Array): { center: Vec3; radius: number } {
  const n = positions.length / 3;
  if (n === 0) return { center: [0, 0, 1], radius: 1 };
  const step = Math.max(1, Math.floor(n / 20000));
  const xs: number[] = [];
  const ys: number[] = [];
  const zs: number[] = [];
  for (let i = 0; i < n; i += step) {
    xs.push(positions[3 * i]);
    ys.push(positions[3 * i + 1]);
    zs.push(positions[3 * i + 2]);
  }
  const med = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const center: Vec3 = [med(xs), med(ys), med(zs)];
  const d = xs.map((x, i) => Math.hypot(x - center[0], ys[i] - center[1], zs[i] - center[2])).sort((p, q) => p - q);
  const radius = d[Math.floor(d.length * 0.9)] || 1;
  return { center, radius };
}

/** The sphere that "frame all" shows: the cloud's robust bounds grown to hold every camera (and its frustum). */
export function frameAllBounds(cloud: { center: Vec3; radius: number }, cameraCenters: Vec3[], frustumSize: number): { center: Vec3; radius: number } {
  let radius = cloud.radius;
  for (const c of cameraCenters) radius = Math.max(radius, Math.hypot(c[0] - cloud.center[0], c[1] - cloud.center[1], c[2] - cloud.center[2]) + frustumSize);
  return { center: cloud.center, radius };
}

/**
 * Distance from a sphere's centre at which it fits a view of vertical field of view `vfovDeg`
 * whose visible part is `width` x `height` pixels (the part no panel covers).
 */
export function fitDistance(radius: number, vfovDeg: number, width: number, height: number): number {
  const v = (vfovDeg * Math.PI) / 180;
  const h = 2 * Math.atan(Math.tan(v / 2) * (Math.max(1, width) / Math.max(1, height)));
  return radius / Math.sin(Math.min(v, h) / 2);
}

/** Axis-aligned bounds of the kept points (OpenCV world coordinates, as exported). */
export function boundsOf(positions: Float32Array, keep: Uint32Array): { min: Vec3; max: Vec3 } | null {
  if (keep.length === 0) return null;
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const i of keep)
    for (let a = 0; a < 3; a++) {
      const v = positions[3 * i + a];
      if (v < min[a]) min[a] = v;
      if (v > max[a]) max[a] = v;
    }
  return { min, max };
}

/**
 * Whether a new cloud of the same run (another branch) needs a new framing: only when its points
 * moved away from the framed ones (centre off by more than the radius, or size changed 2x);
 * otherwise the user's view is kept.
 */
export function needsReframe(prev: { center: Vec3; radius: number }, next: { center: Vec3; radius: number }): boolean {
  const d = Math.hypot(next.center[0] - prev.center[0], next.center[1] - prev.center[1], next.center[2] - prev.center[2]);
  const ratio = next.radius / Math.max(1e-12, prev.radius);
  return d > prev.radius || ratio > 2 || ratio < 0.5;
}

// A sparse reconstruction as bundle adjustment sees it: pinhole cameras at the original image size,
// posed images, and 3-D points with their 2-D observations. Pixel coordinates are COLMAP's corner
// convention (the centre of pixel (i, j) is (i + 0.5, j + 0.5)), as written to and read from COLMAP.
import type { Mat3, Vec3 } from "../export/camera-math.js";

export interface SparseCamera {
  id: number;
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

export interface SparseImage {
  id: number;
  cameraId: number;
  name: string;
  /** Camera-from-world rotation (row-major) and translation, OpenCV axes. */
  R: Mat3;
  t: Vec3;
}

export interface Observation {
  imageId: number;
  x: number;
  y: number;
}

export interface SparsePoint {
  xyz: Vec3;
  rgb: [number, number, number];
  obs: Observation[];
}

export interface SparseModel {
  cameras: SparseCamera[];
  images: SparseImage[];
  points: SparsePoint[];
}

/** Reprojection of a world point, corner convention; depth in the third entry. */
export function reproject(cam: SparseCamera, im: SparseImage, p: ArrayLike<number>): Vec3 {
  const { R, t } = im;
  const X = R[0] * p[0] + R[1] * p[1] + R[2] * p[2] + t[0];
  const Y = R[3] * p[0] + R[4] * p[1] + R[5] * p[2] + t[1];
  const Z = R[6] * p[0] + R[7] * p[1] + R[8] * p[2] + t[2];
  return [(cam.fx * X) / Z + cam.cx, (cam.fy * Y) / Z + cam.cy, Z];
}

export interface ReprojectionStats {
  observations: number;
  points: number;
  /** Mean and maximum distance (pixels of the original images) between observation and reprojection. */
  mean: number;
  max: number;
}

export function reprojectionStats(model: SparseModel): ReprojectionStats {
  const cams = new Map(model.cameras.map((c) => [c.id, c]));
  const ims = new Map(model.images.map((i) => [i.id, i]));
  let sum = 0;
  let max = 0;
  let n = 0;
  for (const p of model.points)
    for (const o of p.obs) {
      const im = ims.get(o.imageId);
      if (!im) throw new Error(`internal: observation of unknown image ${o.imageId}`);
      const [x, y] = reproject(cams.get(im.cameraId)!, im, p.xyz);
      const e = Math.hypot(x - o.x, y - o.y);
      sum += e;
      max = Math.max(max, e);
      n++;
    }
  return { observations: n, points: model.points.length, mean: n ? sum / n : 0, max };
}

/** Angle in degrees between two rotations (camera-from-world), from the trace of R1 R2^T. */
export function rotationAngleDeg(a: Mat3, b: Mat3): number {
  let tr = 0;
  for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) tr += a[3 * i + k] * b[3 * i + k];
  return (Math.acos(Math.min(1, Math.max(-1, (tr - 1) / 2))) * 180) / Math.PI;
}

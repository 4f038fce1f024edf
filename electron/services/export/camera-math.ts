// Camera conventions for export, all in float64.
//
// Pixel conventions (the half-pixel matters at 10x upscaling):
//  - "index" (OpenCV, and VGGT's unprojection): the centre of pixel (i, j) has coordinate (i, j).
//    The engine's K is in this convention: world_points_from_depth[v][u] projects to exactly (u, v).
//  - "corner" (COLMAP, nerfstudio, gsplat): the centre of pixel (i, j) has coordinate (i + 0.5, j + 0.5).
//    K_corner = K_index with cx, cy + 0.5.
import type { EngineOutput, FrameMapping } from "./engine-output.js";

export type Mat3 = [number, number, number, number, number, number, number, number, number]; // row-major
export type Mat4 = number[][]; // 4 rows of 4
export type Vec3 = [number, number, number];

export interface FrameCamera {
  /** Camera-from-world rotation (row-major) and translation, OpenCV axes. */
  R: Mat3;
  t: Vec3;
  /** Engine K at the model resolution, index convention. */
  Kmodel: Mat3;
  /** K at the export resolution (original image when frames are known), index convention. */
  K: Mat3;
  width: number;
  height: number;
  modelWidth: number;
  modelHeight: number;
  mapping?: FrameMapping;
}

export function mat3Mul(a: Mat3, b: Mat3): Mat3 {
  const r = new Array(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
  return r;
}

/** Affine map from model pixels to original pixels, both in index convention:
 *  x = sx * u + sx * (0.5 - ox) - 0.5  (from x + 0.5 = (u + 0.5 - ox) * sx). */
export function modelToOriginal(m: FrameMapping): Mat3 {
  return [m.scale_x, 0, m.scale_x * (0.5 - m.offset_x) - 0.5, 0, m.scale_y, m.scale_y * (0.5 - m.offset_y) - 0.5, 0, 0, 1];
}

export function frameCamera(out: EngineOutput, s: number): FrameCamera {
  const e = out.extrinsic.subarray(12 * s, 12 * s + 12);
  const k = out.intrinsic.subarray(9 * s, 9 * s + 9);
  const R: Mat3 = [e[0], e[1], e[2], e[4], e[5], e[6], e[8], e[9], e[10]];
  const t: Vec3 = [e[3], e[7], e[11]];
  const Kmodel = Array.from(k) as Mat3;
  const mapping = out.frames?.[s];
  const K = mapping ? mat3Mul(modelToOriginal(mapping), Kmodel) : Kmodel;
  return {
    R,
    t,
    Kmodel,
    K,
    width: mapping ? mapping.orig_width : out.W,
    height: mapping ? mapping.orig_height : out.H,
    modelWidth: out.W,
    modelHeight: out.H,
    mapping,
  };
}

/** Camera centre in world coordinates, C = -R^T t. */
export function cameraCenter(R: Mat3, t: Vec3): Vec3 {
  return [
    -(R[0] * t[0] + R[3] * t[1] + R[6] * t[2]),
    -(R[1] * t[0] + R[4] * t[1] + R[7] * t[2]),
    -(R[2] * t[0] + R[5] * t[1] + R[8] * t[2]),
  ];
}

export function cameraFromWorld4(R: Mat3, t: Vec3): Mat4 {
  return [
    [R[0], R[1], R[2], t[0]],
    [R[3], R[4], R[5], t[1]],
    [R[6], R[7], R[8], t[2]],
    [0, 0, 0, 1],
  ];
}

/** World-from-camera for a rigid camera-from-world: [R^T | -R^T t]. */
export function worldFromCamera4(R: Mat3, t: Vec3): Mat4 {
  const c = cameraCenter(R, t);
  return [
    [R[0], R[3], R[6], c[0]],
    [R[1], R[4], R[7], c[1]],
    [R[2], R[5], R[8], c[2]],
    [0, 0, 0, 1],
  ];
}

/** nerfstudio / OpenGL camera-to-world: camera axes x right, y up, z backwards (OpenCV y and z negated). */
export function openglCameraToWorld(R: Mat3, t: Vec3): Mat4 {
  const m = worldFromCamera4(R, t);
  for (let r = 0; r < 3; r++) {
    m[r][1] = -m[r][1];
    m[r][2] = -m[r][2];
  }
  return m;
}

/** Unit quaternion [qw, qx, qy, qz] (Hamilton, as COLMAP) of a rotation matrix, with qw >= 0. */
export function rotationToQuaternion(R: Mat3): [number, number, number, number] {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = R;
  const tr = m00 + m11 + m22;
  let w: number, x: number, y: number, z: number;
  // Branch on the largest diagonal term to stay well-conditioned near 180-degree rotations.
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    w = 0.25 * s;
    x = (m21 - m12) / s;
    y = (m02 - m20) / s;
    z = (m10 - m01) / s;
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    w = (m21 - m12) / s;
    x = 0.25 * s;
    y = (m01 + m10) / s;
    z = (m02 + m20) / s;
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    w = (m02 - m20) / s;
    x = (m01 + m10) / s;
    y = 0.25 * s;
    z = (m12 + m21) / s;
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    w = (m10 - m01) / s;
    x = (m02 + m20) / s;
    y = (m12 + m21) / s;
    z = 0.25 * s;
  }
  const n = Math.hypot(w, x, y, z) * (w < 0 ? -1 : 1);
  return [w / n, x / n, y / n, z / n];
}

export function quaternionToRotation(q: [number, number, number, number]): Mat3 {
  const [w, x, y, z] = q;
  return [
    1 - 2 * (y * y + z * z),
    2 * (x * y - w * z),
    2 * (x * z + w * y),
    2 * (x * y + w * z),
    1 - 2 * (x * x + z * z),
    2 * (y * z - w * x),
    2 * (x * z - w * y),
    2 * (y * z + w * x),
    1 - 2 * (x * x + y * y),
  ];
}

/** Pinhole projection of a world point, in the convention of K. Returns [x, y, depth]. */
export function project(R: Mat3, t: Vec3, K: Mat3, p: ArrayLike<number>): Vec3 {
  const X = R[0] * p[0] + R[1] * p[1] + R[2] * p[2] + t[0];
  const Y = R[3] * p[0] + R[4] * p[1] + R[5] * p[2] + t[1];
  const Z = R[6] * p[0] + R[7] * p[1] + R[8] * p[2] + t[2];
  return [(K[0] * X + K[1] * Y) / Z + K[2], (K[4] * Y) / Z + K[5], Z];
}

/** K with the principal point moved to the corner convention (COLMAP, nerfstudio). */
export function toCornerConvention(K: Mat3): Mat3 {
  const r = [...K] as Mat3;
  r[2] += 0.5;
  r[5] += 0.5;
  return r;
}

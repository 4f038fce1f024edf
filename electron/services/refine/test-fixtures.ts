// A synthetic scene for the refine tests (not product code): known cameras on an arc looking at a
// cloud of points, the points' exact projections as tracks, and seeded perturbations.
import { rng, rotation } from "../export/test-fixtures.js";
import { mat3Mul, type Mat3, type Vec3 } from "../export/camera-math.js";
import type { SparseCamera, SparseImage } from "./sparse-model.js";
import { reproject } from "./sparse-model.js";
import type { TrackSet } from "./track-model.js";

export interface Scene {
  cameras: SparseCamera[];
  images: SparseImage[];
  points: Vec3[];
}

/** S cameras 640x480 (f = 500) on an arc of radius 5 around the origin, N points in a 2-unit cube. */
export function syntheticScene(S: number, N: number, seed = 1): Scene {
  const r = rng(seed);
  const cameras: SparseCamera[] = [];
  const images: SparseImage[] = [];
  for (let s = 0; s < S; s++) {
    const yaw = ((s - (S - 1) / 2) * 12 * Math.PI) / 180;
    // Camera looks along +z; rotate the world about y so the camera at angle yaw sees the origin.
    const R = rotation([0, 1, 0], -yaw) as Mat3;
    const C: Vec3 = [5 * Math.sin(yaw), 0.3 * Math.sin(s), -5 * Math.cos(yaw)];
    const t: Vec3 = [-(R[0] * C[0] + R[1] * C[1] + R[2] * C[2]), -(R[3] * C[0] + R[4] * C[1] + R[5] * C[2]), -(R[6] * C[0] + R[7] * C[1] + R[8] * C[2])];
    cameras.push({ id: s + 1, width: 640, height: 480, fx: 500, fy: 500, cx: 320, cy: 240 });
    images.push({ id: s + 1, cameraId: s + 1, name: `frame_${s}.png`, R, t });
  }
  const points: Vec3[] = [];
  for (let n = 0; n < N; n++) points.push([2 * r() - 1, 2 * r() - 1, 2 * r() - 1]);
  return { cameras, images, points };
}

/** Projections of the scene's points with its true cameras, plus Gaussian noise of `noisePx`. */
export function sceneTracks(scene: Scene, noisePx: number, seed = 2): TrackSet {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const S = scene.images.length;
  const N = scene.points.length;
  const xy = new Float64Array(S * N * 2);
  for (let s = 0; s < S; s++)
    for (let n = 0; n < N; n++) {
      const [x, y] = reproject(scene.cameras[s], scene.images[s], scene.points[n]);
      xy[2 * (s * N + n)] = x + noisePx * gauss();
      xy[2 * (s * N + n) + 1] = y + noisePx * gauss();
    }
  return { S, N, xy, vis: new Float32Array(S * N).fill(0.9), conf: new Float32Array(S * N).fill(0.9), rgb: new Uint8Array(3 * N).fill(128) };
}

/** The scene's images with rotations perturbed by `deg` about random axes and translations by up to
 *  `dt`, except image 0 and the x translation of image 1, which COLMAP's bundle adjuster holds fixed
 *  (its gauge): what stays fixed must be right for the true cameras to be the optimum. */
export function perturbImages(images: SparseImage[], deg: number, dt: number, seed = 3): SparseImage[] {
  const r = rng(seed);
  return images.map((im, s) => {
    if (s === 0) return im;
    const dR = rotation([r() - 0.5, r() - 0.5, r() - 0.5], (deg * Math.PI) / 180) as Mat3;
    const t: Vec3 = [s === 1 ? im.t[0] : im.t[0] + dt * (2 * r() - 1), im.t[1] + dt * (2 * r() - 1), im.t[2] + dt * (2 * r() - 1)];
    return { ...im, R: mat3Mul(dR, im.R), t };
  });
}

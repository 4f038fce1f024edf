// Round-trip checks shared by the export tests: recompute cameras and projections from exported files
// (read back with an independent reader) and compare them with the engine output (not product code).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { cameraCenter, quaternionToRotation, type Mat3, type Vec3 } from "./camera-math.js";
import { pinholeParams, type ReadModel } from "./colmap-reader.js";
import type { EngineOutput } from "./engine-output.js";

export interface RoundTripStats {
  maxProjErr: number;
  maxPixelErr: number;
  maxCenterErr: number;
  points: number;
}

function engineCam(out: EngineOutput, s: number): { R: Mat3; t: Vec3 } {
  const e = out.extrinsic.subarray(12 * s, 12 * s + 12);
  return { R: [e[0], e[1], e[2], e[4], e[5], e[6], e[8], e[9], e[10]], t: [e[3], e[7], e[11]] };
}

/** For every point with a track: its stored 2-D observation maps back to the exact model pixel whose
 *  point it is (found via the frame mapping), and projecting the point with the exported camera lands on the
 *  observation. Camera centres are compared with the engine's. */
export function colmapRoundTrip(model: ReadModel, out: EngineOutput, xyzTensor: Float32Array): RoundTripStats {
  let maxProjErr = 0;
  let maxPixelErr = 0;
  let maxCenterErr = 0;
  for (const im of model.images.values()) {
    const s = im.id - 1;
    const R = quaternionToRotation(im.q as [number, number, number, number]);
    const C = cameraCenter(R, im.t as Vec3);
    const e = engineCam(out, s);
    const Ce = cameraCenter(e.R, e.t);
    maxCenterErr = Math.max(maxCenterErr, Math.hypot(C[0] - Ce[0], C[1] - Ce[1], C[2] - Ce[2]));
  }
  let n = 0;
  for (const p of model.points.values()) {
    for (const [imgId, idx] of p.track) {
      const im = model.images.get(imgId)!;
      const ob = im.points2D[idx];
      if (ob.id !== p.id) throw new Error(`point ${p.id}: image ${imgId} observation ${idx} refers to point ${ob.id}`);
      const s = imgId - 1;
      const cam = model.cameras.get(im.cameraId)!;
      const [fx, fy, cx, cy] = pinholeParams(cam);
      const R = quaternionToRotation(im.q as [number, number, number, number]);
      const X = R[0] * p.xyz[0] + R[1] * p.xyz[1] + R[2] * p.xyz[2] + im.t[0];
      const Y = R[3] * p.xyz[0] + R[4] * p.xyz[1] + R[5] * p.xyz[2] + im.t[1];
      const Z = R[6] * p.xyz[0] + R[7] * p.xyz[1] + R[8] * p.xyz[2] + im.t[2];
      const px = (fx * X) / Z + cx;
      const py = (fy * Y) / Z + cy;
      maxProjErr = Math.max(maxProjErr, Math.hypot(px - ob.x, py - ob.y));
      // Back to the model pixel: x = (u + 0.5 - ox) * sx in COLMAP's corner convention.
      const f = out.frames?.[s];
      const u = f ? ob.x / f.scale_x + f.offset_x - 0.5 : ob.x - 0.5;
      const v = f ? ob.y / f.scale_y + f.offset_y - 0.5 : ob.y - 0.5;
      const ui = Math.round(u);
      const vi = Math.round(v);
      maxPixelErr = Math.max(maxPixelErr, Math.abs(u - ui), Math.abs(v - vi));
      const i = (s * out.H + vi) * out.W + ui;
      for (let k = 0; k < 3; k++)
        if (Math.fround(p.xyz[k]) !== xyzTensor[3 * i + k])
          throw new Error(`point ${p.id}: xyz ${p.xyz} is not the engine's point at frame ${s} pixel (${ui}, ${vi})`);
      n++;
    }
  }
  return { maxProjErr, maxPixelErr, maxCenterErr, points: n };
}

export const SHARED_DIR = resolve(process.env.VGGT_SHARED_DIR ?? resolve(import.meta.dirname, "../../../../shared"));

/** A Python with Open3D: Debian's python3-open3d lives in /usr/bin/python3, which a pyenv shim may hide. */
export function findOpen3dPython(): string | undefined {
  for (const py of [process.env.OPEN3D_PYTHON, "/usr/bin/python3", "python3"].filter(Boolean) as string[]) {
    const r = spawnSync(py, ["-c", "import open3d"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  return undefined;
}

export function findColmap(): string | undefined {
  for (const c of [process.env.COLMAP_BIN, "/usr/bin/colmap", "colmap"].filter(Boolean) as string[]) {
    if (c.includes("/") && !existsSync(c)) continue;
    const r = spawnSync(c, ["help"], { encoding: "utf8" });
    if (r.status === 0 || /COLMAP/.test(r.stdout + r.stderr)) return c;
  }
  return undefined;
}

export function loudSkip(what: string): void {
  console.warn(`\n!!!!!!!! SKIPPED: ${what} !!!!!!!!\n`);
}

// Synthetic engine outputs with known cameras and geometry, for the export tests (not product code).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getFloat32, readSafetensors, writeSafetensors, type TensorToWrite } from "../tensors/safetensors.js";
import type { EngineOutput, FrameMapping } from "./engine-output.js";
import { encodePng } from "./png.js";

import { rng } from "../../../common/rng.js";

export { rng };

/** Rotation (row-major) from axis-angle. */
export function rotation(axis: [number, number, number], angle: number): number[] {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const C = 1 - c;
  return [
    c + x * x * C, x * y * C - z * s, x * z * C + y * s,
    y * x * C + z * s, c + y * y * C, y * z * C - x * s,
    z * x * C - y * s, z * y * C + x * s, c + z * z * C,
  ];
}

/** The preprocess mapping of 'crop' mode: width resized to W, height centre-cropped (offset_y <= 0). */
export function cropMapping(path: string, origW: number, origH: number, W: number, H: number): FrameMapping {
  const s = origW / W;
  const resizedH = origH / s;
  const offY = (H - resizedH) / 2;
  return {
    path, orig_width: origW, orig_height: origH, scale_x: s, scale_y: s, offset_x: 0, offset_y: offY,
    content_x0: 0, content_y0: 0, content_width: W, content_height: H,
  };
}

/** The preprocess mapping of 'pad' mode: the long side resized to the frame, the short side padded (white). */
export function padMapping(path: string, origW: number, origH: number, W: number, H: number): FrameMapping {
  const s = Math.max(origW / W, origH / H);
  const cw = Math.round(origW / s);
  const ch = Math.round(origH / s);
  const ox = (W - cw) / 2;
  const oy = (H - ch) / 2;
  return {
    path, orig_width: origW, orig_height: origH, scale_x: s, scale_y: s, offset_x: ox, offset_y: oy,
    content_x0: Math.floor(ox), content_y0: Math.floor(oy), content_width: cw, content_height: ch,
  };
}

export interface SyntheticOptions {
  S?: number;
  H?: number;
  W?: number;
  seed?: number;
  /** One mapping per frame, or undefined for an output made from a tensor. */
  frames?: FrameMapping[];
  source?: string;
}

/** Cameras looking roughly at the origin; world_points_from_depth unprojected exactly as VGGT does
 *  (pixel index convention), world_points = those plus noise, confidences 1 + a known ramp. */
export function syntheticOutput(o: SyntheticOptions = {}): EngineOutput {
  const S = o.S ?? 3;
  const H = o.H ?? 42;
  const W = o.W ?? 56;
  const r = rng(o.seed ?? 1);
  const HW = H * W;
  const extrinsic = new Float32Array(S * 12);
  const intrinsic = new Float32Array(S * 9);
  const depth = new Float32Array(S * HW);
  const wpd = new Float32Array(S * HW * 3);
  const wp = new Float32Array(S * HW * 3);
  const dconf = new Float32Array(S * HW);
  const wconf = new Float32Array(S * HW);
  const images = new Float32Array(S * 3 * HW);
  for (let s = 0; s < S; s++) {
    const R = s === 0 ? rotation([0, 1, 0], 0) : rotation([r() - 0.5, r() - 0.5, r() - 0.5], 0.2 + r());
    const t = s === 0 ? [0, 0, 0] : [r() - 0.5, r() - 0.5, r() - 0.5];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) extrinsic[12 * s + 4 * i + j] = R[3 * i + j];
      extrinsic[12 * s + 4 * i + 3] = t[i];
    }
    // As pose_encoding_to_extri_intri: f from the field of view, principal point at the frame centre.
    const fovH = 0.8 + 0.2 * r();
    const fovW = 2 * Math.atan(Math.tan(fovH / 2) * (W / H) * (1 + 0.05 * (r() - 0.5)));
    const fy = Math.fround(H / 2 / Math.tan(fovH / 2));
    const fx = Math.fround(W / 2 / Math.tan(fovW / 2));
    intrinsic.set([fx, 0, W / 2, 0, fy, H / 2, 0, 0, 1], 9 * s);
    // Unproject with the float32-rounded camera, as the engine does with the stored tensors.
    const Rf = Array.from(extrinsic.subarray(12 * s, 12 * s + 12));
    const Rm = [Rf[0], Rf[1], Rf[2], Rf[4], Rf[5], Rf[6], Rf[8], Rf[9], Rf[10]];
    const tm = [Rf[3], Rf[7], Rf[11]];
    for (let v = 0; v < H; v++)
      for (let u = 0; u < W; u++) {
        const i = s * HW + v * W + u;
        const d = 2 + Math.sin(u * 0.3 + s) * 0.5 + Math.cos(v * 0.2) * 0.3;
        depth[i] = d;
        const xc = ((u - W / 2) / fx) * d;
        const yc = ((v - H / 2) / fy) * d;
        const c = [xc - tm[0], yc - tm[1], d - tm[2]];
        for (let k = 0; k < 3; k++) {
          const w = Rm[k] * c[0] + Rm[3 + k] * c[1] + Rm[6 + k] * c[2];
          wpd[3 * i + k] = w;
          wp[3 * i + k] = w + 0.01 * (r() - 0.5);
        }
        dconf[i] = 1 + ((u + v * 7 + s * 13) % 97) / 10;
        wconf[i] = 1 + ((u * 3 + v + s * 5) % 89) / 10;
        images[s * 3 * HW + i - s * HW] = u / (W - 1);
        images[s * 3 * HW + HW + i - s * HW] = v / (H - 1);
        images[s * 3 * HW + 2 * HW + i - s * HW] = s / Math.max(1, S - 1);
      }
  }
  return {
    source: o.source ?? "synthetic.safetensors",
    S, H, W, extrinsic, intrinsic,
    worldPoints: wp, worldPointsConf: wconf, worldPointsFromDepth: wpd, depthConf: dconf, images,
    frames: o.frames,
    preprocess: o.frames ? "crop" : "tensor",
    metadata: { format: "vggt-engine-output/1", model: "random:0" },
  };
}

/** Writes an EngineOutput as the engine would (depth/pose_enc included as dummies of the right shape). */
export function writeEngineOutputFile(path: string, out: EngineOutput, extraMeta: Record<string, string> = {}): void {
  const { S, H, W } = out;
  const t: Record<string, TensorToWrite> = {
    pose_enc: { dtype: "F32", shape: [S, 9], data: new Float32Array(S * 9) },
    extrinsic: { dtype: "F32", shape: [S, 3, 4], data: out.extrinsic },
    intrinsic: { dtype: "F32", shape: [S, 3, 3], data: out.intrinsic },
  };
  if (out.worldPoints) t.world_points = { dtype: "F32", shape: [S, H, W, 3], data: out.worldPoints };
  if (out.worldPointsConf) t.world_points_conf = { dtype: "F32", shape: [S, H, W], data: out.worldPointsConf };
  if (out.worldPointsFromDepth) t.world_points_from_depth = { dtype: "F32", shape: [S, H, W, 3], data: out.worldPointsFromDepth };
  if (out.depthConf) t.depth_conf = { dtype: "F32", shape: [S, H, W], data: out.depthConf };
  if (out.images) t.images = { dtype: "F32", shape: [S, 3, H, W], data: out.images };
  const meta: Record<string, string> = {
    format: "vggt-engine-output/1",
    engine_version: "test",
    model: "random:0",
    random_weights: "true",
    options: "{}",
    preprocess: out.preprocess ?? "tensor",
    ...extraMeta,
  };
  if (out.frames) meta.frames = JSON.stringify(out.frames);
  writeSafetensors(path, t, meta);
}

/** Writes plain PNG originals of the sizes the frames record (content is a gradient). */
export function writeOriginals(dir: string, frames: FrameMapping[]): void {
  mkdirSync(dir, { recursive: true });
  for (const f of frames) {
    const rgb = new Uint8Array(f.orig_width * f.orig_height * 3);
    for (let p = 0; p < f.orig_width * f.orig_height; p++) {
      rgb[3 * p] = p % 251;
      rgb[3 * p + 1] = (p >> 3) % 253;
      rgb[3 * p + 2] = 128;
    }
    writeFileSync(join(dir, f.path.split("/").pop()!), encodePng(f.orig_width, f.orig_height, rgb));
  }
}

/** The golden expected outputs + input images as one engine output file, with frames metadata as if the
 *  frames were crops of 2x-larger PNG originals. */
export function buildGoldenEngineOutput(golden: string, dir: string): { file: string; imagesDir: string } {
  const exp = readSafetensors(join(golden, "expected.safetensors"));
  const inp = readSafetensors(join(golden, "input.safetensors"));
  const [S, H, W] = getFloat32(exp, "depth_conf").shape;
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const name of ["pose_enc", "depth", "depth_conf", "world_points", "world_points_conf", "extrinsic", "intrinsic", "world_points_from_depth"]) {
    const t = getFloat32(exp, name);
    tensors[name] = { dtype: "F32", shape: t.shape, data: t.data };
  }
  const img = getFloat32(inp, "images");
  tensors.images = { dtype: "F32", shape: img.shape, data: img.data };
  const frames = Array.from({ length: S }, (_, s) => cropMapping(`frame_${s}.png`, 2 * W, 2 * H + 6, W, H));
  const out: EngineOutput = {
    source: "golden",
    S,
    H,
    W,
    extrinsic: tensors.extrinsic.data,
    intrinsic: tensors.intrinsic.data,
    worldPoints: tensors.world_points.data,
    worldPointsConf: tensors.world_points_conf.data,
    worldPointsFromDepth: tensors.world_points_from_depth.data,
    depthConf: tensors.depth_conf.data,
    images: tensors.images.data,
    frames,
    preprocess: "crop",
    metadata: {},
  };
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "engine-output.safetensors");
  writeEngineOutputFile(file, out);
  const imagesDir = join(dir, "images-orig");
  writeOriginals(imagesDir, frames);
  return { file, imagesDir };
}


// Turns an engine output file into what the viewer draws: coloured points (decimated to a
// budget on this side, so a weak GPU or a slow link never receives all 4.5 M points), their
// confidences and frame indices, and one camera per frame with a small thumbnail.
import type { CameraFrame, PointBranch, PointCloud } from "../../ipc/types.js";
import { getFloat32, readSafetensors, type SafetensorsFile } from "../tensors/safetensors.js";
import { rng } from "../../../common/rng.js";
import { percentile } from "../../../common/point-selection.js";

interface FrameMeta {
  content_x0?: number;
  content_y0?: number;
  content_width?: number;
  content_height?: number;
}


export const THUMB_MAX_SIDE = 128;

function thumbnail(images: Float32Array | null, f: number, H: number, W: number): { w: number; h: number; rgba: Uint8Array } {
  const scale = Math.max(1, Math.ceil(Math.max(W, H) / THUMB_MAX_SIDE));
  const w = Math.floor(W / scale);
  const h = Math.floor(H / scale);
  const rgba = new Uint8Array(w * h * 4);
  const plane = H * W;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        if (images)
          for (let dy = 0; dy < scale; dy++)
            for (let dx = 0; dx < scale; dx++) sum += images[(f * 3 + c) * plane + (y * scale + dy) * W + x * scale + dx];
        rgba[o + c] = images ? Math.max(0, Math.min(255, Math.round((sum / (scale * scale)) * 255))) : 128;
      }
      rgba[o + 3] = 255;
    }
  return { w, h, rgba };
}

export interface ExtractOptions {
  runId: string;
  branch: PointBranch;
  maxPoints: number;
  frameNames: string[];
  randomWeights: boolean;
}

export function extractPointCloud(file: SafetensorsFile, opts: ExtractOptions, source = "engine output"): PointCloud {
  const pointsName = opts.branch === "pointmap" ? "world_points" : "world_points_from_depth";
  const confName = opts.branch === "pointmap" ? "world_points_conf" : "depth_conf";
  const pts = getFloat32(file, pointsName, source);
  const conf = getFloat32(file, confName, source).data;
  const [S, H, W] = pts.shape;
  if (pts.shape.length !== 4 || pts.shape[3] !== 3) throw new Error(`${source}: ${pointsName} has shape [${pts.shape}], expected [S,H,W,3]`);
  if (conf.length !== S * H * W) throw new Error(`${source}: ${confName} does not match ${pointsName}`);
  const images = file.tensors.has("images") ? getFloat32(file, "images", source).data : null;
  if (images && images.length !== S * 3 * H * W) throw new Error(`${source}: images tensor does not match the point map size`);
  const extr = getFloat32(file, "extrinsic", source).data;
  const intr = getFloat32(file, "intrinsic", source).data;

  let frames: FrameMeta[] = [];
  try {
    frames = file.metadata.frames ? JSON.parse(file.metadata.frames) : [];
  } catch {
    frames = [];
  }
  // Padding added by 'pad' preprocessing is not scene content: leave it out.
  const rect = (f: number) => {
    const m = frames[f];
    if (m && m.content_width && m.content_height)
      return { x0: m.content_x0 ?? 0, y0: m.content_y0 ?? 0, x1: (m.content_x0 ?? 0) + m.content_width, y1: (m.content_y0 ?? 0) + m.content_height };
    return { x0: 0, y0: 0, x1: W, y1: H };
  };

  const P = pts.data;
  const valid = new Uint8Array(S * H * W);
  let total = 0;
  for (let f = 0; f < S; f++) {
    const r = rect(f);
    for (let v = r.y0; v < r.y1; v++)
      for (let u = r.x0; u < r.x1; u++) {
        const i = (f * H + v) * W + u;
        const x = P[3 * i];
        const y = P[3 * i + 1];
        const z = P[3 * i + 2];
        if (Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(z) && Number.isFinite(conf[i])) {
          valid[i] = 1;
          total++;
        }
      }
  }
  const keep = Math.min(1, opts.maxPoints / Math.max(1, total));
  const rand = rng(0x5eed);
  const chosen: number[] = [];
  // Over the budget: decimation by confidence. The points below the median confidence (those the
  // confidence filter drops first) are kept 3x more sparsely than those above it; the view learns
  // the strata, so its percentile and counts stay those of the full output (common/point-selection.ts).
  let decimation: PointCloud["decimation"];
  if (keep < 1) {
    const pool = new Float32Array(total);
    let m = 0;
    for (let i = 0; i < valid.length; i++) if (valid[i]) pool[m++] = conf[i];
    const split = percentile(pool, 50);
    let nHi = 0;
    for (let i = 0; i < m; i++) if (pool[i] >= split) nHi++;
    const nLo = m - nHi;
    // Expected kept = nHi * qHi + nLo * qLo = keep * total, with qHi = 3 qLo (capped at 1).
    let qLo = (keep * total) / (nLo + 3 * nHi);
    let qHi = Math.min(1, 3 * qLo);
    if (qHi === 1) qLo = Math.min(1, (keep * total - nHi) / Math.max(1, nLo));
    if (nLo === 0) qHi = keep;
    qLo = Math.max(qLo, 1e-9);
    decimation = { split, weightLow: 1 / qLo, weightHigh: 1 / qHi };
    for (let i = 0; i < valid.length; i++) if (valid[i] && rand() < (conf[i] < split ? qLo : qHi)) chosen.push(i);
  } else for (let i = 0; i < valid.length; i++) if (valid[i]) chosen.push(i);
  const n = chosen.length;
  const positions = new Float32Array(3 * n);
  const colors = new Uint8Array(3 * n);
  const confOut = new Float32Array(n);
  const frame = new Uint16Array(n);
  const plane = H * W;
  for (let k = 0; k < n; k++) {
    const i = chosen[k];
    const f = Math.floor(i / plane);
    const pix = i - f * plane;
    positions[3 * k] = P[3 * i];
    positions[3 * k + 1] = P[3 * i + 1];
    positions[3 * k + 2] = P[3 * i + 2];
    for (let c = 0; c < 3; c++) colors[3 * k + c] = images ? Math.max(0, Math.min(255, Math.round(images[(f * 3 + c) * plane + pix] * 255))) : 180;
    confOut[k] = conf[i];
    frame[k] = f;
  }
  const cameras: CameraFrame[] = [];
  for (let f = 0; f < S; f++) {
    const t = thumbnail(images, f, H, W);
    cameras.push({
      index: f,
      name: opts.frameNames[f] ?? `frame ${f + 1}`,
      width: W,
      height: H,
      extrinsic: Array.from(extr.subarray(12 * f, 12 * f + 12)),
      intrinsic: Array.from(intr.subarray(9 * f, 9 * f + 9)),
      thumbWidth: t.w,
      thumbHeight: t.h,
      thumb: t.rgba,
    });
  }
  return { runId: opts.runId, branch: opts.branch, randomWeights: opts.randomWeights, totalPoints: total, count: n, positions, colors, conf: confOut, frame, cameras, ...(decimation ? { decimation } : {}) };
}

/** Keeps the last parsed output file: switching branch or budget does not re-read ~200 MB. */
export class OutputCache {
  private key: string | null = null;
  private file: SafetensorsFile | null = null;

  load(path: string): SafetensorsFile {
    if (this.key !== path || !this.file) {
      this.file = null;
      this.file = readSafetensors(path);
      this.key = path;
    }
    return this.file;
  }

  forget(path?: string): void {
    if (!path || path === this.key) {
      this.key = null;
      this.file = null;
    }
  }
}

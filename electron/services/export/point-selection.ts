// Which pixels become exported points: confidence percentile like the official VGGT demo, frame filter,
// padding removal. Shared by every format (and usable by the viewer so that it shows the same points).
import { pointArrays, type EngineOutput, type PointSource } from "./engine-output.js";

export interface PointSelectionOptions {
  points?: PointSource;
  /** 0..100: keep conf >= percentile P of the selected frames' confidences (0 keeps everything). */
  confPercentile?: number;
  /** Frame indices to export (default: all). */
  frames?: number[];
  /** Keep points from the white padding of 'pad' preprocessing (default false: they are not scene). */
  includePadding?: boolean;
}

export interface PointSelection {
  points: PointSource;
  frames: number[];
  /** Flat pixel indices s*H*W + v*W + u, ascending. */
  indices: Uint32Array;
  threshold: number;
  /** Pixels considered (selected frames). */
  considered: number;
  /** Pixels that passed the confidence filter but whose coordinates are NaN/Inf (skipped). */
  nonFinite: number;
}

/** Official demos drop near-zero confidences too (VGGT's conf = 1 + exp(x) is never that small). */
export const CONF_EPSILON = 1e-5;

export function resolveFrames(out: EngineOutput, frames?: number[]): number[] {
  if (!frames) return Array.from({ length: out.S }, (_, i) => i);
  const seen = new Set<number>();
  for (const f of frames) {
    if (!Number.isInteger(f) || f < 0 || f >= out.S)
      throw new Error(`${out.source}: frame index ${f} is out of range (the file has ${out.S} frames, 0..${out.S - 1})`);
    seen.add(f);
  }
  if (seen.size === 0) throw new Error(`${out.source}: the frame filter selects no frames`);
  return [...seen].sort((a, b) => a - b);
}

/** k-th smallest (0-based) of arr, reordering arr in place (Hoare quickselect, O(n) average). */
function selectKth(arr: Float32Array, k: number): number {
  let lo = 0;
  let hi = arr.length - 1;
  while (hi > lo) {
    const pivot = arr[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (arr[i] < pivot) i++;
      while (arr[j] > pivot) j--;
      if (i <= j) {
        const t = arr[i];
        arr[i] = arr[j];
        arr[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return arr[k];
  }
  return arr[k];
}

/** numpy.percentile with the default 'linear' method. NaNs must already be removed. */
export function percentile(values: Float32Array, p: number): number {
  if (values.length === 0) return NaN;
  const work = Float32Array.from(values);
  const h = ((work.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const a = selectKth(work, lo);
  if (lo + 1 >= work.length || h === lo) return a;
  // After selecting lo, everything right of it is >= a: the next order statistic is their minimum.
  let b = Infinity;
  for (let i = lo + 1; i < work.length; i++) if (work[i] < b) b = work[i];
  return a + (h - lo) * (b - a);
}

function inContent(out: EngineOutput, s: number, u: number, v: number): boolean {
  const f = out.frames?.[s];
  if (!f) return true;
  return u >= f.content_x0 && u < f.content_x0 + f.content_width && v >= f.content_y0 && v < f.content_y0 + f.content_height;
}

export function selectPoints(out: EngineOutput, opts: PointSelectionOptions = {}): PointSelection {
  const points = opts.points ?? "depth";
  const p = opts.confPercentile ?? 0;
  if (!(p >= 0 && p <= 100)) throw new Error(`confidence percentile must be within 0..100, got ${p}`);
  const { xyz, conf } = pointArrays(out, points);
  const frames = resolveFrames(out, opts.frames);
  const HW = out.H * out.W;

  // Percentile over the selected frames' confidences, as the official viewer does after its frame filter.
  const pool = new Float32Array(frames.length * HW);
  let n = 0;
  for (const s of frames)
    for (let i = s * HW; i < (s + 1) * HW; i++) {
      const c = conf[i];
      if (!Number.isNaN(c)) pool[n++] = c;
    }
  const threshold = p === 0 ? 0 : percentile(pool.subarray(0, n), p);

  const keep = new Uint32Array(frames.length * HW);
  let k = 0;
  let nonFinite = 0;
  const padding = !opts.includePadding && out.frames !== undefined;
  for (const s of frames)
    for (let v = 0; v < out.H; v++)
      for (let u = 0; u < out.W; u++) {
        const i = s * HW + v * out.W + u;
        const c = conf[i];
        if (!(c >= threshold && c > CONF_EPSILON)) continue;
        if (padding && !inContent(out, s, u, v)) continue;
        if (!(Number.isFinite(xyz[3 * i]) && Number.isFinite(xyz[3 * i + 1]) && Number.isFinite(xyz[3 * i + 2]))) {
          nonFinite++;
          continue;
        }
        keep[k++] = i;
      }
  return { points, frames, indices: keep.slice(0, k), threshold, considered: frames.length * HW, nonFinite };
}

/** 8-bit colour of pixel i from the preprocessed `images` tensor (rounded; the official demo truncates,
 *  which turns an exact k/255 into k-1 half of the time). */
export function pixelColor(out: EngineOutput, i: number, dst: Uint8Array, at: number): void {
  const img = out.images!;
  const HW = out.H * out.W;
  const s = Math.floor(i / HW);
  const px = i - s * HW;
  const base = s * 3 * HW + px;
  for (let c = 0; c < 3; c++) {
    const v = Math.round(img[base + c * HW] * 255);
    dst[at + c] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

export function requireColors(out: EngineOutput): void {
  if (!out.images)
    throw new Error(`${out.source}: missing tensor 'images' (the preprocessed input, needed for point colours)`);
}

// Which pixels become exported points: the engine output's candidates (selected frames, finite, no
// padding) through the selection the viewer uses too (common/point-selection.ts). Every format uses it.
import { selectCandidates } from "../../../common/point-selection.js";
import { pointArrays, type EngineOutput, type PointSource } from "./engine-output.js";

export interface PointSelectionOptions {
  points?: PointSource;
  /** 0..100: keep conf >= percentile P of the selected frames' confidences (0 keeps everything). */
  confPercentile?: number;
  /** Frame indices to export (default: all). */
  frames?: number[];
  /** Keep points from the white padding of 'pad' preprocessing (default false: they are not scene). */
  includePadding?: boolean;
  /** Background filters of the official demo (need the `images` tensor for colours). */
  filterBlack?: boolean;
  filterWhite?: boolean;
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

export { CONF_EPSILON, percentile } from "../../../common/point-selection.js";

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

  // Candidates: the selected frames' pixels that can be points (finite, not padding). The shared
  // selection takes the percentile over exactly these, as the viewer does on its cloud.
  const pixel = new Uint32Array(frames.length * HW);
  let n = 0;
  let nonFinite = 0;
  const padding = !opts.includePadding && out.frames !== undefined;
  for (const s of frames)
    for (let v = 0; v < out.H; v++)
      for (let u = 0; u < out.W; u++) {
        const i = s * HW + v * out.W + u;
        if (padding && !inContent(out, s, u, v)) continue;
        if (!(Number.isFinite(xyz[3 * i]) && Number.isFinite(xyz[3 * i + 1]) && Number.isFinite(xyz[3 * i + 2]))) {
          nonFinite++;
          continue;
        }
        pixel[n++] = i;
      }
  const candConf = new Float32Array(n);
  const candFrame = new Uint16Array(n);
  const wantColors = !!out.images && (opts.filterBlack || opts.filterWhite);
  const colors = wantColors ? new Uint8Array(3 * n) : null;
  for (let k = 0; k < n; k++) {
    const i = pixel[k];
    candConf[k] = conf[i];
    candFrame[k] = Math.floor(i / HW);
    if (colors) pixelColor(out, i, colors, 3 * k);
  }
  const sel = selectCandidates(
    { conf: candConf, frame: candFrame, colors },
    { confPercentile: p, hiddenFrames: [], filterBlack: !!opts.filterBlack, filterWhite: !!opts.filterWhite },
  );
  const indices = new Uint32Array(sel.keep.length);
  for (let k = 0; k < indices.length; k++) indices[k] = pixel[sel.keep[k]];
  return { points, frames, indices, threshold: sel.threshold, considered: frames.length * HW, nonFinite };
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

// Which points are shown and exported: one function for the 3-D viewer (on its decimated cloud)
// and for every export (on the full engine output), so both apply the same frame filter, the same
// confidence percentile over the same point set, and the same background filters. Pure; imports only common/.

import { percentile } from "./percentile.js";

export { percentile };

export interface SelectionSettings {
  /** 0..100: keep conf >= this percentile of the visible frames' candidate confidences. */
  confPercentile: number;
  /** Frames left out (the frame filter). */
  hiddenFrames: readonly number[];
  /** Drop near-black points (the official demo: r+g+b < 16 of 765). */
  filterBlack: boolean;
  /** Drop near-white points (the official demo: all three channels > 240). */
  filterWhite: boolean;
}

export const DEFAULT_SELECTION: SelectionSettings = { confPercentile: 50, hiddenFrames: [], filterBlack: false, filterWhite: false };

/** The official demos drop near-zero confidences too (VGGT's conf = 1 + exp(x) is never that small). */
export const CONF_EPSILON = 1e-5;

/** Candidate points: padding and non-finite positions already left out by the caller. */
export interface Candidates {
  conf: Float32Array;
  /** Frame index of each candidate. */
  frame: ArrayLike<number>;
  /** 8-bit RGB per candidate (3 per point); null when the colours are unknown (no background filters then). */
  colors: Uint8Array | null;
  /** A sample decimated by confidence (see ConfidenceStrata): the percentile is that of the full set. */
  strata?: ConfidenceStrata;
}

/**
 * How a decimated cloud was sampled: points with conf below `split` kept with probability
 * 1 / weightLow, the others with 1 / weightHigh (weightLow >= weightHigh: low confidences are
 * thinned more). Each kept point stands for `weight` points of the full set.
 */
export interface ConfidenceStrata {
  split: number;
  weightLow: number;
  weightHigh: number;
}

/** The full-set count a kept point stands for. */
export function strataWeight(s: ConfidenceStrata, conf: number): number {
  return conf < s.split ? s.weightLow : s.weightHigh;
}

export function isBackground(r: number, g: number, b: number, s: Pick<SelectionSettings, "filterBlack" | "filterWhite">): boolean {
  return (s.filterBlack && r + g + b < 16) || (s.filterWhite && r > 240 && g > 240 && b > 240);
}

/**
 * The full set's percentile from a sample stratified at `split`: every low-stratum value is below
 * every high-stratum one, and within a stratum the sample is uniform, so the rank among the full
 * set's points falls in one stratum, where it is an ordinary percentile of that stratum's sample.
 */
export function stratifiedPercentile(values: Float32Array, p: number, s: ConfidenceStrata): number {
  let nLo = 0;
  for (let i = 0; i < values.length; i++) if (values[i] < s.split) nLo++;
  const lo = new Float32Array(nLo);
  const hi = new Float32Array(values.length - nLo);
  let a = 0;
  let b = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < s.split) lo[a++] = values[i];
    else hi[b++] = values[i];
  }
  const wLo = nLo * s.weightLow;
  const wHi = hi.length * s.weightHigh;
  if (wLo + wHi === 0) return NaN;
  const r = (p / 100) * (wLo + wHi);
  if (hi.length === 0 || (r <= wLo && nLo > 0)) return percentile(lo, Math.min(100, (100 * r) / Math.max(wLo, 1e-30)));
  return percentile(hi, Math.min(100, Math.max(0, (100 * (r - wLo)) / wHi)));
}

export interface Selection {
  /** The confidence threshold (0 when the percentile is 0). */
  threshold: number;
  /** Indices into the candidates, ascending. */
  keep: Uint32Array;
}

/**
 * The selection: the percentile is taken over the visible frames' candidates (the official viewer
 * takes it after its frame filter), then points below it, near-zero confidences, hidden frames and,
 * if asked, background colours are dropped.
 */
export function selectCandidates(c: Candidates, s: SelectionSettings): Selection {
  const p = s.confPercentile;
  if (!(p >= 0 && p <= 100)) throw new Error(`confidence percentile must be within 0..100, got ${p}`);
  const n = c.conf.length;
  const hidden = new Set(s.hiddenFrames);
  const pool = new Float32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = c.conf[i];
    if (!hidden.has(c.frame[i]) && !Number.isNaN(v)) pool[m++] = v;
  }
  const threshold = p === 0 ? 0 : c.strata ? stratifiedPercentile(pool.subarray(0, m), p, c.strata) : percentile(pool.subarray(0, m), p);
  const bg = c.colors !== null && (s.filterBlack || s.filterWhite);
  const keep = new Uint32Array(m);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = c.conf[i];
    if (hidden.has(c.frame[i]) || !(v >= threshold && v > CONF_EPSILON)) continue;
    if (bg && isBackground(c.colors![3 * i], c.colors![3 * i + 1], c.colors![3 * i + 2], s)) continue;
    keep[k++] = i;
  }
  return { threshold, keep: keep.slice(0, k) };
}

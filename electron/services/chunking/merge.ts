// Merging chunk outputs (each a normal engine output file) into ONE engine output file in the same
// format, so that the viewer and every export read it unchanged.
//
// - Alignment (ChunkAligner): chunk i is aligned onto chunk i-1, already placed in chunk 0's frame,
//   by a robust confidence-weighted Sim(3) (common/sim3.ts) between the two chunks' world points of
//   the frames they share. Branch: the depth branch (world_points_from_depth, depth_conf) by default:
//   the official authors report depth + camera as more accurate than the point head, and it is the
//   branch whose points are tied to the cameras we transform. Weight of a pixel: the smaller of its
//   two confidences; pixels below the median of that weight (sky, edges) are left out.
//   Each transform maps straight into chunk 0's frame (the target points are already placed), so
//   the chain is implicit and residuals are in chunk 0's units.
// - Overlap frames are taken from the EARLIER chunk: it is already placed, and the later chunk was
//   fitted to it, so the earlier one's cameras are the reference the fit is measured against.
// - Writing (writeMergedOutput): streamed, one chunk file in memory at a time; positional writes
//   into a temp file beside the target, fsync, rename (nothing half-written is ever visible).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { applySim3, IDENTITY_SIM3, robustSim3, Sim3Error, type Mat3, type Sim3 } from "../../../common/sim3.js";
import { rotationToQuaternion } from "../export/camera-math.js";
import type { DType } from "../tensors/safetensors.js";
import type { ChunkSummary } from "../../ipc/types.js";
import { ChunkFile, DTYPE_SIZE } from "./chunk-file.js";
import type { ChunkSpan } from "./plan.js";

export type AlignBranch = "depth" | "pointmap";

/** What the merge says about one chunk (chunk 0: the reference, residual null): the IPC contract's
 *  ChunkSummary, which runs record as they are. */
export type ChunkReport = ChunkSummary;

export class ChunkMergeError extends Error {}


/** Per-frame tensors of an engine output and what a Sim(3) of the world does to them. */
const GEOMETRY = {
  extrinsic: "camera",
  pose_enc: "pose",
  depth: "scale",
  world_points: "points",
  world_points_from_depth: "points",
} as const;
const UNCHANGED = new Set(["intrinsic", "depth_conf", "world_points_conf", "images"]);

/** Frame count, H, W of a chunk output, with every tensor checked to be per-frame and known. */
function chunkShape(file: ChunkFile, source: string, frames: number): { H: number; W: number } {
  const ext = file.tensors.get("extrinsic");
  if (!ext) throw new ChunkMergeError(`${source}: missing tensor 'extrinsic' (is this a vggt-engine output?)`);
  const conf = file.tensors.get("depth_conf") ?? file.tensors.get("world_points_conf");
  if (!conf || conf.shape.length !== 3) throw new ChunkMergeError(`${source}: missing tensor 'depth_conf' or 'world_points_conf' [S,H,W]`);
  for (const [name, t] of file.tensors) {
    if (!(name in GEOMETRY) && !UNCHANGED.has(name)) throw new ChunkMergeError(`${source}: tensor '${name}' is not one a chunk merge knows how to transform`);
    if (t.shape[0] !== frames) throw new ChunkMergeError(`${source}: tensor '${name}' has ${t.shape[0]} frames, the chunk ran ${frames}`);
  }
  return { H: conf.shape[1], W: conf.shape[2] };
}

/** The frames [from, to) of a tensor with the world mapped by T (a copy; chunk 0 is copied as is). */
function transformFrames(name: string, file: ChunkFile, from: number, to: number, T: Sim3): Uint8Array {
  const kind = GEOMETRY[name as keyof typeof GEOMETRY];
  if (!kind || T === IDENTITY_SIM3) return file.frames(name, from, to);
  const v = file.framesF32(name, from, to);
  const { s, R } = T;
  const frames = to - from;
  if (kind === "scale") for (let i = 0; i < v.length; i++) v[i] *= s;
  else if (kind === "points")
    for (let i = 0; i < v.length; i += 3) {
      const p = applySim3(T, v[i], v[i + 1], v[i + 2]);
      v[i] = p[0];
      v[i + 1] = p[1];
      v[i + 2] = p[2];
    }
  else {
    // Camera-from-world [Rc | tc] under X' = s R X + t: Rc' = Rc R^T, tc' = s tc - Rc R^T t
    // (camera coordinates scale by s, so depths do too and the intrinsics stay).
    const per = kind === "camera" ? 12 : 9;
    for (let f = 0; f < frames; f++) {
      const o = per * f;
      let Rc: Mat3, tc: [number, number, number];
      if (kind === "camera") {
        Rc = [v[o], v[o + 1], v[o + 2], v[o + 4], v[o + 5], v[o + 6], v[o + 8], v[o + 9], v[o + 10]];
        tc = [v[o + 3], v[o + 7], v[o + 11]];
      } else {
        // pose_enc: translation, quaternion (x, y, z, w), fov_h, fov_w (the official encoding).
        const [x, y, z, w] = [v[o + 3], v[o + 4], v[o + 5], v[o + 6]];
        const n = Math.hypot(x, y, z, w) || 1;
        const [qx, qy, qz, qw] = [x / n, y / n, z / n, w / n];
        Rc = [
          1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw),
          2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw),
          2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy),
        ];
        tc = [v[o], v[o + 1], v[o + 2]];
      }
      const Rn = new Array(9).fill(0) as Mat3;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) Rn[3 * i + j] += Rc[3 * i + k] * R[3 * j + k];
      const tn = [0, 1, 2].map((i) => s * tc[i] - (Rn[3 * i] * T.t[0] + Rn[3 * i + 1] * T.t[1] + Rn[3 * i + 2] * T.t[2]));
      if (kind === "camera") {
        for (let i = 0; i < 3; i++) {
          v[o + 4 * i] = Rn[3 * i];
          v[o + 4 * i + 1] = Rn[3 * i + 1];
          v[o + 4 * i + 2] = Rn[3 * i + 2];
          v[o + 4 * i + 3] = tn[i];
        }
      } else {
        const [qw, qx, qy, qz] = rotationToQuaternion(Rn);
        v.set([tn[0], tn[1], tn[2], qx, qy, qz, qw], o);
      }
    }
  }
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Estimates each chunk's Sim(3) into chunk 0's frame as the chunks arrive, in order; keeps only
 *  the placed overlap points the next chunk needs. */
export class ChunkAligner {
  readonly transforms: Sim3[] = [];
  readonly reports: ChunkReport[] = [];
  private shape: { H: number; W: number } | null = null;
  /** Chunk i-1's points and weights of the frames it shares with chunk i, in chunk 0's frame. */
  private carry: { xyz: Float32Array; conf: Float32Array } | null = null;

  constructor(
    private readonly plan: ChunkSpan[],
    private readonly branch: AlignBranch = "depth",
  ) {}

  get frameShape(): { H: number; W: number } | null {
    return this.shape;
  }

  add(file: ChunkFile): ChunkReport {
    const source = file.path;
    const i = this.transforms.length;
    const span = this.plan[i];
    if (!span) throw new ChunkMergeError(`${source}: more chunk outputs than planned chunks (${this.plan.length})`);
    const frames = span.last - span.first + 1;
    const shape = chunkShape(file, source, frames);
    if (this.shape && (shape.H !== this.shape.H || shape.W !== this.shape.W))
      throw new ChunkMergeError(
        `${source}: chunk ${i} was preprocessed to ${shape.W}x${shape.H}, chunk 0 to ${this.shape.W}x${this.shape.H}: a chunked run needs images that preprocess to one size (use images of one size, or --preprocess pad)`,
      );
    this.shape = shape;
    const [xyzName, confName] = this.branch === "depth" ? ["world_points_from_depth", "depth_conf"] : ["world_points", "world_points_conf"];
    const hw = shape.H * shape.W;
    const shared = span.firstNew - span.first;
    let T: Sim3 = IDENTITY_SIM3;
    let report: ChunkReport;
    if (i === 0) {
      report = { index: 0, frames: [span.first, span.last], scale: 1, rotationDeg: 0, residual: null, relativeResidual: null, inliers: 1, points: 0 };
    } else {
      const prev = this.carry!;
      const n = shared * hw; // the shared frames are this chunk's first ones
      const xyz = file.framesF32(xyzName, 0, shared);
      const conf = file.framesF32(confName, 0, shared);
      const w = new Float32Array(n);
      for (let k = 0; k < n; k++) w[k] = Math.min(conf[k], prev.conf[k]);
      const cut = medianOf(w);
      for (let k = 0; k < n; k++) if (!(w[k] >= cut)) w[k] = 0;
      let fit;
      try {
        fit = robustSim3(xyz, prev.xyz, w, { seed: i });
      } catch (e) {
        if (e instanceof Sim3Error) throw new ChunkMergeError(`${source}: chunk ${i} cannot be aligned to chunk ${i - 1} on frames ${span.first}-${span.firstNew - 1}: ${e.message}`);
        throw e;
      }
      T = fit.transform;
      const c = (T.R[0] + T.R[4] + T.R[8] - 1) / 2;
      report = {
        index: i,
        frames: [span.first, span.last],
        scale: T.s,
        rotationDeg: (Math.acos(Math.max(-1, Math.min(1, c))) * 180) / Math.PI,
        residual: fit.rms,
        relativeResidual: fit.relativeRms,
        inliers: fit.inliers / fit.points,
        points: fit.points,
      };
    }
    this.transforms.push(T);
    this.reports.push(report);
    const next = this.plan[i + 1];
    if (next) {
      // Frames next.first..span.last, placed in chunk 0's frame.
      const from = next.first - span.first;
      const frames = span.last - span.first + 1;
      const placed = file.framesF32(xyzName, from, frames);
      if (T !== IDENTITY_SIM3)
        for (let k = 0; k < placed.length; k += 3) {
          const p = applySim3(T, placed[k], placed[k + 1], placed[k + 2]);
          placed[k] = p[0];
          placed[k + 1] = p[1];
          placed[k + 2] = p[2];
        }
      this.carry = { xyz: placed, conf: file.framesF32(confName, from, frames) };
    } else this.carry = null;
    return report;
  }
}

function medianOf(a: Float32Array): number {
  const b = Float32Array.from(a).sort();
  return b.length ? b[b.length >> 1] : 0;
}

function mergedFrames(files: { metadata: Record<string, string> }[], plan: ChunkSpan[], sources: string[]): string | undefined {
  if (files.some((f) => f.metadata.frames === undefined)) return undefined;
  const all: unknown[] = [];
  files.forEach((f, i) => {
    let list: unknown;
    try {
      list = JSON.parse(f.metadata.frames);
    } catch {
      throw new ChunkMergeError(`${sources[i]}: metadata 'frames' is not valid JSON`);
    }
    const span = plan[i];
    if (!Array.isArray(list) || list.length !== span.last - span.first + 1) throw new ChunkMergeError(`${sources[i]}: metadata 'frames' does not list the chunk's ${span.last - span.first + 1} frames`);
    all.push(...list.slice(span.firstNew - span.first));
  });
  return JSON.stringify(all);
}

export interface MergeOptions {
  /** Extra metadata entries of the merged file (strings). */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

/** Writes the merged output of chunk files (in plan order) with their transforms into chunk 0's
 *  frame, atomically: temp file, fsync, rename. Reads one chunk file at a time. */
export function writeMergedOutput(chunkPaths: string[], plan: ChunkSpan[], transforms: Sim3[], output: string, opts: MergeOptions = {}): void {
  if (chunkPaths.length !== plan.length || transforms.length !== plan.length) throw new ChunkMergeError(`merge: ${chunkPaths.length} chunk files and ${transforms.length} transforms for ${plan.length} chunks`);
  const S = plan[plan.length - 1].last + 1;
  // Header from chunk 0's tensors with the frame count of the whole sequence. The frames metadata
  // of every chunk is needed up front (the header comes first), so read it from each header.
  const heads = chunkPaths.map((p) => {
    const f = ChunkFile.open(p);
    f.close();
    return f;
  });
  const first = heads[0];
  const names = [...first.tensors.keys()];
  const tensors: Record<string, { dtype: DType; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  const perFrame = new Map<string, number>();
  for (const name of names) {
    const t = first.tensors.get(name)!;
    const frameBytes = DTYPE_SIZE[t.dtype] * t.shape.slice(1).reduce((a, b) => a * b, 1);
    heads.forEach((h, i) => {
      const u = h.tensors.get(name);
      if (!u || u.dtype !== t.dtype || u.shape.length !== t.shape.length || u.shape.slice(1).some((d, k) => d !== t.shape[k + 1]))
        throw new ChunkMergeError(`${chunkPaths[i]}: tensor '${name}' differs from chunk 0's (${u ? `${u.dtype} [${u.shape}]` : "missing"} vs ${t.dtype} [${t.shape}])`);
    });
    const bytes = frameBytes * S;
    if (!Number.isSafeInteger(bytes) || !Number.isSafeInteger(offset + bytes)) throw new ChunkMergeError(`merge: tensor '${name}' of ${S} frames is too large`);
    perFrame.set(name, frameBytes);
    tensors[name] = { dtype: t.dtype, shape: [S, ...t.shape.slice(1)], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const frames = mergedFrames(heads, plan, chunkPaths);
  const metadata: Record<string, string> = { ...first.metadata, ...(frames !== undefined ? { frames } : {}), ...(opts.metadata ?? {}) };
  let json = JSON.stringify({ __metadata__: metadata, ...tensors });
  while ((Buffer.byteLength(json) + 8) % 8) json += " ";
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const dataStart = 8 + Buffer.byteLength(json);

  const tmp = `${output}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, "w");
  let ok = false;
  try {
    writeAll(fd, head, 0);
    writeAll(fd, Buffer.from(json), 8);
    plan.forEach((span, i) => {
      if (opts.signal?.aborted) throw new ChunkMergeError("cancelled");
      const file = ChunkFile.open(chunkPaths[i]);
      try {
        const from = span.firstNew - span.first;
        const to = span.last - span.first + 1;
        // A few frames at a time: memory stays small whatever the chunk size.
        for (const name of names)
          for (let f = from; f < to; f += 4) {
            const bytes = transformFrames(name, file, f, Math.min(to, f + 4), transforms[i]);
            writeAll(fd, bytes, dataStart + tensors[name].data_offsets[0] + (span.first + f) * perFrame.get(name)!);
          }
      } finally {
        file.close();
      }
    });
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, output);
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, position + done);
}

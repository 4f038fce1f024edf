// Refine a finished reconstruction with bundle adjustment on predicted tracks:
//   query points (query-points.ts) -> tracks from the engine's track head (a TrackPredictor)
//   -> filtering and DLT triangulation with the feed-forward cameras (track-model.ts)
//   -> COLMAP text model with tracks -> `colmap bundle_adjuster` (bundle-adjust.ts)
//   -> a new engine output: refined cameras, depth-branch points recomputed from the kept depth maps
//      with them, and the refined sparse points.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { frameCamera, mat3Mul, modelToOriginal, rotationToQuaternion, type Mat3 } from "../export/camera-math.js";
import { engineOutputFromSafetensors, type EngineOutput } from "../export/engine-output.js";
import { getFloat32, readSafetensors, writeSafetensors, type SafetensorsFile, type TensorToWrite } from "../tensors/safetensors.js";
import { bundleAdjust } from "./bundle-adjust.js";
import { RefineError } from "./errors.js";
import { chooseQueryFrames, gridKeypoints } from "./query-points.js";
import { reprojectionStats, type ReprojectionStats, type SparseCamera, type SparseImage, type SparseModel } from "./sparse-model.js";
import { buildTrackModel, DEFAULT_TRACK_FILTER, type TrackFilter, type TrackModelReport, type TrackSet } from "./track-model.js";

/** Tracks of query points given on frame `queryFrame` (model pixels), returned in the run's frame
 *  order: track [S][N][2] in model pixels of each frame, vis and conf [S][N]. */
export type TrackPredictor = (
  queryFrame: number,
  points: [number, number][],
  signal?: AbortSignal,
) => Promise<{ track: number[][][]; vis: number[][]; conf: number[][]; via?: "cached-features" | "forward-pass" }>;

export interface RefineOptions {
  /** Query points in total, spread over the query frames (official demo: up to 4096 per frame). */
  queries?: number;
  queryFrames?: number;
  filter?: Partial<TrackFilter>;
  colmap?: string;
  /** Keeps COLMAP's input and output models here (default: a temporary folder, removed). */
  workDir?: string;
  signal?: AbortSignal;
  onStage?: (stage: "tracks" | "triangulate" | "bundle_adjust" | "write", detail: string) => void;
}

export interface RefineReport {
  queryFrames: number[];
  queries: number;
  tracks: TrackModelReport;
  before: ReprojectionStats;
  after: ReprojectionStats;
  /** Largest rotation change of a camera (degrees) and the refined focal length change (ratio - 1). */
  maxRotationChangeDeg: number;
  maxFocalChange: number;
  ms: number;
}

export const DEFAULT_QUERIES = 1024;
export const DEFAULT_QUERY_FRAMES = 3;
const MAX_QUERIES_PER_FRAME = 4096;

/** Cameras and images of an engine output at the original image size, COLMAP's corner convention. */
export function sparseCameras(out: EngineOutput): { cameras: SparseCamera[]; images: SparseImage[] } {
  const cameras: SparseCamera[] = [];
  const images: SparseImage[] = [];
  for (let s = 0; s < out.S; s++) {
    const c = frameCamera(out, s);
    cameras.push({ id: s + 1, width: c.width, height: c.height, fx: c.K[0], fy: c.K[4], cx: c.K[2] + 0.5, cy: c.K[5] + 0.5 });
    images.push({ id: s + 1, cameraId: s + 1, name: `frame_${String(s).padStart(4, "0")}`, R: c.R, t: c.t });
  }
  return { cameras, images };
}

/** Model pixel (index convention) of frame s -> original pixel, corner convention. */
function toOriginalCorner(out: EngineOutput, s: number, u: number, v: number): [number, number] {
  const m = out.frames?.[s];
  return m ? [(u + 0.5 - m.offset_x) * m.scale_x, (v + 0.5 - m.offset_y) * m.scale_y] : [u + 0.5, v + 0.5];
}

function queryColor(out: EngineOutput, s: number, u: number, v: number): [number, number, number] {
  if (!out.images) return [128, 128, 128];
  const { H, W } = out;
  const x = Math.min(W - 1, Math.max(0, Math.round(u)));
  const y = Math.min(H - 1, Math.max(0, Math.round(v)));
  const c = (k: number) => Math.round(255 * Math.min(1, Math.max(0, out.images![((s * 3 + k) * H + y) * W + x])));
  return [c(0), c(1), c(2)];
}

/** Query frames and points, tracks from the predictor, as one TrackSet in original pixels. */
export async function predictTracks(out: EngineOutput, predict: TrackPredictor, queries: number, queryFrames: number, signal?: AbortSignal): Promise<{ tracks: TrackSet; frames: number[] }> {
  const frames = chooseQueryFrames(out, queryFrames);
  const per = Math.min(MAX_QUERIES_PER_FRAME, Math.max(1, Math.ceil(queries / frames.length)));
  const parts: { track: number[][][]; vis: number[][]; conf: number[][]; rgb: [number, number, number][]; q: number }[] = [];
  for (const q of frames) {
    const pts = gridKeypoints(out, q, per);
    if (!pts.length) continue;
    const r = await predict(q, pts, signal);
    if (r.track.length !== out.S || r.track.some((f) => f.length !== pts.length))
      throw new Error(`internal: the track predictor returned ${r.track.length} frames of ${r.track[0]?.length} points, expected ${out.S} of ${pts.length}`);
    parts.push({ ...r, rgb: pts.map(([u, v]) => queryColor(out, q, u, v)), q });
  }
  const N = parts.reduce((a, p) => a + p.track[0].length, 0);
  const S = out.S;
  const tracks: TrackSet = { S, N, xy: new Float64Array(S * N * 2), vis: new Float32Array(S * N), conf: new Float32Array(S * N), rgb: new Uint8Array(3 * N) };
  let base = 0;
  for (const p of parts) {
    const n = p.track[0].length;
    for (let s = 0; s < S; s++)
      for (let i = 0; i < n; i++) {
        const k = s * N + base + i;
        const [x, y] = toOriginalCorner(out, s, p.track[s][i][0], p.track[s][i][1]);
        tracks.xy[2 * k] = x;
        tracks.xy[2 * k + 1] = y;
        tracks.vis[k] = p.vis[s][i];
        tracks.conf[k] = p.conf[s][i];
      }
    p.rgb.forEach((c, i) => tracks.rgb.set(c, 3 * (base + i)));
    base += n;
  }
  return { tracks, frames };
}

function invertAffine(M: Mat3): Mat3 {
  // Upper-triangular affine [a 0 b; 0 c d; 0 0 1] as modelToOriginal produces.
  return [1 / M[0], 0, -M[2] / M[0], 0, 1 / M[4], -M[5] / M[4], 0, 0, 1];
}

/** The new output file: every tensor of the source, with the refined cameras (extrinsic, intrinsic,
 *  pose_enc), world_points_from_depth recomputed from the kept depth maps with them, and the refined
 *  sparse points (refined_points [P,3], refined_points_rgb [P,3] uint8). */
export function refinedOutputTensors(file: SafetensorsFile, out: EngineOutput, refined: SparseModel, source: string): Record<string, TensorToWrite> {
  const { S, H, W } = out;
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of file.tensors) tensors[name] = { dtype: t.dtype, shape: t.shape, data: t.bytes };
  const extrinsic = new Float32Array(S * 12);
  const intrinsic = new Float32Array(S * 9);
  const poseEnc = new Float32Array(S * 9);
  const camOf = new Map(refined.cameras.map((c) => [c.id, c]));
  const Ks: Mat3[] = [];
  for (let s = 0; s < S; s++) {
    const im = refined.images.find((i) => i.id === s + 1);
    if (!im) throw new RefineError(`${source}: the refined model has no image for frame ${s}`);
    const c = camOf.get(im.cameraId)!;
    const Korig: Mat3 = [c.fx, 0, c.cx - 0.5, 0, c.fy, c.cy - 0.5, 0, 0, 1];
    const m = out.frames?.[s];
    const K = m ? mat3Mul(invertAffine(modelToOriginal(m)), Korig) : Korig;
    Ks.push(K);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) extrinsic[12 * s + 4 * i + j] = im.R[3 * i + j];
      extrinsic[12 * s + 4 * i + 3] = im.t[i];
    }
    intrinsic.set(K, 9 * s);
    // As the official extri_intri_to_pose_encoding: T, quaternion (x, y, z, w), fov_h, fov_w.
    const [qw, qx, qy, qz] = rotationToQuaternion(im.R);
    poseEnc.set([im.t[0], im.t[1], im.t[2], qx, qy, qz, qw, 2 * Math.atan(H / 2 / K[4]), 2 * Math.atan(W / 2 / K[0])], 9 * s);
  }
  tensors.extrinsic = { dtype: "F32", shape: [S, 3, 4], data: extrinsic };
  tensors.intrinsic = { dtype: "F32", shape: [S, 3, 3], data: intrinsic };
  if (tensors.pose_enc) tensors.pose_enc = { dtype: "F32", shape: [S, 9], data: poseEnc };
  if (file.tensors.has("depth")) {
    const depth = getFloat32(file, "depth", source).data;
    if (depth.length !== S * H * W) throw new RefineError(`${source}: tensor 'depth' has ${depth.length} values, expected ${S * H * W}`);
    const wpd = new Float32Array(S * H * W * 3);
    for (let s = 0; s < S; s++) {
      const K = Ks[s];
      const e = extrinsic.subarray(12 * s, 12 * s + 12);
      for (let v = 0; v < H; v++)
        for (let u = 0; u < W; u++) {
          const i = (s * H + v) * W + u;
          const d = depth[i];
          const xc = ((u - K[2]) / K[0]) * d - e[3];
          const yc = ((v - K[5]) / K[4]) * d - e[7];
          const zc = d - e[11];
          wpd[3 * i] = e[0] * xc + e[4] * yc + e[8] * zc;
          wpd[3 * i + 1] = e[1] * xc + e[5] * yc + e[9] * zc;
          wpd[3 * i + 2] = e[2] * xc + e[6] * yc + e[10] * zc;
        }
    }
    tensors.world_points_from_depth = { dtype: "F32", shape: [S, H, W, 3], data: wpd };
  } else delete tensors.world_points_from_depth;
  const P = refined.points.length;
  const xyz = new Float32Array(3 * P);
  const rgb = new Uint8Array(3 * P);
  refined.points.forEach((p, k) => {
    xyz.set(p.xyz, 3 * k);
    rgb.set(p.rgb, 3 * k);
  });
  tensors.refined_points = { dtype: "F32", shape: [P, 3], data: xyz };
  tensors.refined_points_rgb = { dtype: "U8", shape: [P, 3], data: rgb };
  return tensors;
}

/** Refines the reconstruction in `inputPath` and writes the new output (atomically) to `outputPath`. */
export async function refineOutputFile(inputPath: string, outputPath: string, predict: TrackPredictor, opts: RefineOptions = {}): Promise<RefineReport> {
  const t0 = Date.now();
  const file = readSafetensors(inputPath);
  const out = engineOutputFromSafetensors(file, inputPath);
  if (out.S < 2) throw new RefineError(`${inputPath}: refine needs at least 2 frames, this run has ${out.S}`);
  const queries = opts.queries ?? DEFAULT_QUERIES;
  if (!Number.isInteger(queries) || queries < 1) throw new RefineError(`queries must be a positive integer, got ${queries}`);
  const stage = opts.onStage ?? (() => undefined);
  stage("tracks", `${queries} query points`);
  const { tracks, frames } = await predictTracks(out, predict, queries, opts.queryFrames ?? DEFAULT_QUERY_FRAMES, opts.signal);
  stage("triangulate", `${tracks.N} tracks`);
  const { cameras, images } = sparseCameras(out);
  const { model, report } = buildTrackModel(cameras, images, tracks, { ...DEFAULT_TRACK_FILTER, ...opts.filter });
  const before = reprojectionStats(model);
  stage("bundle_adjust", `${before.observations} observations`);
  const work = opts.workDir ?? mkdtempSync(join(tmpdir(), "vggt-refine-"));
  mkdirSync(work, { recursive: true });
  try {
    const { model: refined } = await bundleAdjust(work, model, { colmap: opts.colmap, signal: opts.signal });
    const after = reprojectionStats(refined);
    let maxRot = 0;
    let maxFocal = 0;
    refined.images.forEach((im, s) => {
      let tr = 0;
      for (let i = 0; i < 9; i++) tr += im.R[i] * images[s].R[i];
      maxRot = Math.max(maxRot, (Math.acos(Math.min(1, Math.max(-1, (tr - 1) / 2))) * 180) / Math.PI);
      maxFocal = Math.max(maxFocal, Math.abs(refined.cameras[s].fx / cameras[s].fx - 1));
    });
    const rep: RefineReport = { queryFrames: frames, queries: tracks.N, tracks: report, before, after, maxRotationChangeDeg: maxRot, maxFocalChange: maxFocal, ms: 0 };
    stage("write", outputPath);
    rep.ms = Date.now() - t0;
    const meta = { ...(file.metadata ?? {}), refine: JSON.stringify(rep) };
    writeSafetensors(outputPath, refinedOutputTensors(file, out, refined, inputPath), meta);
    return rep;
  } finally {
    if (!opts.workDir) rmSync(work, { recursive: true, force: true });
  }
}

export function formatRefineReport(r: RefineReport): string {
  return [
    `query frames ${r.queryFrames.join(", ")}; ${r.queries} tracks, ${r.tracks.kept} kept (${r.after.observations} observations)`,
    `mean reprojection error ${r.before.mean.toFixed(3)} px before, ${r.after.mean.toFixed(3)} px after bundle adjustment (max ${r.before.max.toFixed(2)} -> ${r.after.max.toFixed(2)})`,
    `cameras moved by up to ${r.maxRotationChangeDeg.toFixed(3)} deg, focal lengths by up to ${(100 * r.maxFocalChange).toFixed(2)}%`,
  ].join("\n");
}

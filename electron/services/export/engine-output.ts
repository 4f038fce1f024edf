// The engine's output file (`vggt-engine infer --out X.safetensors`) as typed arrays, validated for export.
import { getFloat32, readSafetensors, type SafetensorsFile } from "../tensors/safetensors.js";

/** How a preprocessed frame maps to its original image (see native-engine/src/preprocess/preprocess.h):
 *  x + 0.5 = (u + 0.5 - offset_x) * scale_x,  y + 0.5 = (v + 0.5 - offset_y) * scale_y. */
export interface FrameMapping {
  path: string;
  orig_width: number;
  orig_height: number;
  scale_x: number;
  scale_y: number;
  offset_x: number;
  offset_y: number;
  content_x0: number;
  content_y0: number;
  content_width: number;
  content_height: number;
}

export interface EngineOutput {
  /** Where it came from, for error messages. */
  source: string;
  S: number;
  H: number;
  W: number;
  /** [S,3,4] camera-from-world, OpenCV axes. */
  extrinsic: Float32Array;
  /** [S,3,3] at the preprocessed H, W; pixel (u, v) has coordinate (u, v) (VGGT's unprojection convention). */
  intrinsic: Float32Array;
  worldPoints?: Float32Array; // [S,H,W,3]
  worldPointsConf?: Float32Array; // [S,H,W]
  worldPointsFromDepth?: Float32Array; // [S,H,W,3]
  depthConf?: Float32Array; // [S,H,W]
  images?: Float32Array; // [S,3,H,W] in [0,1]
  /** Absent when the engine ran on a tensor rather than image files. */
  frames?: FrameMapping[];
  preprocess?: string;
  metadata: Record<string, string>;
}

export class EngineOutputError extends Error {}

function expectShape(source: string, name: string, shape: number[], expected: (number | string)[]): void {
  const ok = shape.length === expected.length && expected.every((e, i) => typeof e === "string" || shape[i] === e);
  if (!ok)
    throw new EngineOutputError(
      `${source}: tensor '${name}' has shape [${shape.join(",")}], expected [${expected.join(",")}]`,
    );
}

const FRAME_NUMBERS = [
  "orig_width",
  "orig_height",
  "scale_x",
  "scale_y",
  "offset_x",
  "offset_y",
  "content_x0",
  "content_y0",
  "content_width",
  "content_height",
] as const;

function parseFrames(source: string, text: string, S: number): FrameMapping[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new EngineOutputError(`${source}: metadata 'frames' is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(raw) || raw.length !== S)
    throw new EngineOutputError(
      `${source}: metadata 'frames' must be an array of ${S} objects (one per frame), got ${Array.isArray(raw) ? raw.length : typeof raw}`,
    );
  return raw.map((f, i) => {
    if (typeof f !== "object" || f === null || typeof f.path !== "string" || f.path === "")
      throw new EngineOutputError(`${source}: metadata 'frames'[${i}] has no 'path'`);
    for (const k of FRAME_NUMBERS)
      if (typeof f[k] !== "number" || !Number.isFinite(f[k]))
        throw new EngineOutputError(`${source}: metadata 'frames'[${i}].${k} is missing or not a number`);
    if (!(f.orig_width > 0 && f.orig_height > 0 && f.scale_x > 0 && f.scale_y > 0))
      throw new EngineOutputError(`${source}: metadata 'frames'[${i}] has a non-positive size or scale`);
    if (!(f.content_width > 0 && f.content_height > 0))
      throw new EngineOutputError(`${source}: metadata 'frames'[${i}] has an empty content rectangle`);
    const m: FrameMapping = { path: f.path } as FrameMapping;
    for (const k of FRAME_NUMBERS) m[k] = f[k];
    return m;
  });
}

/** Validates shapes and metadata. Only the tensors needed by every export (cameras) are mandatory;
 *  point and colour tensors are checked when present and demanded by `requirePoints`/`requireColors`. */
export function engineOutputFromSafetensors(file: SafetensorsFile, source: string): EngineOutput {
  const get = (name: string) => (file.tensors.has(name) ? getFloat32(file, name, source) : undefined);
  const ext = get("extrinsic");
  if (!ext) throw new EngineOutputError(`${source}: missing tensor 'extrinsic' (is this a vggt-engine output file?)`);
  expectShape(source, "extrinsic", ext.shape, ["S", 3, 4]);
  const S = ext.shape[0];
  if (S < 1) throw new EngineOutputError(`${source}: no frames (extrinsic has S = 0)`);
  const intr = get("intrinsic");
  if (!intr) throw new EngineOutputError(`${source}: missing tensor 'intrinsic'`);
  expectShape(source, "intrinsic", intr.shape, [S, 3, 3]);

  const wp = get("world_points");
  const wpd = get("world_points_from_depth");
  const dims = (wp ?? wpd)?.shape ?? get("depth_conf")?.shape ?? get("images")?.shape;
  if (!dims) throw new EngineOutputError(`${source}: no point or image tensors (world_points, world_points_from_depth, images)`);
  const [H, W] = dims.length === 4 && dims[1] === 3 && !(wp ?? wpd) ? [dims[2], dims[3]] : [dims[1], dims[2]];
  if (!(H > 0 && W > 0)) throw new EngineOutputError(`${source}: bad image size ${H}x${W}`);
  if (wp) expectShape(source, "world_points", wp.shape, [S, H, W, 3]);
  if (wpd) expectShape(source, "world_points_from_depth", wpd.shape, [S, H, W, 3]);
  const wpc = get("world_points_conf");
  if (wpc) expectShape(source, "world_points_conf", wpc.shape, [S, H, W]);
  const dc = get("depth_conf");
  if (dc) expectShape(source, "depth_conf", dc.shape, [S, H, W]);
  const img = get("images");
  if (img) expectShape(source, "images", img.shape, [S, 3, H, W]);

  const metadata = file.metadata ?? {};
  if (metadata.format !== undefined && !metadata.format.startsWith("vggt-engine-output/"))
    throw new EngineOutputError(`${source}: metadata format '${metadata.format}' is not a vggt-engine output`);
  const frames = metadata.frames !== undefined ? parseFrames(source, metadata.frames, S) : undefined;
  return {
    source,
    S,
    H,
    W,
    extrinsic: ext.data,
    intrinsic: intr.data,
    worldPoints: wp?.data,
    worldPointsConf: wpc?.data,
    worldPointsFromDepth: wpd?.data,
    depthConf: dc?.data,
    images: img?.data,
    frames,
    preprocess: metadata.preprocess,
    metadata,
  };
}

export function loadEngineOutput(path: string): EngineOutput {
  let file: SafetensorsFile;
  try {
    file = readSafetensors(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new EngineOutputError(`${path}: no such file`);
    if (err.code) throw new EngineOutputError(`${path}: cannot read (${err.message})`);
    throw new EngineOutputError(err.message);
  }
  return engineOutputFromSafetensors(file, path);
}

export type PointSource = "depth" | "pointmap";

/** The point and confidence arrays for a point source; throws naming the missing tensor. */
export function pointArrays(out: EngineOutput, points: PointSource): { xyz: Float32Array; conf: Float32Array } {
  const [xyzName, confName, xyz, conf] =
    points === "depth"
      ? ["world_points_from_depth", "depth_conf", out.worldPointsFromDepth, out.depthConf]
      : ["world_points", "world_points_conf", out.worldPoints, out.worldPointsConf];
  if (!xyz) throw new EngineOutputError(`${out.source}: missing tensor '${xyzName}' needed for --points ${points}`);
  if (!conf) throw new EngineOutputError(`${out.source}: missing tensor '${confName}' needed for --points ${points}`);
  return { xyz, conf };
}

// Reads COLMAP text/binary models back, independently of the writer's code paths: the tests use it on our
// exports and on what COLMAP's own model_converter wrote, to recompute cameras and projections.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ReadCamera {
  id: number;
  model: string;
  width: number;
  height: number;
  params: number[];
}
export interface ReadImage {
  id: number;
  q: number[];
  t: number[];
  cameraId: number;
  name: string;
  points2D: { x: number; y: number; id: bigint }[];
}
export interface ReadPoint {
  id: bigint;
  xyz: number[];
  rgb: number[];
  error: number;
  track: [number, number][];
}
export interface ReadModel {
  cameras: Map<number, ReadCamera>;
  images: Map<number, ReadImage>;
  points: Map<bigint, ReadPoint>;
}

const MODEL_NAMES: Record<number, [string, number]> = { 0: ["SIMPLE_PINHOLE", 3], 1: ["PINHOLE", 4], 2: ["SIMPLE_RADIAL", 4], 3: ["RADIAL", 5], 4: ["OPENCV", 8] };
const INVALID = 0xffffffffffffffffn;

function dataLines(text: string): string[] {
  return text.split("\n").filter((l) => !l.startsWith("#"));
}

export function readColmapText(dir: string): ReadModel {
  const cameras = new Map<number, ReadCamera>();
  for (const l of dataLines(readFileSync(join(dir, "cameras.txt"), "utf8"))) {
    if (!l.trim()) continue;
    const [id, model, w, h, ...p] = l.trim().split(/\s+/);
    cameras.set(+id, { id: +id, model, width: +w, height: +h, params: p.map(Number) });
  }
  const images = new Map<number, ReadImage>();
  const il = dataLines(readFileSync(join(dir, "images.txt"), "utf8"));
  for (let i = 0; i < il.length; i++) {
    if (!il[i].trim()) continue;
    const f = il[i].trim().split(/\s+/);
    const obs = (il[i + 1] ?? "").trim().split(/\s+/).filter(Boolean);
    i++;
    const points2D = [];
    for (let k = 0; k + 2 < obs.length + 0; k += 3) points2D.push({ x: +obs[k], y: +obs[k + 1], id: obs[k + 2] === "-1" ? INVALID : BigInt(obs[k + 2]) });
    images.set(+f[0], { id: +f[0], q: f.slice(1, 5).map(Number), t: f.slice(5, 8).map(Number), cameraId: +f[8], name: f[9], points2D });
  }
  const points = new Map<bigint, ReadPoint>();
  for (const l of dataLines(readFileSync(join(dir, "points3D.txt"), "utf8"))) {
    if (!l.trim()) continue;
    const f = l.trim().split(/\s+/);
    const track: [number, number][] = [];
    for (let k = 8; k + 1 < f.length; k += 2) track.push([+f[k], +f[k + 1]]);
    const id = BigInt(f[0]);
    points.set(id, { id, xyz: f.slice(1, 4).map(Number), rgb: f.slice(4, 7).map(Number), error: +f[7], track });
  }
  return { cameras, images, points };
}

export function readColmapBinary(dir: string): ReadModel {
  const cameras = new Map<number, ReadCamera>();
  let b = readFileSync(join(dir, "cameras.bin"));
  let o = 8;
  for (let n = Number(b.readBigUInt64LE(0)); n > 0; n--) {
    const id = b.readUInt32LE(o);
    const [model, np] = MODEL_NAMES[b.readInt32LE(o + 4)] ?? ["?", 0];
    const width = Number(b.readBigUInt64LE(o + 8));
    const height = Number(b.readBigUInt64LE(o + 16));
    o += 24;
    const params = [];
    for (let k = 0; k < np; k++, o += 8) params.push(b.readDoubleLE(o));
    cameras.set(id, { id, model, width, height, params });
  }
  const images = new Map<number, ReadImage>();
  b = readFileSync(join(dir, "images.bin"));
  o = 8;
  for (let n = Number(b.readBigUInt64LE(0)); n > 0; n--) {
    const id = b.readUInt32LE(o);
    const v = [];
    for (let k = 0; k < 7; k++) v.push(b.readDoubleLE(o + 4 + 8 * k));
    const cameraId = b.readUInt32LE(o + 60);
    const end = b.indexOf(0, o + 64);
    const name = b.toString("utf8", o + 64, end);
    o = end + 1;
    const np = Number(b.readBigUInt64LE(o));
    o += 8;
    const points2D = [];
    for (let k = 0; k < np; k++, o += 24) points2D.push({ x: b.readDoubleLE(o), y: b.readDoubleLE(o + 8), id: b.readBigUInt64LE(o + 16) });
    images.set(id, { id, q: v.slice(0, 4), t: v.slice(4), cameraId, name, points2D });
  }
  const points = new Map<bigint, ReadPoint>();
  b = readFileSync(join(dir, "points3D.bin"));
  o = 8;
  for (let n = Number(b.readBigUInt64LE(0)); n > 0; n--) {
    const id = b.readBigUInt64LE(o);
    const xyz = [b.readDoubleLE(o + 8), b.readDoubleLE(o + 16), b.readDoubleLE(o + 24)];
    const rgb = [b[o + 32], b[o + 33], b[o + 34]];
    const error = b.readDoubleLE(o + 35);
    const tl = Number(b.readBigUInt64LE(o + 43));
    o += 51;
    const track: [number, number][] = [];
    for (let k = 0; k < tl; k++, o += 8) track.push([b.readUInt32LE(o), b.readUInt32LE(o + 4)]);
    points.set(id, { id, xyz, rgb, error, track });
  }
  return { cameras, images, points };
}

/** Pinhole intrinsics of a read camera as [fx, fy, cx, cy]. */
export function pinholeParams(c: ReadCamera): [number, number, number, number] {
  if (c.model === "PINHOLE") return [c.params[0], c.params[1], c.params[2], c.params[3]];
  if (c.model === "SIMPLE_PINHOLE") return [c.params[0], c.params[0], c.params[1], c.params[2]];
  throw new Error(`unexpected camera model ${c.model}`);
}

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

/** A model file that is not what COLMAP writes (names the file and where). */
export class ColmapFormatError extends Error {}

export interface ColmapTexts {
  cameras: string;
  images: string;
  points3D: string;
}
export interface ColmapBuffers {
  cameras: Uint8Array;
  images: Uint8Array;
  points3D: Uint8Array;
}

function dataLines(text: string): [number, string][] {
  return text
    .split("\n")
    .map((l, i) => [i + 1, l] as [number, string])
    .filter(([, l]) => !l.startsWith("#"));
}

/** Fields of one text line as checked numbers; `what(i)` names the field in errors. */
function fieldsOf(file: string, line: number) {
  const bad = (msg: string) => new ColmapFormatError(`${file}:${line}: ${msg}`);
  const num = (s: string | undefined, what: string) => {
    const v = s === undefined ? NaN : Number(s);
    if (s === undefined || s === "" || Number.isNaN(v)) throw bad(`${what} is not a number (${JSON.stringify(s?.slice(0, 20))})`);
    return v;
  };
  const id = (s: string | undefined, what: string) => {
    if (s === undefined || !/^-?\d{1,20}$/.test(s)) throw bad(`${what} is not an integer id (${JSON.stringify(s?.slice(0, 20))})`);
    return BigInt(s);
  };
  return { bad, num, id };
}

export function parseColmapText(t: ColmapTexts, dir = "<model>"): ReadModel {
  const cameras = new Map<number, ReadCamera>();
  for (const [ln, l] of dataLines(t.cameras)) {
    if (!l.trim()) continue;
    const { bad, num } = fieldsOf(join(dir, "cameras.txt"), ln);
    const [id, model, w, h, ...p] = l.trim().split(/\s+/);
    if (model === undefined) throw bad("a camera line needs CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]");
    cameras.set(num(id, "CAMERA_ID"), { id: num(id, "CAMERA_ID"), model, width: num(w, "WIDTH"), height: num(h, "HEIGHT"), params: p.map((x) => num(x, "a parameter")) });
  }
  const images = new Map<number, ReadImage>();
  const il = dataLines(t.images);
  for (let i = 0; i < il.length; i++) {
    const [ln, line] = il[i];
    if (!line.trim()) continue;
    const { bad, num } = fieldsOf(join(dir, "images.txt"), ln);
    const f = line.trim().split(/\s+/);
    if (f.length < 10) throw bad("an image line needs IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME");
    const [oln, obsLine] = il[i + 1] ?? [ln + 1, ""];
    const o = fieldsOf(join(dir, "images.txt"), oln);
    const obs = obsLine.trim().split(/\s+/).filter(Boolean);
    if (obs.length % 3) throw o.bad("POINTS2D must come in triples X Y POINT3D_ID");
    i++;
    const points2D = [];
    for (let k = 0; k + 2 < obs.length; k += 3) {
      const pid = o.id(obs[k + 2], "POINT3D_ID");
      points2D.push({ x: o.num(obs[k], "X"), y: o.num(obs[k + 1], "Y"), id: pid === -1n ? INVALID : pid });
    }
    images.set(num(f[0], "IMAGE_ID"), {
      id: num(f[0], "IMAGE_ID"),
      q: f.slice(1, 5).map((x) => num(x, "a quaternion entry")),
      t: f.slice(5, 8).map((x) => num(x, "a translation entry")),
      cameraId: num(f[8], "CAMERA_ID"),
      name: f[9],
      points2D,
    });
  }
  const points = new Map<bigint, ReadPoint>();
  for (const [ln, l] of dataLines(t.points3D)) {
    if (!l.trim()) continue;
    const { bad, num, id: bigId } = fieldsOf(join(dir, "points3D.txt"), ln);
    const f = l.trim().split(/\s+/);
    if (f.length < 8 || (f.length - 8) % 2) throw bad("a point line needs POINT3D_ID X Y Z R G B ERROR and TRACK pairs");
    const track: [number, number][] = [];
    for (let k = 8; k + 1 < f.length; k += 2) track.push([num(f[k], "IMAGE_ID"), num(f[k + 1], "POINT2D_IDX")]);
    const id = bigId(f[0], "POINT3D_ID");
    points.set(id, { id, xyz: f.slice(1, 4).map((x) => num(x, "a coordinate")), rgb: f.slice(4, 7).map((x) => num(x, "a colour")), error: num(f[7], "ERROR"), track });
  }
  return { cameras, images, points };
}

export function readColmapText(dir: string): ReadModel {
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  return parseColmapText({ cameras: read("cameras.txt"), images: read("images.txt"), points3D: read("points3D.txt") }, dir);
}

/** Bounds-checked little-endian reads; counts are checked against the bytes left before looping. */
class Cursor {
  private readonly b: Buffer;
  o = 0;
  constructor(bytes: Uint8Array, private readonly file: string) {
    this.b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  bad(msg: string): ColmapFormatError {
    return new ColmapFormatError(`${this.file}: ${msg} (at byte ${this.o})`);
  }
  need(n: number): number {
    if (this.o + n > this.b.length) throw this.bad(`truncated: ${n} more bytes needed, ${this.b.length - this.o} left`);
    const at = this.o;
    this.o += n;
    return at;
  }
  u8 = () => this.b[this.need(1)];
  u32 = () => this.b.readUInt32LE(this.need(4));
  i32 = () => this.b.readInt32LE(this.need(4));
  u64 = () => this.b.readBigUInt64LE(this.need(8));
  f64 = () => this.b.readDoubleLE(this.need(8));
  /** A count of records of at least `minBytes` each that must fit in what is left. */
  count(minBytes: number, what: string): number {
    const n = this.u64();
    if (n > BigInt(Math.floor((this.b.length - this.o) / minBytes))) throw this.bad(`${what} count ${n} does not fit in the file`);
    return Number(n);
  }
  cstring(): string {
    const end = this.b.indexOf(0, this.o);
    if (end < 0) throw this.bad("unterminated name");
    const s = this.b.toString("utf8", this.o, end);
    this.o = end + 1;
    return s;
  }
}

export function parseColmapBinary(bufs: ColmapBuffers, dir = "<model>"): ReadModel {
  const cameras = new Map<number, ReadCamera>();
  let c = new Cursor(bufs.cameras, join(dir, "cameras.bin"));
  for (let n = c.count(24, "camera"); n > 0; n--) {
    const id = c.u32();
    const code = c.i32();
    const known = MODEL_NAMES[code];
    if (!known) throw c.bad(`unknown camera model ${code}`);
    const [model, np] = known;
    const width = Number(c.u64());
    const height = Number(c.u64());
    const params = [];
    for (let k = 0; k < np; k++) params.push(c.f64());
    cameras.set(id, { id, model, width, height, params });
  }
  const images = new Map<number, ReadImage>();
  c = new Cursor(bufs.images, join(dir, "images.bin"));
  for (let n = c.count(73, "image"); n > 0; n--) {
    const id = c.u32();
    const v = [];
    for (let k = 0; k < 7; k++) v.push(c.f64());
    const cameraId = c.u32();
    const name = c.cstring();
    const points2D = [];
    for (let np = c.count(24, "2-D point"); np > 0; np--) points2D.push({ x: c.f64(), y: c.f64(), id: c.u64() });
    images.set(id, { id, q: v.slice(0, 4), t: v.slice(4), cameraId, name, points2D });
  }
  const points = new Map<bigint, ReadPoint>();
  c = new Cursor(bufs.points3D, join(dir, "points3D.bin"));
  for (let n = c.count(51, "3-D point"); n > 0; n--) {
    const id = c.u64();
    const xyz = [c.f64(), c.f64(), c.f64()];
    const rgb = [c.u8(), c.u8(), c.u8()];
    const error = c.f64();
    const track: [number, number][] = [];
    for (let tl = c.count(8, "track element"); tl > 0; tl--) track.push([c.u32(), c.u32()]);
    points.set(id, { id, xyz, rgb, error, track });
  }
  return { cameras, images, points };
}

export function readColmapBinary(dir: string): ReadModel {
  const read = (f: string) => readFileSync(join(dir, f));
  return parseColmapBinary({ cameras: read("cameras.bin"), images: read("images.bin"), points3D: read("points3D.bin") }, dir);
}

/** Pinhole intrinsics of a read camera as [fx, fy, cx, cy]. */
export function pinholeParams(c: ReadCamera): [number, number, number, number] {
  if (c.model === "PINHOLE") return [c.params[0], c.params[1], c.params[2], c.params[3]];
  if (c.model === "SIMPLE_PINHOLE") return [c.params[0], c.params[0], c.params[1], c.params[2]];
  throw new Error(`unexpected camera model ${c.model}`);
}

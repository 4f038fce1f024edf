// COLMAP sparse model (cameras, images, points3D) in text or binary form, following the official VGGT
// feed-forward export (demo_colmap.py without BA): PINHOLE cameras at the original resolution, one per image
// unless shared, each 3-D point observed by the pixel it came from (track length 1), or empty tracks.
import { join } from "node:path";
import {
  frameCamera,
  rotationToQuaternion,
  toCornerConvention,
  type FrameCamera,
  type Mat3,
} from "./camera-math.js";
import { pointArrays, type EngineOutput } from "./engine-output.js";
import type { ExportImage } from "./images-folder.js";
import { pixelColor, requireColors, type PointSelection } from "./point-selection.js";
import { f32, num, pix, withWriter, type StreamWriter } from "./stream-writer.js";

export type ColmapCameraModel = "PINHOLE" | "SIMPLE_PINHOLE";
const MODEL_ID: Record<ColmapCameraModel, number> = { SIMPLE_PINHOLE: 0, PINHOLE: 1 };

export interface ColmapOptions {
  binary?: boolean;
  cameraModel?: ColmapCameraModel;
  sharedCamera?: boolean;
  /** "source": each point observed at its source pixel (as the official export); "none": empty tracks. */
  tracks?: "source" | "none";
}

export interface ColmapCamera {
  id: number;
  model: ColmapCameraModel;
  width: number;
  height: number;
  params: number[];
}

export interface ColmapImage {
  id: number;
  cameraId: number;
  name: string;
  q: [number, number, number, number];
  t: [number, number, number];
  frame: number;
  cam: FrameCamera;
  /** Range of the selection (indices into sel.indices) whose points come from this frame. */
  first: number;
  count: number;
}

function cameraParams(K: Mat3, model: ColmapCameraModel): number[] {
  const Kc = toCornerConvention(K);
  // SIMPLE_PINHOLE takes the mean focal length, as the official _build_pycolmap_intri.
  return model === "PINHOLE" ? [Kc[0], Kc[4], Kc[2], Kc[5]] : [(Kc[0] + Kc[4]) / 2, Kc[2], Kc[5]];
}

/** Cameras and images of the model (no I/O), shared by the writers and by tests. */
export function buildColmapModel(out: EngineOutput, sel: PointSelection, images: ExportImage[], opts: ColmapOptions = {}) {
  const model = opts.cameraModel ?? "PINHOLE";
  if (!(model in MODEL_ID)) throw new Error(`unsupported COLMAP camera model '${model}' (PINHOLE or SIMPLE_PINHOLE)`);
  const HW = out.H * out.W;
  const cams = sel.frames.map((s) => frameCamera(out, s));
  const cameras: ColmapCamera[] = [];
  if (opts.sharedCamera) {
    const { width, height } = cams[0];
    const bad = cams.findIndex((c) => c.width !== width || c.height !== height);
    if (bad >= 0)
      throw new Error(
        `shared camera needs images of one size: frame ${sel.frames[0]} is ${width}x${height}, frame ${sel.frames[bad]} is ${cams[bad].width}x${cams[bad].height}`,
      );
    // VGGT predicts a field of view per frame; the shared camera takes their mean.
    const mean = [0, 0, 0, 0, 0, 0, 0, 0, 0] as Mat3;
    for (const c of cams) for (let i = 0; i < 9; i++) mean[i] += c.K[i] / cams.length;
    cameras.push({ id: 1, model, width, height, params: cameraParams(mean, model) });
  } else {
    sel.frames.forEach((s, k) => cameras.push({ id: s + 1, model, width: cams[k].width, height: cams[k].height, params: cameraParams(cams[k].K, model) }));
  }
  // Selection indices are sorted, so each frame's points are one contiguous range.
  const colmapImages: ColmapImage[] = [];
  let pos = 0;
  sel.frames.forEach((s, k) => {
    const first = pos;
    while (pos < sel.indices.length && Math.floor(sel.indices[pos] / HW) === s) pos++;
    const cam = cams[k];
    const img = images[k];
    if (img.frame !== s) throw new Error("internal: images and frames out of order");
    colmapImages.push({
      id: s + 1,
      cameraId: opts.sharedCamera ? 1 : s + 1,
      name: img.name,
      q: rotationToQuaternion(cam.R),
      t: cam.t,
      frame: s,
      cam,
      first,
      count: opts.tracks === "none" ? 0 : pos - first,
    });
  });
  return { cameras, images: colmapImages };
}

const BLOCK = 32768;

/** Observation (corner convention, export pixels) of a selected pixel and its reprojection error, computed
 *  without allocation: this runs once or twice per point for millions of points. */
function observer(out: EngineOutput, xyz: Float32Array, img: ColmapImage, camera: ColmapCamera) {
  const HW = out.H * out.W;
  const m = img.cam.mapping;
  const sx = m ? m.scale_x : 1;
  const sy = m ? m.scale_y : 1;
  const ox = m ? m.offset_x : 0;
  const oy = m ? m.offset_y : 0;
  const p = camera.params;
  const [fx, fy, cx, cy] = camera.model === "PINHOLE" ? [p[0], p[1], p[2], p[3]] : [p[0], p[0], p[1], p[2]];
  const R = img.cam.R;
  const t = img.cam.t;
  const res = new Float64Array(3);
  return (idx: number): Float64Array => {
    const px = idx - img.frame * HW;
    const v = Math.floor(px / out.W);
    const u = px - v * out.W;
    // x + 0.5 = (u + 0.5 - ox) * sx is already COLMAP's corner convention.
    const x = (u + 0.5 - ox) * sx;
    const y = (v + 0.5 - oy) * sy;
    const X = xyz[3 * idx], Y = xyz[3 * idx + 1], Z = xyz[3 * idx + 2];
    const xc = R[0] * X + R[1] * Y + R[2] * Z + t[0];
    const yc = R[3] * X + R[4] * Y + R[5] * Z + t[1];
    const zc = R[6] * X + R[7] * Y + R[8] * Z + t[2];
    res[0] = x;
    res[1] = y;
    res[2] = Math.hypot((fx * xc) / zc + cx - x, (fy * yc) / zc + cy - y);
    return res;
  };
}

/** uint64 without BigInt (ids stay far below 2^53). */
function writeU64(buf: Buffer, v: number, o: number): void {
  buf.writeUInt32LE(v % 0x100000000, o);
  buf.writeUInt32LE(Math.floor(v / 0x100000000), o + 4);
}

export async function writeColmap(dir: string, out: EngineOutput, sel: PointSelection, images: ExportImage[], opts: ColmapOptions = {}): Promise<string[]> {
  requireColors(out);
  const { xyz } = pointArrays(out, sel.points);
  const model = buildColmapModel(out, sel, images, opts);
  const camById = new Map(model.cameras.map((c) => [c.id, c]));
  if (!opts.binary)
    for (const im of model.images)
      if (/\s/.test(im.name)) throw new Error(`image name '${im.name}' contains whitespace, which COLMAP's text format cannot hold; use colmap-bin`);
  // Per point: owning image (for its error) and the 2-D index within that image.
  const tracks = opts.tracks !== "none";
  const imgOf = (k: number) => {
    let lo = 0;
    let hi = model.images.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (model.images[mid].first <= k) lo = mid;
      else hi = mid - 1;
    }
    return model.images[lo];
  };
  const ext = opts.binary ? "bin" : "txt";
  const paths = [join(dir, `cameras.${ext}`), join(dir, `images.${ext}`), join(dir, `points3D.${ext}`)];
  const nPts = sel.indices.length;
  const meanObs = model.images.length ? model.images.reduce((a, im) => a + im.count, 0) / model.images.length : 0;

  await withWriter(paths[0], async (w) => {
    if (opts.binary) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(model.cameras.length));
      await w.write(b);
      for (const c of model.cameras) {
        const r = Buffer.alloc(24 + 8 * c.params.length);
        r.writeUInt32LE(c.id, 0);
        r.writeInt32LE(MODEL_ID[c.model], 4);
        r.writeBigUInt64LE(BigInt(c.width), 8);
        r.writeBigUInt64LE(BigInt(c.height), 16);
        c.params.forEach((p, i) => r.writeDoubleLE(p, 24 + 8 * i));
        await w.write(r);
      }
    } else {
      await w.write(
        `# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n# Number of cameras: ${model.cameras.length}\n`,
      );
      for (const c of model.cameras) await w.write(`${c.id} ${c.model} ${c.width} ${c.height} ${c.params.map(num).join(" ")}\n`);
    }
  });

  await withWriter(paths[1], async (w) => {
    if (opts.binary) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(model.images.length));
      await w.write(b);
    } else {
      await w.write(
        `# Image list with two lines of data per image:\n#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n#   POINTS2D[] as (X, Y, POINT3D_ID)\n# Number of images: ${model.images.length}, mean observations per image: ${meanObs}\n`,
      );
    }
    for (const im of model.images) {
      const camera = camById.get(im.cameraId)!;
      if (opts.binary) {
        const name = Buffer.from(im.name, "utf8");
        const r = Buffer.alloc(4 + 56 + 4 + name.length + 1 + 8);
        r.writeUInt32LE(im.id, 0);
        [...im.q, ...im.t].forEach((v, i) => r.writeDoubleLE(v, 4 + 8 * i));
        r.writeUInt32LE(im.cameraId, 60);
        name.copy(r, 64);
        r[64 + name.length] = 0;
        r.writeBigUInt64LE(BigInt(im.count), 65 + name.length);
        await w.write(r);
      } else {
        await w.write(`${im.id} ${[...im.q, ...im.t].map(num).join(" ")} ${im.cameraId} ${im.name}\n`);
      }
      await writeObservations(w, out, xyz, sel, im, camera, !!opts.binary);
    }
  });

  await withWriter(paths[2], async (w) => {
    if (opts.binary) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(nPts));
      await w.write(b);
    } else {
      await w.write(
        `# 3D point list with one line of data per point:\n#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n# Number of points: ${nPts}, mean track length: ${tracks ? 1 : 0}\n`,
      );
    }
    const rgb = new Uint8Array(3);
    const observers = new Map(model.images.map((im) => [im.id, observer(out, xyz, im, camById.get(im.cameraId)!)]));
    const recLen = 8 + 24 + 3 + 8 + 8 + (tracks ? 8 : 0);
    for (let b = 0; b < nPts; b += BLOCK) {
      const end = Math.min(nPts, b + BLOCK);
      const lines: string[] = [];
      const buf = opts.binary ? Buffer.alloc((end - b) * recLen) : undefined;
      let o = 0;
      for (let k = b; k < end; k++) {
        const i = sel.indices[k];
        const im = imgOf(k);
        // An unobserved point has no reprojection error to report; COLMAP then holds -1 ("unknown").
        const err = tracks ? observers.get(im.id)!(i)[2] : -1;
        pixelColor(out, i, rgb, 0);
        if (buf) {
          writeU64(buf, k + 1, o);
          buf.writeDoubleLE(xyz[3 * i], o + 8);
          buf.writeDoubleLE(xyz[3 * i + 1], o + 16);
          buf.writeDoubleLE(xyz[3 * i + 2], o + 24);
          buf[o + 32] = rgb[0];
          buf[o + 33] = rgb[1];
          buf[o + 34] = rgb[2];
          buf.writeDoubleLE(err, o + 35);
          writeU64(buf, tracks ? 1 : 0, o + 43);
          if (tracks) {
            buf.writeUInt32LE(im.id, o + 51);
            buf.writeUInt32LE(k - im.first, o + 55);
          }
          o += recLen;
        } else {
          const track = tracks ? ` ${im.id} ${k - im.first}` : "";
          lines.push(
            `${k + 1} ${f32(xyz[3 * i])} ${f32(xyz[3 * i + 1])} ${f32(xyz[3 * i + 2])} ${rgb[0]} ${rgb[1]} ${rgb[2]} ${err === -1 ? "-1" : err.toPrecision(6)}${track}\n`,
          );
        }
      }
      await w.write(buf ?? lines.join(""));
    }
  });
  return paths;
}

async function writeObservations(
  w: StreamWriter,
  out: EngineOutput,
  xyz: Float32Array,
  sel: PointSelection,
  im: ColmapImage,
  camera: ColmapCamera,
  binary: boolean,
): Promise<void> {
  const obs = observer(out, xyz, im, camera);
  for (let b = 0; b < im.count; b += BLOCK) {
    const end = Math.min(im.count, b + BLOCK);
    if (binary) {
      const buf = Buffer.alloc((end - b) * 24);
      for (let j = b; j < end; j++) {
        const k = im.first + j;
        const ob = obs(sel.indices[k]);
        const o = (j - b) * 24;
        buf.writeDoubleLE(ob[0], o);
        buf.writeDoubleLE(ob[1], o + 8);
        writeU64(buf, k + 1, o + 16);
      }
      await w.write(buf);
    } else {
      const parts: string[] = [];
      for (let j = b; j < end; j++) {
        const k = im.first + j;
        const ob = obs(sel.indices[k]);
        parts.push(`${j ? " " : ""}${pix(ob[0])} ${pix(ob[1])} ${k + 1}`);
      }
      await w.write(parts.join(""));
    }
  }
  // The POINTS2D line is always present, empty when the image observes nothing.
  if (!binary) await w.write("\n");
}

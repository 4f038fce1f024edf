// The sparse model as a COLMAP text model with real tracks: images.txt lists each image's 2-D
// observations with the id of their 3-D point, points3D.txt each point's track as (IMAGE_ID,
// POINT2D_IDX) pairs into those lists. Read back through the export's independent COLMAP reader.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { quaternionToRotation, rotationToQuaternion, type Mat3, type Vec3 } from "../export/camera-math.js";
import { pinholeParams, readColmapBinary, readColmapText } from "../export/colmap-reader.js";
import { existsSync } from "node:fs";
import type { SparseModel } from "./sparse-model.js";

const g = (v: number) => (Object.is(v, -0) ? "0" : String(v));

export function writeSparseModelText(dir: string, model: SparseModel): void {
  for (const im of model.images)
    if (/\s/.test(im.name) || im.name === "") throw new Error(`image name '${im.name}' cannot be written to a COLMAP text model (empty or whitespace)`);
  const cams = ["# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]", ...model.cameras.map((c) => `${c.id} PINHOLE ${c.width} ${c.height} ${g(c.fx)} ${g(c.fy)} ${g(c.cx)} ${g(c.cy)}`)];
  // Per image: its observations in point order; POINT2D_IDX is the position in that list.
  const perImage = new Map<number, string[]>(model.images.map((im) => [im.id, []]));
  const pts: string[] = ["# POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)"];
  model.points.forEach((p, k) => {
    const id = k + 1;
    const track: string[] = [];
    for (const o of p.obs) {
      const list = perImage.get(o.imageId);
      if (!list) throw new Error(`internal: point ${id} observed in unknown image ${o.imageId}`);
      track.push(`${o.imageId} ${list.length}`);
      list.push(`${g(o.x)} ${g(o.y)} ${id}`);
    }
    pts.push(`${id} ${p.xyz.map(g).join(" ")} ${p.rgb.join(" ")} -1 ${track.join(" ")}`);
  });
  const ims = ["# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME", "#   POINTS2D[] as (X, Y, POINT3D_ID)"];
  for (const im of model.images) {
    ims.push(`${im.id} ${[...rotationToQuaternion(im.R), ...im.t].map(g).join(" ")} ${im.cameraId} ${im.name}`);
    ims.push(perImage.get(im.id)!.join(" "));
  }
  writeFileSync(join(dir, "cameras.txt"), cams.join("\n") + "\n");
  writeFileSync(join(dir, "images.txt"), ims.join("\n") + "\n");
  writeFileSync(join(dir, "points3D.txt"), pts.join("\n") + "\n");
}

/** A COLMAP model (text or binary) as a SparseModel; images in id order. */
export function readSparseModel(dir: string): SparseModel {
  const m = existsSync(join(dir, "images.bin")) ? readColmapBinary(dir) : readColmapText(dir);
  const cameras = [...m.cameras.values()].map((c) => {
    const [fx, fy, cx, cy] = pinholeParams(c);
    return { id: c.id, width: c.width, height: c.height, fx, fy, cx, cy };
  });
  const images = [...m.images.values()]
    .sort((a, b) => a.id - b.id)
    .map((im) => ({ id: im.id, cameraId: im.cameraId, name: im.name, R: quaternionToRotation(im.q as [number, number, number, number]) as Mat3, t: im.t as Vec3 }));
  const points = [...m.points.values()].map((p) => ({
    xyz: p.xyz as Vec3,
    rgb: p.rgb as [number, number, number],
    obs: p.track.map(([imageId, idx]) => {
      const o = m.images.get(imageId)?.points2D[idx];
      if (!o || o.id !== p.id) throw new Error(`${dir}: point ${p.id} has a track entry (${imageId}, ${idx}) that its image does not list`);
      return { imageId, x: o.x, y: o.y };
    }),
  }));
  return { cameras, images, points };
}

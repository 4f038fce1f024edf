// GLB (binary glTF 2.0): the selected points with their colours and one wireframe frustum per
// exported camera, like the official gradio demo's download, written by three.js's GLTFExporter.
// Axes: glTF is y-up and looks down -z, so the OpenCV world is turned 180° about x (as in the viewer).
import { writeFile } from "node:fs/promises";
import * as THREE from "three";
import { GLTFExporter } from "three/examples/jsm/exporters/GLTFExporter.js";

import { cameraCenter, frameCamera, type Vec3 } from "./camera-math.js";
import { pointArrays, type EngineOutput } from "./engine-output.js";
import { pixelColor, requireColors, type PointSelection } from "./point-selection.js";

/** GLTFExporter reads its blobs with FileReader, which Node lacks: the part of it the exporter uses. */
class BlobReader {
  result: ArrayBuffer | null = null;
  onloadend: (() => void) | null = null;
  readAsArrayBuffer(blob: Blob): void {
    void blob.arrayBuffer().then((b) => {
      this.result = b;
      this.onloadend?.();
    });
  }
}

const flip = (p: Vec3): Vec3 => [p[0], -p[1], -p[2]];

/** Frustum wire segments of frame s: centre to the four image corners at `depth`, and the rectangle. */
function frustumSegments(out: EngineOutput, s: number, depth: number): number[] {
  const cam = frameCamera(out, s);
  const c = cameraCenter(cam.R, cam.t);
  const K = cam.Kmodel;
  const corners = [
    [0, 0],
    [out.W, 0],
    [out.W, out.H],
    [0, out.H],
  ].map(([u, v]) => {
    const x = ((u - K[2]) / K[0]) * depth;
    const y = ((v - K[5]) / K[4]) * depth;
    const R = cam.R; // camera-from-world: world = R^T x + C
    return flip([R[0] * x + R[3] * y + R[6] * depth + c[0], R[1] * x + R[4] * y + R[7] * depth + c[1], R[2] * x + R[5] * y + R[8] * depth + c[2]]);
  });
  const fc = flip(c);
  const seg: number[] = [];
  for (let i = 0; i < 4; i++) seg.push(...fc, ...corners[i], ...corners[i], ...corners[(i + 1) % 4]);
  return seg;
}

export async function writeGlb(path: string, out: EngineOutput, sel: PointSelection): Promise<string> {
  requireColors(out);
  const { xyz } = pointArrays(out, sel.points);
  const n = sel.indices.length;
  const positions = new Float32Array(3 * n);
  const colors = new Uint8Array(3 * n);
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let k = 0; k < n; k++) {
    const i = sel.indices[k];
    const p = flip([xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]]);
    for (let a = 0; a < 3; a++) {
      positions[3 * k + a] = p[a];
      lo[a] = Math.min(lo[a], p[a]);
      hi[a] = Math.max(hi[a], p[a]);
    }
    pixelColor(out, i, colors, 3 * k);
  }
  const scene = new THREE.Scene();
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3));
  geometry.setAttribute("color", new THREE.BufferAttribute(colors, 3, true));
  const points = new THREE.Points(geometry, new THREE.PointsMaterial({ vertexColors: true, size: 1, sizeAttenuation: false }));
  points.name = "points";
  scene.add(points);
  // Frustums a twentieth of the cloud's extent deep, so they read at the cloud's scale.
  const extent = n ? Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) : 1;
  const depth = Math.max(1e-6, extent / 20);
  for (const s of sel.frames) {
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.Float32BufferAttribute(frustumSegments(out, s, depth), 3));
    const lines = new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: s === 0 ? 0xff7043 : 0x4fc3f7 }));
    lines.name = `camera ${s}`;
    scene.add(lines);
  }
  const g = globalThis as { FileReader?: unknown };
  const hadReader = g.FileReader !== undefined;
  if (!hadReader) g.FileReader = BlobReader;
  try {
    const glb = (await new GLTFExporter().parseAsync(scene, { binary: true })) as ArrayBuffer;
    await writeFile(path, new Uint8Array(glb));
  } finally {
    if (!hadReader) delete g.FileReader;
    geometry.dispose();
  }
  return path;
}

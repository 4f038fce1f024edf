// Camera JSON (OpenCV conventions, both resolutions) and nerfstudio transforms.json (OpenGL camera axes).
import {
  cameraCenter,
  cameraFromWorld4,
  frameCamera,
  openglCameraToWorld,
  toCornerConvention,
  type Mat3,
} from "./camera-math.js";
import type { EngineOutput } from "./engine-output.js";
import type { ExportImage } from "./images-folder.js";
import { withWriter } from "./stream-writer.js";

const rows3 = (K: Mat3) => [K.slice(0, 3), K.slice(3, 6), K.slice(6, 9)];

export function camerasJson(out: EngineOutput, frames: number[], images: ExportImage[]) {
  return {
    format: "vggt-workbench-cameras/1",
    conventions: {
      camera_from_world: "4x4, OpenCV camera axes (x right, y down, z forward); world = the engine's world (first camera)",
      K: "3x3 pinhole, OpenCV pixel convention: the centre of pixel (i, j) is at (i, j). For COLMAP/nerfstudio (pixel centre at +0.5) add 0.5 to cx and cy",
      K_model: "at the preprocessed model resolution (model_width x model_height), exactly the engine's intrinsic",
      K_original: "at the original image resolution (width x height), through the crop/pad/resize mapping",
    },
    source: out.source,
    model: out.metadata.model,
    preprocess: out.preprocess ?? null,
    original_resolution_known: out.frames !== undefined,
    model_width: out.W,
    model_height: out.H,
    cameras: frames.map((s, k) => {
      const c = frameCamera(out, s);
      return {
        frame: s,
        name: images[k].name,
        original_path: images[k].source ?? null,
        width: c.width,
        height: c.height,
        camera_from_world: cameraFromWorld4(c.R, c.t),
        center: cameraCenter(c.R, c.t),
        K_model: rows3(c.Kmodel),
        K_original: rows3(c.K),
        mapping: c.mapping ?? null,
      };
    }),
  };
}

export async function writeCamerasJson(path: string, out: EngineOutput, frames: number[], images: ExportImage[]): Promise<string> {
  return withWriter(path, (w) => w.write(JSON.stringify(camerasJson(out, frames, images), null, 2) + "\n"));
}

/** nerfstudio's data format: per-frame intrinsics at the original resolution (pixel centre at +0.5) and
 *  camera-to-world in OpenGL axes; the world frame is left as the engine's (no reorientation). */
export function nerfstudioTransforms(out: EngineOutput, frames: number[], images: ExportImage[], plyFile?: string) {
  return {
    camera_model: "OPENCV",
    ...(plyFile ? { ply_file_path: plyFile } : {}),
    frames: frames.map((s, k) => {
      const c = frameCamera(out, s);
      const K = toCornerConvention(c.K);
      return {
        file_path: `images/${images[k].name}`,
        transform_matrix: openglCameraToWorld(c.R, c.t),
        fl_x: K[0],
        fl_y: K[4],
        cx: K[2],
        cy: K[5],
        w: c.width,
        h: c.height,
        k1: 0,
        k2: 0,
        p1: 0,
        p2: 0,
        colmap_im_id: s + 1,
      };
    }),
  };
}

export async function writeNerfstudioTransforms(path: string, out: EngineOutput, frames: number[], images: ExportImage[], plyFile?: string): Promise<string> {
  return withWriter(path, (w) => w.write(JSON.stringify(nerfstudioTransforms(out, frames, images, plyFile), null, 2) + "\n"));
}

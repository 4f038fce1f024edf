// Programmatic export API used by the app (Export menu) and the CLI (`vggt-workbench export`).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeCamerasJson, writeNerfstudioTransforms } from "./cameras-json.js";
import { writeColmap, type ColmapCameraModel } from "./colmap.js";
import { loadEngineOutput, pointArrays, type EngineOutput } from "./engine-output.js";
import { resolveImages, writeImagesFolder, type ImagesMode } from "./images-folder.js";
import { stageExport, type OverwritePolicy } from "./output-dir.js";
import { checkFiniteCameras } from "./finite-check.js";
import { writePly } from "./ply.js";
import { writeGlb } from "./glb.js";
import { requireColors, resolveFrames, selectPoints, type PointSelectionOptions } from "./point-selection.js";

export { loadEngineOutput, engineOutputFromSafetensors, EngineOutputError } from "./engine-output.js";
export type { EngineOutput, FrameMapping, PointSource } from "./engine-output.js";
export { ExportCancelledError } from "./output-dir.js";
export { NonFiniteError } from "./finite-check.js";
export { selectPoints, percentile } from "./point-selection.js";
export type { PointSelection, PointSelectionOptions } from "./point-selection.js";

export const EXPORT_FORMATS = ["ply", "colmap", "colmap-bin", "json", "nerfstudio", "glb"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions extends PointSelectionOptions, OverwritePolicy {
  format: ExportFormat;
  outDir: string;
  /** Folder holding the original images (looked up by base name); default: the paths recorded in `frames`. */
  imagesDir?: string;
  /** PLY only: ASCII instead of binary little-endian. */
  ascii?: boolean;
  cameraModel?: ColmapCameraModel;
  sharedCamera?: boolean;
  tracks?: "source" | "none";
  /** How colmap/nerfstudio exports fill images/ (default copy). */
  imagesMode?: ImagesMode;
}

export interface ExportResult {
  format: ExportFormat;
  outDir: string;
  /** Absolute paths of every file written. */
  files: string[];
  frames: number[];
  pointCount: number;
  /** Confidence threshold the percentile resolved to (0 when nothing was filtered). */
  threshold: number;
  /** Things the user should know (model-resolution export, EXIF rotation, ...). */
  notes: string[];
}

/** Layout of each format, relative to the output folder. */
export const LAYOUT: Record<ExportFormat, string[]> = {
  ply: ["points.ply"],
  colmap: ["images/", "sparse/0/cameras.txt", "sparse/0/images.txt", "sparse/0/points3D.txt"],
  "colmap-bin": ["images/", "sparse/0/cameras.bin", "sparse/0/images.bin", "sparse/0/points3D.bin"],
  json: ["cameras.json"],
  nerfstudio: ["transforms.json", "sparse_pc.ply", "images/"],
  glb: ["scene.glb"],
};

export async function exportReconstruction(out: EngineOutput, opts: ExportOptions): Promise<ExportResult> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format))
    throw new Error(`unknown export format '${opts.format}' (one of ${EXPORT_FORMATS.join(", ")})`);
  const notes: string[] = [];
  if (!out.frames)
    notes.push(
      `${out.source} has no 'frames' metadata (the engine ran on a tensor, not image files): exported at the model resolution ${out.W}x${out.H}` +
        (opts.format === "colmap" || opts.format === "colmap-bin" || opts.format === "nerfstudio"
          ? "; images/ holds the preprocessed frames as PNG"
          : ""),
    );
  // Validate everything before touching the output folder.
  const needsPoints = opts.format !== "json";
  const frames = resolveFrames(out, opts.frames);
  if (opts.format !== "ply") checkFiniteCameras(out, frames);
  let sel;
  if (needsPoints) {
    pointArrays(out, opts.points ?? "depth");
    requireColors(out);
    sel = selectPoints(out, opts);
    if (sel.nonFinite > 0) notes.push(`${sel.nonFinite} points with non-finite coordinates were skipped`);
  }
  const needsImages = opts.format === "colmap" || opts.format === "colmap-bin" || opts.format === "nerfstudio";
  const imagesMode: ImagesMode = needsImages ? (opts.imagesMode ?? "copy") : "none";
  const images = await resolveImages(out, frames, needsImages && imagesMode !== "none" ? opts.imagesDir : undefined, notes, needsImages && imagesMode !== "none");

  const staged = await stageExport(opts.outDir, opts);
  try {
    const d = staged.staging;
    switch (opts.format) {
      case "ply":
        await writePly(join(d, "points.ply"), out, sel!, { ascii: opts.ascii, comment: `confidence percentile ${opts.confPercentile ?? 0}` });
        break;
      case "colmap":
      case "colmap-bin": {
        await mkdir(join(d, "sparse", "0"), { recursive: true });
        await writeColmap(join(d, "sparse", "0"), out, sel!, images, {
          binary: opts.format === "colmap-bin",
          cameraModel: opts.cameraModel,
          sharedCamera: opts.sharedCamera,
          tracks: opts.tracks,
        });
        await writeImagesFolder(join(d, "images"), out, images, imagesMode);
        break;
      }
      case "glb":
        await writeGlb(join(d, "scene.glb"), out, sel!);
        break;
      case "json":
        await writeCamerasJson(join(d, "cameras.json"), out, frames, images);
        break;
      case "nerfstudio":
        await writePly(join(d, "sparse_pc.ply"), out, sel!, { comment: "nerfstudio initial point cloud" });
        await writeNerfstudioTransforms(join(d, "transforms.json"), out, frames, images, "sparse_pc.ply");
        await writeImagesFolder(join(d, "images"), out, images, imagesMode);
        break;
    }
  } catch (e) {
    await staged.abort();
    throw e;
  }
  const files = await staged.commit();
  return {
    format: opts.format,
    outDir: staged.outDir,
    files,
    frames,
    pointCount: sel?.indices.length ?? 0,
    threshold: sel?.threshold ?? 0,
    notes,
  };
}

/** Reads an engine output file and exports it. */
export async function exportEngineOutputFile(path: string, opts: ExportOptions): Promise<ExportResult> {
  return exportReconstruction(loadEngineOutput(path), opts);
}

// `vggt-workbench export`: an engine output file (+ its original images) to PLY / COLMAP / JSON / nerfstudio.
import { existsSync } from "node:fs";
import { EXPORT_FORMATS, exportEngineOutputFile, LAYOUT, type ExportFormat } from "../export/index.js";
import { parseCliArgs, UsageError, type CliCommand } from "./registry.js";

const USAGE = `Usage: vggt-workbench export <engine-output.safetensors> --format FORMAT --out DIR [options]

Exports a reconstruction written by 'vggt-engine infer' for other tools.

Formats (--format):
  ply          points.ply: binary little-endian x y z float, red green blue uchar, confidence float
  colmap       COLMAP text model in DIR/sparse/0 and the original images in DIR/images
  colmap-bin   the same as binary (cameras.bin, images.bin, points3D.bin)
  json         cameras.json: per image OpenCV camera-from-world 4x4, K at model and original resolution
  nerfstudio   transforms.json (+ sparse_pc.ply, images/) for nerfstudio / splatfacto
  glb          scene.glb: binary glTF 2.0, the points with colours and a frustum per camera (three.js)

Options:
  --images DIR            folder of the original images (found by file name); default: the paths
                          recorded in the engine output
  --out DIR               output folder (created; must be empty unless --force)
  --conf-percentile P     keep points with confidence >= the P-th percentile (0..100, default 50;
                          0 keeps everything)
  --points depth|pointmap depth: world_points_from_depth + depth_conf (default);
                          pointmap: world_points + world_points_conf
  --frames LIST           only these frames, e.g. 0,2,5 (default all)
  --ascii                 ASCII PLY instead of binary
  --camera-model M        PINHOLE (default) or SIMPLE_PINHOLE (COLMAP)
  --shared-camera         one COLMAP camera for all images (mean intrinsics; images must share a size)
  --tracks source|none    COLMAP tracks: each point observed at its source pixel (default) or empty
  --images-mode MODE      copy (default), symlink or none: how DIR/images is filled
  --include-padding       keep points from the white padding of 'pad' preprocessing
  --force                 write into a non-empty output folder (files are replaced atomically)
`;

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], dflt: T): T {
  if (value === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got '${value}'`);
  return value as T;
}

export const exportCommand: CliCommand = {
  name: "export",
  summary: "export an engine output to PLY, COLMAP (text/binary), cameras JSON or nerfstudio",
  usage: USAGE,
  async run(argv, io) {
    const { values: v, positionals } = parseCliArgs(argv, {
      format: { type: "string" },
      out: { type: "string" },
      images: { type: "string" },
      "conf-percentile": { type: "string" },
      points: { type: "string" },
      frames: { type: "string" },
      ascii: { type: "boolean" },
      "camera-model": { type: "string" },
      "shared-camera": { type: "boolean" },
      tracks: { type: "string" },
      "images-mode": { type: "string" },
      "include-padding": { type: "boolean" },
      force: { type: "boolean" },
    });
    if (positionals.length !== 1) throw new UsageError(`expected one engine output file, got ${positionals.length}`);
    const input = positionals[0];
    if (!v.format) throw new UsageError("--format is required");
    const format = oneOf("--format", v.format, EXPORT_FORMATS, "ply") as ExportFormat;
    if (!v.out) throw new UsageError("--out is required");
    const pct = v["conf-percentile"] === undefined ? 50 : Number(v["conf-percentile"]);
    if (!Number.isFinite(pct) || pct < 0 || pct > 100)
      throw new UsageError(`--conf-percentile must be a number within 0..100, got '${v["conf-percentile"]}'`);
    let frames: number[] | undefined;
    if (v.frames !== undefined) {
      frames = v.frames.split(",").map((s) => Number(s.trim()));
      if (frames.some((f) => !Number.isInteger(f) || f < 0)) throw new UsageError(`--frames must be a comma-separated list of frame indices, got '${v.frames}'`);
    }
    if (v.images !== undefined && !existsSync(v.images)) throw new Error(`${v.images}: images folder not found`);
    if (v.ascii && format !== "ply") throw new UsageError("--ascii only applies to --format ply");

    const res = await exportEngineOutputFile(input, {
      format,
      outDir: v.out,
      imagesDir: v.images,
      confPercentile: pct,
      points: oneOf("--points", v.points, ["depth", "pointmap"] as const, "depth"),
      frames,
      ascii: !!v.ascii,
      cameraModel: oneOf("--camera-model", v["camera-model"], ["PINHOLE", "SIMPLE_PINHOLE"] as const, "PINHOLE"),
      sharedCamera: !!v["shared-camera"],
      tracks: oneOf("--tracks", v.tracks, ["source", "none"] as const, "source"),
      imagesMode: oneOf("--images-mode", v["images-mode"], ["copy", "symlink", "none"] as const, "copy"),
      includePadding: !!v["include-padding"],
      force: !!v.force,
    });
    for (const note of res.notes) io.stderr(`note: ${note}\n`);
    const pts = format === "json" ? "" : `, ${res.pointCount} points (confidence >= ${res.threshold.toPrecision(6)})`;
    io.stdout(`exported ${format} (${LAYOUT[format].join(", ")}) to ${res.outDir}: ${res.frames.length} frames${pts}, ${res.files.length} files\n`);
    return 0;
  },
};

// COLMAP's own bundle adjuster (`colmap bundle_adjuster`, Debian's colmap package) on a sparse
// model: poses, focal lengths and points are refined; principal points stay (COLMAP's default, and
// VGGT predicts them at the image centre). COLMAP fixes the gauge by holding the first image's pose
// and the second image's x translation, so images are written in frame order: frame 0 anchors the
// refined model to the feed-forward world frame and scale.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { RefineError } from "./errors.js";
import { readSparseModel, writeSparseModelText } from "./colmap-model.js";
import type { SparseModel } from "./sparse-model.js";

export interface BundleAdjustOptions {
  colmap?: string;
  maxIterations?: number;
  refineFocalLength?: boolean;
  signal?: AbortSignal;
}

export function findColmapBinary(): string | null {
  const env = process.env.VGGT_COLMAP_BIN;
  if (env) return env;
  for (const p of ["/usr/bin/colmap", "/usr/local/bin/colmap"]) if (existsSync(p)) return p;
  return null;
}

/** Writes `input/` and `output/` under workDir; returns the refined model and COLMAP's log. */
export async function bundleAdjust(workDir: string, model: SparseModel, opts: BundleAdjustOptions = {}): Promise<{ model: SparseModel; log: string; inputDir: string; outputDir: string }> {
  const colmap = opts.colmap ?? findColmapBinary();
  if (!colmap) throw new RefineError("COLMAP is not installed: refine needs 'colmap bundle_adjuster' (Debian: apt-get install colmap; or set VGGT_COLMAP_BIN)");
  const inputDir = join(workDir, "input");
  const outputDir = join(workDir, "output");
  mkdirSync(inputDir, { recursive: true });
  mkdirSync(outputDir, { recursive: true });
  writeSparseModelText(inputDir, model);
  const args = [
    "bundle_adjuster",
    "--input_path", inputDir,
    "--output_path", outputDir,
    "--BundleAdjustment.max_num_iterations", String(opts.maxIterations ?? 100),
    "--BundleAdjustment.refine_focal_length", opts.refineFocalLength === false ? "0" : "1",
    "--BundleAdjustment.refine_principal_point", "0",
    "--BundleAdjustment.refine_extra_params", "0",
  ];
  const log = await new Promise<string>((resolve, reject) => {
    const p = spawn(colmap, args, { stdio: ["ignore", "pipe", "pipe"], signal: opts.signal });
    let text = "";
    p.stdout.on("data", (d: Buffer) => (text += d.toString()));
    p.stderr.on("data", (d: Buffer) => (text += d.toString()));
    p.on("error", (e) => reject(e.name === "AbortError" ? e : new RefineError(`cannot run ${colmap}: ${e.message}`)));
    p.on("close", (code, sig) => {
      if (code === 0) resolve(text);
      else reject(new RefineError(`colmap bundle_adjuster failed (${sig ?? `exit code ${code}`}):\n${text.split("\n").slice(-15).join("\n")}`));
    });
  });
  if (!existsSync(join(outputDir, "images.bin")) && !existsSync(join(outputDir, "images.txt")))
    throw new RefineError(`colmap bundle_adjuster wrote no model to ${outputDir}:\n${log.split("\n").slice(-15).join("\n")}`);
  return { model: readSparseModel(outputDir), log, inputDir, outputDir };
}

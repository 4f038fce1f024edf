// The Export menu's bridge to services/export: writes into a fresh folder under the data dir
// (or a folder the user picked) and hands single-file results back for download.
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";

import { EXPORT_FORMATS, exportEngineOutputFile, type ExportFormat } from "../export/index.js";
import type { ExportFormatInfo, ExportResult, RunDetail } from "../../ipc/types.js";
import type { Exporter } from "./workbench.js";

const LABELS: Record<ExportFormat, string> = {
  ply: "Point cloud (PLY)",
  colmap: "COLMAP (text)",
  "colmap-bin": "COLMAP (binary)",
  json: "Cameras (JSON)",
  nerfstudio: "Nerfstudio (transforms.json)",
  glb: "Scene (GLB: points + cameras)",
};

const SINGLE_FILE: Partial<Record<ExportFormat, string>> = { ply: "application/octet-stream", json: "application/json", glb: "model/gltf-binary" };

export function createExporter(exportsRoot: string, pickDir?: () => Promise<string | null>): Exporter {
  return {
    formats(): ExportFormatInfo[] {
      return EXPORT_FORMATS.map((id) => ({ id, label: LABELS[id] }));
    },
    async export(outputFile: string, run: RunDetail, format: string, options): Promise<ExportResult> {
      if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new Error(`unknown export format ${JSON.stringify(format)}`);
      const f = format as ExportFormat;
      const picked = pickDir ? await pickDir() : null;
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      const outDir = picked ?? join(exportsRoot, run.id, `${f}-${stamp}`);
      const pct = Math.max(0, Math.min(100, Number(options.confPercentile) || 0));
      // The viewer's frame filter: every frame of the run but the hidden ones.
      const hidden = new Set(Array.isArray(options.hiddenFrames) ? options.hiddenFrames : []);
      const frames = Array.from({ length: run.frames }, (_, i) => i).filter((i) => !hidden.has(i));
      if (frames.length === 0) throw new Error(`run ${run.id}: every frame is hidden, nothing to export`);
      const r = await exportEngineOutputFile(outputFile, {
        format: f,
        outDir,
        points: options.branch === "depth" ? "depth" : "pointmap",
        confPercentile: pct,
        ...(hidden.size ? { frames } : {}),
        filterBlack: options.filterBlack === true,
        filterWhite: options.filterWhite === true,
        force: !picked,
      });
      const mime = SINGLE_FILE[f];
      const single = mime && r.files.length === 1 ? r.files[0] : null;
      return {
        format: f,
        outDir: r.outDir,
        files: r.files,
        pointCount: r.pointCount,
        notes: r.notes,
        download: single ? { fileName: `${run.id}-${basename(single)}`, mime: mime!, bytes: new Uint8Array(readFileSync(single)) } : undefined,
      };
    },
  };
}

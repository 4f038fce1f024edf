// Tracks from the engine's track head through `vggt-engine infer --query-points` (docs: README, The
// engine on its own). The track head queries frame 0 only, so tracks from another query frame q need
// a forward pass on the frames reordered with q first, as the official demo does; the rows are put
// back in the run's frame order here. One forward pass per query frame.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lastLines, ProcessStartError, spawnEngine, type ProcessExit } from "../engine/engine-process.js";
import { getFloat32, readSafetensors } from "../tensors/safetensors.js";
import { RefineError } from "./errors.js";
import type { TrackPredictor } from "./refine.js";

export interface EngineTrackSource {
  binary: string;
  model: { weights: string; config?: string } | { randomSeed: number; config?: string };
  /** The run's original images, in frame order, and how they were preprocessed. */
  images: string[];
  preprocess: "crop" | "pad";
  threads?: number;
  /** Engine optimization switches (`--options`). */
  options?: string;
  onLog?: (line: string) => void;
}

async function runEngine(binary: string, args: string[], signal: AbortSignal | undefined, onLog?: (l: string) => void): Promise<string> {
  let r: ProcessExit;
  try {
    r = await spawnEngine({ command: binary, args }, { signal, onStderrLine: onLog });
  } catch (e) {
    if (e instanceof ProcessStartError) throw new RefineError(`cannot run the engine ${binary}: ${(e.cause as Error).message}`);
    throw e; // cancelled: an AbortError
  }
  if (r.code !== 0) throw new RefineError(`the engine failed to predict tracks (${r.signal ?? `exit code ${r.code}`}):\n${lastLines(r.stderrTail, 8)}`);
  return r.stderrTail;
}

export function engineTrackPredictor(src: EngineTrackSource): TrackPredictor {
  return async (q, points, signal) => {
    const S = src.images.length;
    const order = [q, ...Array.from({ length: S }, (_, s) => s).filter((s) => s !== q)];
    const dir = mkdtempSync(join(tmpdir(), "vggt-tracks-"));
    try {
      const queries = join(dir, "queries.json");
      const out = join(dir, "tracks.safetensors");
      writeFileSync(queries, JSON.stringify(points));
      const args = ["infer", "--images", ...order.map((s) => src.images[s]), "--preprocess", src.preprocess, "--query-points", queries, "--out", out, "--quiet"];
      if ("weights" in src.model) args.push("--weights", src.model.weights);
      else args.push("--random-weights", "--seed", String(src.model.randomSeed));
      if (src.model.config) args.push("--config", src.model.config);
      if (src.threads) args.push("--threads", String(src.threads));
      if (src.options !== undefined) args.push("--options", src.options);
      await runEngine(src.binary, args, signal, src.onLog);
      const f = readSafetensors(out);
      const tr = getFloat32(f, "track", out);
      const vis = getFloat32(f, "vis", out).data;
      const conf = getFloat32(f, "conf", out).data;
      const N = points.length;
      if (tr.shape.join(",") !== `${S},${N},2`) throw new RefineError(`${out}: track has shape [${tr.shape}], expected [${S},${N},2]`);
      const result = { track: [] as number[][][], vis: [] as number[][], conf: [] as number[][], via: "forward-pass" as const };
      for (let s = 0; s < S; s++) {
        const row = order.indexOf(s);
        result.track.push(Array.from({ length: N }, (_, n) => [tr.data[2 * (row * N + n)], tr.data[2 * (row * N + n) + 1]]));
        result.vis.push(Array.from(vis.subarray(row * N, row * N + N)));
        result.conf.push(Array.from(conf.subarray(row * N, row * N + N)));
      }
      return result;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

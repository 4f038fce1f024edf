// A chunked reconstruction: the one implementation behind `vggt-workbench reconstruct --chunk` and
// the app's RunOptions.chunk. It lives in Node, not in the engine: every chunk is a normal engine
// pass (the caller's, with all its options and sequence parallelism), so the engine needs nothing
// new; the alignment and the merge are file-level work on engine outputs, as the exports are; the
// app and the CLI already drive the engine from here (one process, or mpirun for parallel runs);
// and between passes the engine holds only one chunk's activations, which is the point.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ChunkFile } from "./chunk-file.js";
import { ChunkAligner, writeMergedOutput, type AlignBranch, type ChunkReport } from "./merge.js";
import { planChunks, type ChunkSpan } from "./plan.js";

export interface ChunkPass {
  span: ChunkSpan;
  images: string[];
  /** Where the pass must write its engine output. */
  output: string;
}

/** Runs one engine pass; reports its own progress as a fraction 0..1 with a message. Rejects
 *  when the signal aborts. */
export type RunPass = (pass: ChunkPass, onProgress: (fraction: number, message?: string) => void, signal: AbortSignal) => Promise<void>;

export interface ChunkedProgress {
  chunk: number;
  chunks: number;
  /** Overall fraction 0..1 (chunks weighted by their frame counts; the merge is the last 2%). */
  fraction: number;
  /** Seconds left for the whole run, extrapolated from the time so far; null until measurable. */
  etaSeconds: number | null;
  elapsedSeconds: number;
  message: string;
}

export interface ChunkedRunOptions {
  images: string[];
  size: number;
  overlap: number;
  /** The merged engine output (written atomically; left untouched when the run fails or is cancelled). */
  output: string;
  /** A folder for the chunk outputs (created, and removed at the end). */
  workDir: string;
  runPass: RunPass;
  signal: AbortSignal;
  branch?: AlignBranch;
  onProgress?: (p: ChunkedProgress) => void;
  /** Called as soon as a chunk is aligned (its residual is known). */
  onChunk?: (r: ChunkReport) => void;
  /** Extra metadata entries of the merged file. */
  metadata?: Record<string, string>;
}

export interface ChunkedRunResult {
  /** One entry per chunk; a single chunk (size >= frames) is a plain run. */
  chunks: ChunkReport[];
  plan: ChunkSpan[];
}

export class ChunkCancelledError extends Error {
  constructor() {
    super("cancelled");
  }
}

/** Runs the chunks one after another and merges them into one output. With one chunk (size >= the
 *  frame count) it is exactly a single pass writing `output` (byte-identical to an unchunked run). */
export async function runChunked(o: ChunkedRunOptions): Promise<ChunkedRunResult> {
  const plan = planChunks(o.images.length, o.size, o.overlap);
  const t0 = Date.now();
  const totalFrames = plan.reduce((a, s) => a + s.last - s.first + 1, 0);
  const MERGE_SHARE = plan.length > 1 ? 0.02 : 0;
  let doneFrames = 0;
  const report = (chunk: number, passFraction: number, message: string) => {
    const span = plan[chunk];
    const f = Math.min(1, ((doneFrames + passFraction * (span.last - span.first + 1)) / totalFrames) * (1 - MERGE_SHARE));
    const elapsed = (Date.now() - t0) / 1000;
    o.onProgress?.({
      chunk,
      chunks: plan.length,
      fraction: f,
      etaSeconds: f > 0.01 && elapsed > 1 ? (elapsed * (1 - f)) / f : null,
      elapsedSeconds: elapsed,
      message: plan.length > 1 ? `chunk ${chunk + 1}/${plan.length} (frames ${span.first + 1}-${span.last + 1})${message ? `: ${message}` : ""}` : message,
    });
  };
  const check = () => {
    if (o.signal.aborted) throw new ChunkCancelledError();
  };

  if (plan.length === 1) {
    await o.runPass({ span: plan[0], images: o.images, output: o.output }, (f, m) => report(0, f, m ?? ""), o.signal);
    check();
    return { chunks: [{ index: 0, frames: [0, o.images.length - 1], scale: 1, rotationDeg: 0, residual: null, relativeResidual: null, inliers: 1, points: 0 }], plan };
  }

  mkdirSync(o.workDir, { recursive: true });
  try {
    const aligner = new ChunkAligner(plan, o.branch ?? "depth");
    const paths: string[] = [];
    for (const span of plan) {
      check();
      const path = join(o.workDir, `chunk-${String(span.index).padStart(4, "0")}.safetensors`);
      report(span.index, 0, "starting");
      await o.runPass({ span, images: o.images.slice(span.first, span.last + 1), output: path }, (f, m) => report(span.index, f, m ?? ""), o.signal);
      check();
      report(span.index, 1, "aligning");
      // Only the shared frames' points are read to align (chunk-file.ts reads frame ranges).
      const file = ChunkFile.open(path);
      let r;
      try {
        r = aligner.add(file);
      } finally {
        file.close();
      }
      paths.push(path);
      doneFrames += span.last - span.first + 1;
      o.onChunk?.(r);
    }
    check();
    o.onProgress?.({ chunk: plan.length - 1, chunks: plan.length, fraction: 1 - MERGE_SHARE, etaSeconds: null, elapsedSeconds: (Date.now() - t0) / 1000, message: "merging the chunks" });
    const chunks = aligner.reports;
    writeMergedOutput(paths, plan, aligner.transforms, o.output, {
      signal: o.signal,
      metadata: { ...(o.metadata ?? {}), chunks: JSON.stringify({ size: o.size, overlap: o.overlap, branch: o.branch ?? "depth", overlapFrom: "earlier chunk", chunks }) },
    });
    check();
    return { chunks, plan };
  } finally {
    rmSync(o.workDir, { recursive: true, force: true });
  }
}

/** One line per chunk for CLI output and logs. */
export function describeChunk(r: ChunkReport): string {
  const frames = `frames ${r.frames[0] + 1}-${r.frames[1] + 1}`;
  if (r.residual === null) return `chunk ${r.index + 1} (${frames}): reference (scale 1)`;
  return `chunk ${r.index + 1} (${frames}): scale ${r.scale.toPrecision(4)}, rotation ${r.rotationDeg.toFixed(2)} deg, overlap residual ${r.residual.toPrecision(3)} (${(100 * r.relativeResidual!).toFixed(2)}% of the scene scale), inliers ${(100 * r.inliers).toFixed(1)}% of ${r.points} points`;
}

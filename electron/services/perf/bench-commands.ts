// The performance lab's engine command lines: `vggt-engine bench --json` and `vggt-engine infer`
// for the kept A/B outputs (run by engine/engine-process.ts).
import type { OptionSet, ParallelSetting } from "../../ipc/perf-types.js";
import { toCliList } from "../../../common/option-catalog.js";
import { mpirunCommand } from "../engine/engine-launch.js";
export type BenchModel = { kind: "weights"; weights: string; config: string } | { kind: "random"; seed?: number; config?: string };

import type { EngineCommandLine } from "../engine/engine-process.js";

function modelArgs(model: BenchModel, forInfer: boolean): string[] {
  if (model.kind === "weights") return ["--weights", model.weights, "--config", model.config];
  // bench runs the full architecture with random weights when no --weights is given.
  return [...(forInfer ? ["--random-weights"] : []), "--config", model.config ?? "vggt-1b"];
}

function withParallel(binary: string, args: string[], parallel: ParallelSetting, mpirun = "mpirun"): EngineCommandLine {
  if (parallel.mode === "none") return { command: binary, args };
  if (!Number.isInteger(parallel.degree) || parallel.degree < 1) throw new Error(`parallel degree must be a positive integer, got ${parallel.degree}`);
  return mpirunCommand(binary, [...args, "--sp", parallel.mode], { np: parallel.degree, mpirun });
}

export interface BenchCommandInput {
  binary: string;
  kind: "cumulative" | "ab";
  a?: OptionSet;
  b?: OptionSet;
  model: BenchModel;
  /** Folder of the frames (the engine sorts them by name); absent: synthetic input. */
  imagesDir?: string;
  frames: number;
  repeats: number;
  warmup?: number;
  threads: number;
  parallel: ParallelSetting;
  mpirun?: string;
  /** How images are fitted to 518 px (the Run panel's choice); default crop. */
  preprocess?: "crop" | "pad";
}

/** `vggt-engine bench --json (--cumulative | --ab A B) ...` (docs/BENCH-JSON.md). */
export function buildBenchCommand(i: BenchCommandInput): EngineCommandLine {
  const posInt = (v: number, what: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`${what} must be an integer >= ${min}, got ${v}`);
    return String(v);
  };
  const args = ["bench", "--json"];
  if (i.kind === "cumulative") args.push("--cumulative");
  else {
    if (!i.a || !i.b) throw new Error("an A/B benchmark needs option sets A and B");
    args.push("--ab", toCliList(i.a), toCliList(i.b));
  }
  args.push(...modelArgs(i.model, false));
  if (i.imagesDir) args.push("--images", i.imagesDir, "--preprocess", i.preprocess ?? "crop");
  args.push("--frames", posInt(i.frames, "frames", 1), "--repeats", posInt(i.repeats, "repeats", 1), "--warmup", posInt(i.warmup ?? 1, "warmup", 0), "--threads", posInt(i.threads, "threads", 0));
  return withParallel(i.binary, args, i.parallel, i.mpirun);
}

export interface InferCommandInput {
  binary: string;
  model: BenchModel;
  images: string[];
  output: string;
  options: OptionSet;
  threads: number;
  parallel: ParallelSetting;
  mpirun?: string;
  /** How images are fitted to 518 px (the Run panel's choice); default crop. */
  preprocess?: "crop" | "pad";
}

/** `vggt-engine infer` for one option set (the A/B point clouds). */
export function buildInferCommand(i: InferCommandInput): EngineCommandLine {
  if (i.images.length === 0) throw new Error("infer needs at least one image");
  const args = ["infer", ...modelArgs(i.model, true), "--images", ...i.images, "--preprocess", i.preprocess ?? "crop", "--out", i.output, "--threads", String(i.threads), `--options=${toCliList(i.options)}`];
  return withParallel(i.binary, args, i.parallel, i.mpirun);
}

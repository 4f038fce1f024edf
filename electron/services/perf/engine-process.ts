// Runs one-shot engine commands (`vggt-engine bench --json`, `vggt-engine infer`) as child
// processes: builds their command lines, streams stderr line by line (the engine's progress),
// collects stdout, and cancels through an AbortSignal (SIGTERM to the process group, SIGKILL after
// a grace period; the group also covers mpirun and its ranks).
import { spawn } from "node:child_process";

import type { OptionSet, ParallelSetting } from "../../ipc/perf-types.js";
import { toCliList } from "../../../common/option-catalog.js";

export type BenchModel = { kind: "weights"; weights: string; config: string } | { kind: "random"; seed?: number; config?: string };

export interface EngineCommandLine {
  command: string;
  args: string[];
}

function modelArgs(model: BenchModel, forInfer: boolean): string[] {
  if (model.kind === "weights") return ["--weights", model.weights, "--config", model.config];
  // bench runs the full architecture with random weights when no --weights is given.
  return [...(forInfer ? ["--random-weights"] : []), "--config", model.config ?? "vggt-1b"];
}

function withParallel(binary: string, args: string[], parallel: ParallelSetting, mpirun = "mpirun"): EngineCommandLine {
  if (parallel.mode === "none") return { command: binary, args };
  if (!Number.isInteger(parallel.degree) || parallel.degree < 1) throw new Error(`parallel degree must be a positive integer, got ${parallel.degree}`);
  return { command: mpirun, args: ["-np", String(parallel.degree), binary, ...args, "--sp", parallel.mode] };
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

export class ProcessCancelledError extends Error {
  constructor() {
    super("cancelled");
  }
}

export interface ProcessResult {
  stdout: string;
  stderrTail: string;
}

export interface RunProcessOptions {
  signal?: AbortSignal;
  onStderrLine?: (line: string) => void;
  /** SIGTERM -> SIGKILL grace period. */
  killAfterMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Longest stdout kept (the benchmark JSON is a few kB). */
  maxStdoutBytes?: number;
}

const STDERR_TAIL = 8192;

/** Runs a command to completion; rejects with the exit status and stderr tail on failure. */
export function runEngineProcess(cmd: EngineCommandLine, opts: RunProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new ProcessCancelledError());
    const child = spawn(cmd.command, cmd.args, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: opts.env ?? process.env });
    const maxOut = opts.maxStdoutBytes ?? 16 * 2 ** 20;
    const out: Buffer[] = [];
    let outBytes = 0;
    let tail = "";
    let partial = "";
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;

    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    const onAbort = () => {
      cancelled = true;
      signalGroup("SIGTERM");
      killTimer = setTimeout(() => signalGroup("SIGKILL"), opts.killAfterMs ?? 3000);
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    child.stdout.on("data", (d: Buffer) => {
      outBytes += d.length;
      if (outBytes <= maxOut) out.push(d);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      tail = (tail + d).slice(-STDERR_TAIL);
      partial += d;
      // Progress lines may end in \r (a terminal progress bar) or \n.
      const lines = partial.split(/\r\n|\r|\n/);
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) opts.onStderrLine?.(l);
    });
    child.on("error", (e) => {
      opts.signal?.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      reject(new Error(`cannot start ${cmd.command}: ${e.message}`));
    });
    child.on("close", (code, sig) => {
      opts.signal?.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      if (partial.trim()) opts.onStderrLine?.(partial);
      if (cancelled) return reject(new ProcessCancelledError());
      const stderrTail = tail.trim();
      if (code !== 0) {
        const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
        return reject(new Error(`${cmd.args[0] ?? cmd.command} ${how}${stderrTail ? `: ${lastLines(stderrTail, 6)}` : ""}`));
      }
      if (outBytes > maxOut) return reject(new Error(`${cmd.args[0]}: stdout over ${maxOut} bytes`));
      resolve({ stdout: Buffer.concat(out).toString("utf8"), stderrTail });
    });
  });
}

function lastLines(s: string, n: number): string {
  return s.split(/\r?\n/).slice(-n).join("\n");
}

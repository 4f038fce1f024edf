// The performance lab's service: runs `vggt-engine bench --json` (cumulative or A/B) on the
// current images as a child process, streams its progress, keeps every result in the history
// store, and for A/B runs optionally keeps A's and B's outputs so the 3-D view can flip between
// them. Benchmarks wait in the app's one engine queue (services/engine/job-queue.ts) behind
// reconstruction runs, and the app's engine gives its model back before the benchmark's process
// loads one: two jobs at once would spoil the timings and hold two full models.
import { checkThreads } from "../../../common/limits.js";
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { basename, join } from "node:path";

import type { BenchJson, BenchProgress, BenchRecord, BenchRequest, BenchSummary, MachineDescription, OptionSet, ParallelSetting, PerfInfo } from "../../ipc/perf-types.js";
import type { AppEvent, PointBranch, PointCloud } from "../../ipc/types.js";
import { extractPointCloud, OutputCache } from "../pointcloud/pointcloud.js";
import { describeSet, normalizeSet, OPTION_NAMES } from "../../../common/option-catalog.js";
import { parseBenchJson } from "../../../common/bench-json.js";
import { buildBenchCommand, buildInferCommand, type BenchModel } from "./bench-commands.js";
import { ProcessCancelledError, runEngineProcess, type EngineCommandLine } from "../engine/engine-process.js";
import { NO_MPI_NOTE, probeEngine, type EngineCapabilities } from "./engine-info.js";
import { writeFileAtomic } from "../tensors/safetensors.js";
import { BenchHistory, newBenchId, toBenchSummary } from "./history.js";
import { EngineJobQueue } from "../engine/job-queue.js";
import { BenchProgressTracker, benchPlan } from "./bench-eta.js";

/** The engine's stdout of a benchmark, verbatim. */
export const ENGINE_OUTPUT_FILE = "engine-output.json";

export interface PerfModel {
  /** Display name. */
  name: string;
  weights?: string;
  config?: string;
}

export interface PerfLabOptions {
  dataDir: string;
  /** The engine binary, or an Error saying why there is none. */
  binary: () => string | Error;
  /** The installed model, or null. */
  model: () => PerfModel | null;
  /** Throws when the path may not be read (web mode). */
  checkReadable: (path: string) => void;
  emit: (e: AppEvent) => void;
  /** mpirun for parallel runs (default "mpirun"). */
  mpirun?: string;
  /** The app's engine queue, shared with reconstruction runs (default: a queue of its own). */
  jobs?: EngineJobQueue;
  /** Frees the app engine's model before a benchmark's own engine process starts. */
  releaseEngine?: () => Promise<void>;
  /** After the release: a message when the benchmark's process would not fit in the memory now
   * available (it is then refused before it starts), else null. */
  memoryCheck?: (req: BenchRequest) => Promise<string | null>;
  /** Predicted seconds of one forward pass with these switches (per-stage measured rates). */
  predictForward?: (req: BenchRequest, options: OptionSet) => Promise<number>;
  /** A finished benchmark's rows: their per-stage timings refine the measured rates. */
  recordResult?: (req: BenchRequest, result: BenchJson) => void;
}

const MAX_REPEATS = 100;

export function hostMachine(): MachineDescription {
  const c = cpus();
  return { cpu: c[0]?.model?.trim() || "unknown CPU", cores: c.length, memoryBytes: totalmem(), hostname: hostname(), platform: process.platform, arch: process.arch };
}

function machineFrom(json: BenchJson): MachineDescription {
  const host = hostMachine();
  return { ...host, cpu: json.machine.cpu || host.cpu, cores: json.machine.cores, memoryBytes: json.machine.memory_bytes || host.memoryBytes, isa: json.isa || undefined };
}

function sameOptions(requested: OptionSet, reported: OptionSet): string[] {
  return OPTION_NAMES.filter((n) => n in reported && reported[n] !== requested[n]);
}

export class PerfLab {
  readonly history: BenchHistory;
  private readonly active = new Map<string, AbortController>();
  private queue: Promise<void> = Promise.resolve();
  private readonly jobs: EngineJobQueue;
  private caps: Promise<EngineCapabilities> | null = null;
  private capsBinary: string | null = null;
  private readonly outputs = new OutputCache();

  constructor(private readonly opts: PerfLabOptions) {
    this.history = new BenchHistory(opts.dataDir);
    this.jobs = opts.jobs ?? new EngineJobQueue();
  }

  private capabilities(): Promise<EngineCapabilities> {
    const bin = this.opts.binary();
    if (bin instanceof Error) return Promise.resolve({ version: null, parallel: false, parallelModes: [], problem: bin.message });
    if (!this.caps || this.capsBinary !== bin) {
      this.capsBinary = bin;
      this.caps = probeEngine(bin);
    }
    return this.caps;
  }

  async info(): Promise<PerfInfo> {
    const caps = await this.capabilities();
    return {
      engineVersion: caps.version,
      engineProblem: caps.problem,
      options: [...OPTION_NAMES],
      parallel: caps.parallel
        ? { available: true, note: "Reconstruction runs use mpirun with one rank per degree; benchmarks stay single-process.", modes: ["none", ...caps.parallelModes], maxDegree: 64 }
        : { available: false, note: NO_MPI_NOTE, modes: ["none"], maxDegree: 1 },
      hostCores: cpus().length,
    };
  }

  /** Checks a request and fills in defaults; throws a message for the user. */
  private async normalize(req: BenchRequest): Promise<BenchRequest> {
    if (!req || (req.kind !== "cumulative" && req.kind !== "ab")) throw new Error('benchmark kind must be "cumulative" or "ab"');
    const repeats = Number(req.repeats);
    if (!Number.isInteger(repeats) || repeats < 1 || repeats > MAX_REPEATS) throw new Error(`repeats must be an integer from 1 to ${MAX_REPEATS}, got ${req.repeats}`);
    const threads = checkThreads(req.threads ?? 0);
    const images = Array.isArray(req.images) ? req.images : [];
    if (images.some((p) => typeof p !== "string")) throw new Error("images: expected a list of paths");
    for (const p of images) {
      this.opts.checkReadable(p);
      if (!existsSync(p)) throw new Error(`${p}: image not found`);
    }
    const frames = images.length || Number(req.frames ?? 2);
    if (!Number.isInteger(frames) || frames < 1) throw new Error(`frames must be a positive integer, got ${req.frames}`);
    const parallel: ParallelSetting = { mode: req.parallel?.mode ?? "none", degree: req.parallel?.mode && req.parallel.mode !== "none" ? Number(req.parallel.degree) : 1 };
    if (!["none", "ulysses", "ring"].includes(parallel.mode)) throw new Error(`parallel mode must be none, ulysses or ring, got ${JSON.stringify(parallel.mode)}`);
    if (parallel.mode !== "none") {
      const caps = await this.capabilities();
      if (!caps.parallel) throw new Error(`parallel mode ${parallel.mode}: ${NO_MPI_NOTE}`);
      // The engine's bench command is single-process; parallel timings come from reconstruction
      // runs (Run panel) or `mpirun ... vggt-engine infer --sp` (docs/PERFORMANCE.md).
      throw new Error(`parallel mode ${parallel.mode}: benchmarks run in one process; use a reconstruction run with this parallelism setting to time it`);
    }
    const warmup = Number(req.warmup ?? 1);
    if (!Number.isInteger(warmup) || warmup < 0 || warmup > 10) throw new Error(`warmup must be an integer from 0 to 10, got ${req.warmup}`);
    const out: BenchRequest = { kind: req.kind, images, frames, repeats, warmup, threads, randomWeights: !!req.randomWeights, parallel, keepOutputs: !!req.keepOutputs && images.length > 0, label: req.label?.trim() || undefined };
    if (req.kind === "ab") {
      if (!req.a || !req.b) throw new Error("an A/B benchmark needs two option sets");
      out.a = { label: String(req.a.label || describeSet(normalizeSet(req.a.options, "A"))), options: normalizeSet(req.a.options, "A") };
      out.b = { label: String(req.b.label || describeSet(normalizeSet(req.b.options, "B"))), options: normalizeSet(req.b.options, "B") };
    }
    return out;
  }

  private benchModel(req: BenchRequest): { model: BenchModel; name: string } {
    if (req.randomWeights) return { model: { kind: "random", config: "vggt-1b" }, name: "random weights (VGGT-1B architecture)" };
    const m = this.opts.model();
    if (!m || !m.weights || !m.config) throw new Error("no model is installed: use the Model panel (the Model… button: Download VGGT-1B, a checkpoint file or a folder), or benchmark with random weights");
    return { model: { kind: "weights", weights: m.weights, config: m.config }, name: m.name };
  }

  async start(reqIn: BenchRequest): Promise<BenchSummary> {
    const req = await this.normalize(reqIn);
    const bin = this.opts.binary();
    if (bin instanceof Error) throw new Error(`the engine is not available: ${bin.message}`);
    const { model, name: modelName } = this.benchModel(req);
    const caps = await this.capabilities();
    const id = newBenchId();
    const kindLabel = req.kind === "ab" ? `A/B: ${req.a!.label} vs ${req.b!.label}` : "Cumulative (write-up order)";
    const record: BenchRecord = {
      id,
      createdAt: new Date().toISOString(),
      label: req.label ?? `${kindLabel} · ${req.frames} frame${req.frames === 1 ? "" : "s"} × ${req.repeats}`,
      kind: req.kind,
      status: "running",
      engineVersion: caps.version ?? "unknown",
      machine: hostMachine(),
      model: modelName,
      frames: req.frames!,
      repeats: req.repeats,
      threads: req.threads,
      parallel: req.parallel,
      request: req,
      command: [],
    };
    this.history.create(record);
    this.emit(toBenchSummary(record));
    const abort = new AbortController();
    this.active.set(id, abort);
    const waiting = (ahead: { label: string }) =>
      this.opts.emit({ type: "bench-progress", progress: { benchId: id, line: `waiting for ${ahead.label} to finish (one engine job at a time)`, elapsedSeconds: 0, phase: "waiting" } });
    const job = this.jobs.run(`benchmark '${record.label}'`, () => this.execute(id, bin, model, abort.signal), waiting);
    this.queue = Promise.all([this.queue, job])
      .then(() => undefined)
      .catch((e) => console.error(`benchmark ${id}: ${(e as Error).message}`))
      .finally(() => this.active.delete(id));
    return toBenchSummary(record);
  }

  private emit(bench: BenchSummary): void {
    this.opts.emit({ type: "bench-updated", bench });
  }

  private set(id: string, patch: Partial<BenchRecord>): BenchRecord {
    const r = this.history.update(id, patch);
    this.emit(toBenchSummary(r));
    return r;
  }

  /** The frames as a folder the engine reads in order (it sorts by name). */
  private linkInputs(id: string, images: string[]): string {
    const dir = join(this.history.benchDir(id), "inputs");
    mkdirSync(dir, { recursive: true });
    images.forEach((p, i) => {
      const target = join(dir, `${String(i + 1).padStart(4, "0")}-${basename(p)}`);
      try {
        symlinkSync(p, target);
      } catch {
        copyFileSync(p, target);
      }
    });
    return dir;
  }

  private async execute(id: string, binary: string, model: BenchModel, signal: AbortSignal): Promise<void> {
    const rec = this.history.get(id);
    const req = rec.request;
    const t0 = Date.now();
    let log = "";
    const steps = benchPlan(req, () => 0);
    const perRun = await Promise.all(steps.map((s) => this.opts.predictForward?.(req, s.options).catch(() => 0) ?? 0));
    const tracker = new BenchProgressTracker(steps.map((s, i) => ({ ...s, secondsPerRun: perRun[i] })));
    let lastLine = "starting the engine";
    let lastPhase: BenchProgress["phase"] = "benchmark";
    const progress = (line: string, phase: BenchProgress["phase"]): BenchProgress => {
      const elapsedSeconds = (Date.now() - t0) / 1000;
      return { benchId: id, line, elapsedSeconds, phase, ...tracker.state(elapsedSeconds) };
    };
    // A long forward pass prints nothing: the percentage and ETA still move every second.
    const ticker = setInterval(() => this.opts.emit({ type: "bench-progress", progress: progress(lastLine, lastPhase) }), 1000);
    const run = async (cmd: EngineCommandLine, phase: BenchProgress["phase"]) => {
      let last = 0;
      lastPhase = phase;
      const r = await runEngineProcess(cmd, {
        signal,
        onStderrLine: (line) => {
          log = `${log}${line}\n`.slice(-16384);
          tracker.onLine(line, (Date.now() - t0) / 1000);
          lastLine = line;
          const now = Date.now();
          // Throttled: a progress bar can print hundreds of lines a second.
          if (now - last < 150) return;
          last = now;
          this.opts.emit({ type: "bench-progress", progress: progress(line, phase) });
        },
      });
      if (phase !== "benchmark") tracker.markRun((Date.now() - t0) / 1000);
      return r;
    };
    try {
      if (signal.aborted) throw new ProcessCancelledError();
      // The benchmark's process loads its own model: the app's engine lets go of its copy first.
      await this.opts.releaseEngine?.();
      const short = await this.opts.memoryCheck?.(req);
      if (short) throw new Error(short);
      const imagesDir = req.images.length ? this.linkInputs(id, req.images) : undefined;
      const cmd = buildBenchCommand({ binary, kind: req.kind, a: req.a?.options, b: req.b?.options, model, imagesDir, frames: req.frames!, repeats: req.repeats, warmup: req.warmup, threads: req.threads, parallel: req.parallel, mpirun: this.opts.mpirun, preprocess: req.preprocess === "pad" ? "pad" : "crop" });
      this.history.update(id, { command: [cmd.command, ...cmd.args] });
      this.opts.emit({ type: "bench-progress", progress: progress("starting the engine", "benchmark") });
      const { stdout } = await run(cmd, "benchmark");
      // The engine's own words, kept verbatim next to the record (what the charts were drawn from).
      writeFileAtomic(join(this.history.benchDir(id), ENGINE_OUTPUT_FILE), stdout);
      const result = parseBenchJson(stdout, `vggt-engine bench (benchmark ${id})`);
      if (result.kind !== req.kind) throw new Error(`the engine ran a "${result.kind}" benchmark, "${req.kind}" was asked for`);
      if (req.kind === "ab") {
        for (const [side, i] of [["A", 0], ["B", 1]] as const) {
          const wrong = sameOptions(req[side === "A" ? "a" : "b"]!.options, result.rows[i].options);
          if (wrong.length) throw new Error(`the engine ran ${side} with ${wrong.map((n) => `${n}=${result.rows[i].options[n]}`).join(", ")}, not the requested option set`);
        }
      }
      try {
        this.opts.recordResult?.(req, result);
      } catch (e) {
        console.warn(`benchmark ${id}: its stage timings were not recorded: ${(e as Error).message}`);
      }
      const outputs: BenchRecord["outputs"] = {};
      if (req.kind === "ab" && req.keepOutputs && req.images.length) {
        for (const side of ["A", "B"] as const) {
          const file = `${side}.safetensors`;
          const options = side === "A" ? req.a!.options : req.b!.options;
          const inferCmd = buildInferCommand({ binary, model, images: req.images, output: join(this.history.benchDir(id), file), options, threads: req.threads, parallel: req.parallel, mpirun: this.opts.mpirun, preprocess: req.preprocess === "pad" ? "pad" : "crop" });
          lastLine = `running ${side} once more for its point cloud`;
          this.opts.emit({ type: "bench-progress", progress: progress(lastLine, `output ${side}`) });
          await run(inferCmd, `output ${side}`);
          outputs[side] = file;
        }
      }
      this.set(id, {
        status: "done",
        result,
        outputs,
        log,
        durationMs: Date.now() - t0,
        engineVersion: result.engine_version,
        machine: machineFrom(result),
        frames: result.frames,
        threads: result.threads,
        medians: result.rows.map((r) => ({ name: r.name, ms: r.median_ms })),
      });
    } catch (e) {
      const cancelled = e instanceof ProcessCancelledError || signal.aborted;
      this.set(id, { status: cancelled ? "cancelled" : "failed", error: cancelled ? "cancelled by the user" : (e as Error).message, log, durationMs: Date.now() - t0 });
    } finally {
      clearInterval(ticker);
    }
  }

  cancel(id: string): void {
    const a = this.active.get(id);
    if (!a) throw new Error(`benchmark ${id} is not running`);
    a.abort();
  }

  list(): BenchSummary[] {
    return this.history.list();
  }

  get(id: string): BenchRecord {
    return this.history.get(id);
  }

  delete(id: string): void {
    if (this.active.has(id)) throw new Error("cancel the benchmark before deleting it");
    this.outputs.forget();
    this.history.delete(id);
  }

  pointCloud(id: string, side: "A" | "B", branch: PointBranch, maxPoints: number): PointCloud {
    const rec = this.history.get(id);
    const file = rec.outputs?.[side === "B" ? "B" : "A"];
    if (!file) throw new Error(`benchmark ${id} kept no output for ${side} (run an A/B benchmark on images with "keep point clouds")`);
    const path = join(this.history.benchDir(id), file);
    if (!existsSync(path)) throw new Error(`benchmark ${id}: output ${path} is missing`);
    const names = rec.request.images.map((p) => basename(p));
    const budget = Math.max(1000, Math.min(20_000_000, Math.floor(maxPoints || 1_000_000)));
    return extractPointCloud(this.outputs.load(path), { runId: `bench-${id}-${side}`, branch: branch === "depth" ? "depth" : "pointmap", maxPoints: budget, frameNames: names, randomWeights: rec.request.randomWeights }, path);
  }

  /** Resolves when the queued benchmarks have finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  async dispose(): Promise<void> {
    for (const a of this.active.values()) a.abort();
    await this.queue.catch(() => undefined);
  }
}

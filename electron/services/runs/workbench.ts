// The application's services behind the channel map: one implementation, called by the Electron
// IPC handlers (main.ts) and by the web-mode server alike.
import { EventEmitter } from "node:events";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir, totalmem } from "node:os";
import { basename, join, resolve } from "node:path";

import type { Backend } from "../../ipc/channels.js";
import type {
  AppEvent,
  AppInfo,
  BenchRecord,
  BenchRequest,
  BenchSummary,
  ChunkSummary,
  PerfInfo,
  RunEngineOptions,
  AppMode,
  Estimate,
  EstimateInput,
  ExportFormatInfo,
  ExportResult,
  ExportSelection,
  ImageBytes,
  ModelStatus,
  PointCloud,
  PointCloudRequest,
  RunDetail,
  RunSummary,
  ScanResult,
  StartRunRequest,
  RefineRequest,
  TrackRequest,
  TrackResult,
} from "../../ipc/types.js";
import { engineOutputFromSafetensors } from "../export/engine-output.js";
import { trackClickedPoints } from "../refine/click-tracks.js";
import { engineTrackPredictor } from "../refine/engine-tracks.js";
import { DEFAULT_QUERIES, refineOutputFile, type TrackPredictor } from "../refine/refine.js";
import { enabledNames, normalizeSet } from "../perf/catalog.js";
import { findEngineBinary } from "../engine/engine-launch.js";
import { checkVggtConfig } from "../model-manager/config-check.js";
import { findLocalModel } from "../model-manager/index.js";
import { appCacheDir, appDataDir, currentPlatform, hfHubCacheDir } from "../model-manager/paths.js";
import { PerfLab } from "../perf/perf-lab.js";
import { EngineJobQueue } from "../engine/job-queue.js";
import { CancelledError, type EngineJob, type EngineJobResult, type EngineRunner } from "./engine-runner.js";
import { ChunkCancelledError, runChunked } from "../chunking/run.js";
import { DEFAULT_GFLOPS, dimsFromConfig, estimateRun, runFlops, VGGT_1B_DIMS, VGGT_1B_PARAMS, type ModelDims, type Throughput } from "./estimate.js";
import { extractPointCloud, OutputCache } from "./pointcloud.js";
import { ProgressTracker, stageWeights } from "./progress.js";
import { PathNotAllowedError, PathPolicy } from "./path-policy.js";
import { MAX_IMAGE_BYTES, mimeOf, scanPaths } from "./scan.js";
import { newRunId, RunStore, toSummary } from "./store.js";

export const APP_VERSION = "0.1.0";

/** Export formats provided by services/export, plugged in by main.ts / the web server. */
export interface Exporter {
  formats(): ExportFormatInfo[];
  export(outputFile: string, run: RunDetail, format: string, options: ExportSelection): Promise<ExportResult>;
}

export interface WorkbenchOptions {
  mode: AppMode;
  dataDir: string;
  engine: EngineRunner;
  /** Model folder given on the command line / environment; wins over the saved setting. */
  modelDir?: string;
  sampleDir?: string;
  /** Web mode: files may only be read from these folders, plus the app's own data folders (see
   *  path-policy.ts); undefined: unrestricted (the desktop app). */
  restrictToRoots?: string[];
  /** Web mode: folders in which the browser may choose a model with the path field (the operator's
   *  --model-root), besides the app's own folders (the model manager's cache among them). */
  modelRoots?: string[];
  /** Environment for the model manager's folders (default process.env). */
  env?: NodeJS.ProcessEnv;
  pickFolder?: () => Promise<string | null>;
  exporter?: Exporter;
  hostMemoryBytes?: number;
}

interface ModelInfo {
  status: ModelStatus;
  dims: ModelDims;
  weights?: string;
  config?: string;
}

const isRegularFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** Parameter count from a safetensors header, without reading the tensors. */
/** A safetensors checkpoint's parameter count, from its header (null: not readable). */
export function countParams(weights: string): number | null {
  try {
    if (!isRegularFile(weights)) return null; // a FIFO or device would block or never end
    const fd = openSync(weights, "r");
    try {
      const head = Buffer.alloc(8);
      readSync(fd, head, 0, 8, 0);
      const len = Number(head.readBigUInt64LE(0));
      if (len > 100 * 2 ** 20) return null;
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, 8);
      const header = JSON.parse(buf.toString("utf8"));
      let n = 0;
      for (const [k, v] of Object.entries<any>(header)) if (k !== "__metadata__") n += (v.shape as number[]).reduce((a, b) => a * b, 1);
      return n;
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** VGGT-1B weights as a single checkpoint file (the model manager's cache or a file the user picked). */
function vggt1bFile(path: string, name: string): ModelInfo {
  return {
    status: { state: "ready", name, dir: path, weightsBytes: statSync(path).size, params: path.endsWith(".safetensors") ? countParams(path) : null },
    dims: VGGT_1B_DIMS,
    weights: path,
    config: "vggt-1b", // the engine's built-in preset
  };
}

/** Model configs are a few hundred bytes; this bounds what a bad path can make us read. */
const MAX_CONFIG_BYTES = 1 << 20;

export function readModelDir(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): ModelInfo {
  const none = (hint: string): ModelInfo => ({ status: { state: "none", hint }, dims: VGGT_1B_DIMS });
  if (!dir) {
    // Nothing chosen yet: the VGGT-1B weights the model manager downloaded or found.
    const local = findLocalModel({}, { env });
    if (local) return vggt1bFile(local.path, `VGGT-1B (${local.origin === "hf-cache" ? "Hugging Face cache" : "local file"})`);
    return none(
      "Get the VGGT-1B weights with 'vggt-workbench model download', or enter the path of the official checkpoint (model.safetensors or model.pt) or of a folder holding it below. Until then you can try the random-weight benchmark mode.",
    );
  }
  if (!existsSync(dir)) return none(`${dir}: no such file or folder.`);
  if (isRegularFile(dir)) return vggt1bFile(resolve(dir), basename(dir));
  // A folder with the official release's single file (model.safetensors, or model.pt).
  for (const f of ["model.safetensors", "model.pt"]) if (isRegularFile(join(dir, f))) return vggt1bFile(resolve(dir, f), `${basename(resolve(dir))}/${f}`);
  const weights = join(dir, "weights.safetensors");
  const config = join(dir, "config.json");
  if (!isRegularFile(weights) || !isRegularFile(config))
    return none(`The folder ${dir} holds no checkpoint: expected model.safetensors or model.pt (the official release), or weights.safetensors with config.json (regular files).`);
  let cfg: unknown;
  try {
    const st = statSync(config);
    if (st.size > MAX_CONFIG_BYTES) return none(`${config}: too large for a model config (${st.size} bytes, at most ${MAX_CONFIG_BYTES})`);
    cfg = JSON.parse(readFileSync(config, "utf8"));
  } catch (e) {
    // JSON.parse quotes the text it choked on: never echo a file's bytes, say where it broke.
    const at = /position (\d+)/.exec((e as Error).message);
    return none(`${config}: not valid JSON${at ? ` (at byte ${at[1]})` : ""}.`);
  }
  try {
    cfg = checkVggtConfig(cfg, config);
  } catch (e) {
    return none((e as Error).message);
  }
  return {
    status: { state: "ready", name: basename(resolve(dir)), dir: resolve(dir), weightsBytes: statSync(weights).size, params: countParams(weights) },
    dims: dimsFromConfig(cfg),
    weights,
    config,
  };
}

/** Whether the model's architecture has a track head (VGGT-1B has; a config JSON says so with 'track'). */
function hasTrackHead(model: ModelInfo): boolean {
  if (model.config === "vggt-1b") return true;
  if (!model.config) return false;
  try {
    return "track" in JSON.parse(readFileSync(model.config, "utf8"));
  } catch {
    return false;
  }
}

interface ActiveRun {
  id: string;
  abort: AbortController;
  promise: Promise<void>;
}

/** Known switches from an engine report, unknown ones kept as reported (a newer engine). */
function normalizeReported(flags: Record<string, unknown>): Record<string, boolean> {
  const known = normalizeSet({});
  for (const [k, v] of Object.entries(flags)) known[k] = v === true;
  return known;
}

export class Workbench implements Backend {
  readonly store: RunStore;
  readonly perf: PerfLab;
  private readonly events = new EventEmitter();
  private readonly outputs = new OutputCache();
  private model: ModelInfo;
  private queue: Promise<void> = Promise.resolve();
  /** Runs, refinements, click-to-track passes and benchmarks: one engine job at a time. */
  readonly jobs = new EngineJobQueue();
  private readonly active = new Map<string, ActiveRun>();
  private readonly unsubscribeEngine: () => void;
  /** The one check every path from a request goes through (web mode: see path-policy.ts). */
  readonly paths: PathPolicy;
  private readonly modelRootsHint: string;

  /** The run whose track-head features the engine holds (one at a time; the next run replaces it). */
  private trackCache: { runId: string; engineRun: string } | null = null;

  constructor(private readonly opts: WorkbenchOptions) {
    this.store = new RunStore(opts.dataDir);
    const env = opts.env ?? process.env;
    const restrict = opts.restrictToRoots;
    const pi = { ...currentPlatform(), env };
    const ownDirs = [this.store.dataDir, hfHubCacheDir(pi), appDataDir(pi), appCacheDir(pi)];
    // The operator's --model is a choice made on the server, not by the browser.
    const modelRoots = [...(opts.modelRoots ?? []), ...ownDirs];
    this.paths = new PathPolicy(restrict ? () => [...restrict, ...modelRoots, ...(opts.modelDir ? [opts.modelDir] : [])] : null);
    this.modelRootsHint = `models can be chosen inside ${modelRoots.join(", ")} (start web mode with --model-root DIR to add a folder)`;
    // A folder saved by the desktop app (or by an older version) may lie outside what web mode may read.
    const saved = this.store.readSettings().modelDir;
    this.model = readModelDir(opts.modelDir ?? (saved && this.paths.allows(saved) ? saved : undefined), env);
    this.unsubscribeEngine = opts.engine.onState((engine) => this.emit({ type: "engine", engine }));
    this.events.setMaxListeners(100);
    this.perf = new PerfLab({
      dataDir: opts.dataDir,
      binary: () => {
        const b = opts.engine.state().binary;
        if (b && b !== "fake") return b;
        try {
          return findEngineBinary();
        } catch (e) {
          return e as Error;
        }
      },
      model: () => (this.model.status.state === "ready" ? { name: this.model.status.name, weights: this.model.weights, config: this.model.config } : null),
      checkReadable: (p) => this.checkReadable(p),
      emit: (e) => this.emit(e),
      jobs: this.jobs,
      releaseEngine: async () => {
        this.trackCache = null;
        try {
          await opts.engine.release?.();
        } catch (e) {
          // An engine that cannot answer (crashed, stopped) holds no model to give back.
          console.warn(`could not unload the app engine's model before a benchmark: ${(e as Error).message}`);
        }
      },
    });
  }

  subscribe(listener: (e: AppEvent) => void): () => void {
    this.events.on("event", listener);
    return () => this.events.off("event", listener);
  }

  private emit(e: AppEvent): void {
    this.events.emit("event", e);
  }

  private checkReadable(path: string): string {
    return this.paths.check(path);
  }

  appInfo(): AppInfo {
    return {
      version: APP_VERSION,
      mode: this.opts.mode,
      platform: process.platform,
      dataDir: this.opts.dataDir,
      engine: this.opts.engine.state(),
      model: this.model.status,
      hasSample: !!this.opts.sampleDir && existsSync(this.opts.sampleDir),
    };
  }

  async scanPaths(paths: string[]): Promise<ScanResult> {
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== "string")) throw new Error("scanPaths: expected a list of paths");
    for (const p of paths) this.checkReadable(p);
    return scanPaths(paths, this.paths.restricted ? { allow: (p) => this.paths.allows(p) } : {});
  }

  async loadSample(): Promise<ScanResult> {
    const dir = this.opts.sampleDir;
    if (!dir || !existsSync(dir)) throw new Error("no bundled sample in this build");
    const r = await scanPaths([dir]);
    // The sample folder also holds its generator script; it is not a frame.
    return { images: r.images, rejected: r.rejected.filter((x) => !x.name.endsWith(".ts")) };
  }

  createUpload(): { uploadId: string } {
    return { uploadId: this.store.newUploadDir().uploadId };
  }

  readImage(path: string): ImageBytes {
    const p = this.checkReadable(path);
    // Only regular files of bounded size: a FIFO would block and /dev/zero would never end.
    const st = statSync(p);
    if (!st.isFile()) throw new Error(`${path}: not a regular file`);
    if (st.size > MAX_IMAGE_BYTES) throw new Error(`${path}: file too large (${(st.size / 2 ** 20).toFixed(0)} MiB, at most ${MAX_IMAGE_BYTES / 2 ** 20} MiB)`);
    return { mime: mimeOf(p), bytes: new Uint8Array(readFileSync(p)) };
  }

  private throughput(randomWeights: boolean): Throughput {
    const key = randomWeights ? "random:vggt-1b" : this.modelKey();
    const m = this.store.readSettings().throughput?.[key];
    if (m && m.gflops > 0) return { gflops: m.gflops, basis: `measured on the run of ${m.at.slice(0, 16).replace("T", " ")} (${m.gflops.toFixed(0)} GFLOP/s)` };
    return { gflops: DEFAULT_GFLOPS, basis: `default throughput of ${DEFAULT_GFLOPS} GFLOP/s (no run measured yet)` };
  }

  private modelKey(): string {
    return this.model.status.state === "ready" ? `model:${this.model.status.dir}` : "none";
  }

  private dimsFor(randomWeights: boolean): ModelDims {
    return randomWeights ? VGGT_1B_DIMS : this.model.dims;
  }

  estimate(input: EstimateInput): Estimate {
    const dims = this.dimsFor(input.randomWeights);
    const st = this.model.status;
    const params = input.randomWeights ? VGGT_1B_PARAMS : st.state === "ready" ? (st.params ?? st.weightsBytes / 4) : 0;
    return estimateRun(input, dims, params, this.throughput(input.randomWeights), this.opts.hostMemoryBytes ?? totalmem());
  }

  async startRun(req: StartRunRequest): Promise<RunSummary> {
    if (!req || !Array.isArray(req.images) || req.images.length === 0) throw new Error("select at least one image to run");
    const options: RunDetail["options"] = {
      preprocess: req.options?.preprocess === "pad" ? ("pad" as const) : ("crop" as const),
      randomWeights: !!req.options?.randomWeights,
      seed: Number.isInteger(req.options?.seed) ? req.options.seed : 0,
    };
    if (req.options?.engineOptions !== undefined) options.engineOptions = normalizeSet(req.options.engineOptions, "engine options");
    const parallel = req.options?.parallel;
    // Parallel runs go to an mpirun launch of the engine (engine-adapter.ts); the engine itself
    // refuses what it cannot do (fewer frames than ranks, Ulysses with indivisible heads).
    options.parallel = parallel && parallel.mode !== "none" ? parallel : { mode: "none", degree: 1 };
    const chunk = req.options?.chunk;
    if (chunk !== undefined) {
      if (!chunk || !Number.isInteger(chunk.size) || chunk.size < 2 || !Number.isInteger(chunk.overlap) || chunk.overlap < 1 || (chunk.overlap >= chunk.size && chunk.size < req.images.length))
        throw new Error(`chunked run: the chunk size must be an integer of at least 2 and the overlap an integer from 1 to size - 1, got ${JSON.stringify(chunk)}`);
      options.chunk = { size: chunk.size, overlap: chunk.overlap };
    }
    // A hostfile names machines and a path on the server: the desktop app's choice only.
    if (options.parallel.hostfile && this.opts.mode === "web") throw new Error("parallel hostfile: not accessible in web mode");
    if (!options.randomWeights && this.model.status.state !== "ready")
      throw new Error("no model is installed: choose a model folder, or use the random-weight benchmark mode");
    for (const p of req.images) this.checkReadable(p);
    // Re-validate: files may have changed since they were scanned.
    const scan = await scanPaths(req.images);
    if (scan.rejected.length)
      throw new Error(`cannot run: ${scan.rejected.map((r) => `${r.name}: ${r.reason}`).join("; ")}`);
    const byPath = new Map(scan.images.map((i) => [i.path, i]));
    const images = req.images.map((p) => byPath.get(resolve(p))!).filter(Boolean);
    const estimate = this.estimate({ sizes: images, preprocess: options.preprocess, randomWeights: options.randomWeights });
    const id = newRunId();
    const detail: RunDetail = {
      id,
      name: this.uniqueRunName(req.name?.trim() || `${images.length} frame${images.length === 1 ? "" : "s"} — ${images[0].name}`),
      createdAt: new Date().toISOString(),
      status: "queued",
      frames: images.length,
      randomWeights: options.randomWeights,
      model: options.randomWeights ? `random weights (seed ${options.seed})` : this.model.status.state === "ready" ? this.model.status.name : "?",
      estimate,
      images,
      options,
      stages: [],
      ...(options.engineOptions ? { engineOptions: { flags: options.engineOptions, source: "requested" as const, parallel: options.parallel! } } : {}),
    };
    this.store.create(detail);
    this.emit({ type: "run-updated", run: toSummary(detail) });
    const abort = new AbortController();
    const model = this.model;
    const waiting = (ahead: { label: string }) =>
      this.emit({ type: "run-progress", progress: { runId: id, stage: "queued", fraction: 0, etaSeconds: null, elapsedSeconds: 0, message: `waiting for ${ahead.label} to finish (one engine job at a time)` } });
    const promise = (this.queue = Promise.all([this.queue, this.jobs.run(`run '${detail.name}'`, () => this.execute(id, abort.signal, model), waiting)])
      .then(() => undefined)
      .catch((e) => console.error(`run ${id}: ${(e as Error).message}`))
      .finally(() => {
        this.active.delete(id);
      }));
    this.active.set(id, { id, abort, promise });
    return toSummary(detail);
  }

  /** Resolves when every queued run has finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private setRun(id: string, patch: Partial<RunDetail>): void {
    this.emit({ type: "run-updated", run: toSummary(this.store.update(id, patch)) });
  }

  private async execute(id: string, signal: AbortSignal, model: ModelInfo): Promise<void> {
    const run = this.store.get(id);
    if (signal.aborted) {
      this.setRun(id, { status: "cancelled", error: "cancelled before it started" });
      return;
    }
    const est = run.estimate!;
    const dims = this.dimsFor(run.randomWeights);
    const tracker = new ProgressTracker(stageWeights(dims, est.frames, est.width, est.height), est.seconds);
    const t0 = Date.now();
    this.setRun(id, { status: "running" });
    this.emit({ type: "run-progress", progress: { runId: id, stage: "starting", fraction: 0, etaSeconds: tracker.eta(0), elapsedSeconds: 0 } });
    // Any job releases the engine's track cache; a real-weight run whose model has a track head
    // makes a new one, so that clicks on its frame 0 cost only the tracker.
    this.trackCache = null;
    const chunked = !!run.options.chunk && run.options.chunk.size < run.images.length;
    const trackCache = !chunked && !run.randomWeights && !!this.opts.engine.track && hasTrackHead(model) && !(run.options.parallel && run.options.parallel.mode !== "none" && run.options.parallel.degree > 1);
    // One engine pass: the whole run, or one chunk of a chunked run (every option applies to each).
    const job = (images: string[], output: string, withTrackCache: boolean): EngineJob => ({
      ...(withTrackCache ? { trackCache: true } : {}),
      model: run.randomWeights
        ? { kind: "random", seed: run.options.seed, config: "vggt-1b" }
        : { kind: "weights", weights: model.weights!, config: model.config! },
      images,
      preprocess: run.options.preprocess,
      output,
      ...(run.options.engineOptions ? { flags: run.options.engineOptions } : {}),
      ...(run.options.parallel && run.options.parallel.mode !== "none" && run.options.parallel.degree > 1
        ? { parallel: { mode: run.options.parallel.mode, degree: run.options.parallel.degree, ...(run.options.parallel.hostfile ? { hostfile: run.options.parallel.hostfile } : {}) } }
        : {}),
    });
    try {
      const result = chunked
        ? await this.executeChunked(id, run, job, dims, signal, t0)
        : await this.opts.engine.infer(
        job(run.images.map((i) => i.path), this.store.outputPath(id), trackCache),
        (p) => {
          const fraction = tracker.update(p.stage, p.step, p.total);
          const elapsed = (Date.now() - t0) / 1000;
          this.emit({
            type: "run-progress",
            progress: { runId: id, stage: p.stage, fraction, etaSeconds: tracker.eta(elapsed), elapsedSeconds: elapsed, message: p.total > 1 ? `${p.stage} ${p.step}/${p.total}` : p.stage },
          });
        },
        signal,
      );
      const durationMs = Date.now() - t0;
      this.outputs.forget(this.store.outputPath(id));
      // Record what the engine says it ran with; that, not the request, is what was measured.
      const engineOptions: RunEngineOptions | undefined = result.flags
        ? { flags: normalizeReported(result.flags), source: "engine", parallel: run.options.parallel ?? { mode: "none", degree: 1 } }
        : run.engineOptions;
      if (result.trackCacheRun) this.trackCache = { runId: id, engineRun: result.trackCacheRun };
      this.setRun(id, { status: "done", durationMs, stages: result.stages, ...(engineOptions ? { engineOptions } : {}) });
      // A chunked run computes the shared frames twice: its time is not the throughput of est.frames.
      if (!chunked) this.recordThroughput(run, durationMs);
    } catch (e) {
      const cancelled = e instanceof CancelledError || signal.aborted;
      this.setRun(id, { status: cancelled ? "cancelled" : "failed", durationMs: Date.now() - t0, error: cancelled ? "cancelled by the user" : (e as Error).message });
    }
  }

  /** A chunked run (services/chunking): the same engine passes, one per chunk, aligned and merged
   *  into the run's one output file; progress per chunk with an overall ETA, chunk reports as
   *  soon as each chunk is aligned. */
  private async executeChunked(
    id: string,
    run: RunDetail,
    job: (images: string[], output: string, trackCache: boolean) => EngineJob,
    dims: ModelDims,
    signal: AbortSignal,
    t0: number,
  ): Promise<EngineJobResult> {
    const est = run.estimate!;
    const stages = new Map<string, number>();
    let flags: EngineJobResult["flags"];
    const chunks: ChunkSummary[] = [];
    try {
      await runChunked({
        images: run.images.map((i) => i.path),
        size: run.options.chunk!.size,
        overlap: run.options.chunk!.overlap,
        output: this.store.outputPath(id),
        workDir: join(this.store.runDir(id), "chunks-in-progress"),
        signal,
        metadata: { chunk_size: String(run.options.chunk!.size), chunk_overlap: String(run.options.chunk!.overlap) },
        runPass: async (pass, onProgress, sig) => {
          const n = pass.images.length;
          const tracker = new ProgressTracker(stageWeights(dims, n, est.width, est.height), est.seconds);
          const r = await this.opts.engine.infer(job(pass.images, pass.output, false), (p) => onProgress(tracker.update(p.stage, p.step, p.total), p.total > 1 ? `${p.stage} ${p.step}/${p.total}` : p.stage), sig);
          for (const st of r.stages) stages.set(st.stage, (stages.get(st.stage) ?? 0) + st.ms);
          flags ??= r.flags;
        },
        onProgress: (p) => this.emit({ type: "run-progress", progress: { runId: id, stage: `chunk ${p.chunk + 1}/${p.chunks}`, fraction: p.fraction, etaSeconds: p.etaSeconds, elapsedSeconds: (Date.now() - t0) / 1000, message: p.message } }),
        onChunk: (r) => {
          chunks.push(r);
          this.setRun(id, { chunks: [...chunks] });
        },
      });
    } catch (e) {
      if (e instanceof ChunkCancelledError) throw new CancelledError();
      throw e;
    }
    return { stages: [...stages].map(([stage, ms]) => ({ stage, ms })), ...(flags ? { flags } : {}) };
  }

  private recordThroughput(run: RunDetail, durationMs: number): void {
    const est = run.estimate;
    if (!est || durationMs < 1000) return; // too short to say anything about throughput
    const flops = runFlops(this.dimsFor(run.randomWeights), est.frames, est.width, est.height);
    const key = run.randomWeights ? "random:vggt-1b" : this.modelKey();
    const throughput = { ...(this.store.readSettings().throughput ?? {}), [key]: { gflops: flops / 1e9 / (durationMs / 1000), at: new Date().toISOString() } };
    this.store.writeSettings({ throughput });
  }

  cancelRun(runId: string): void {
    const a = this.active.get(runId);
    if (!a) throw new Error(`run ${runId} is not in progress`);
    a.abort.abort();
  }

  /** Two runs never share a name: "name", "name (2)", "name (3)", ... */
  private uniqueRunName(base: string): string {
    const taken = new Set(this.store.list().map((r) => r.name));
    if (!taken.has(base)) return base;
    for (let k = 2; ; k++) if (!taken.has(`${base} (${k})`)) return `${base} (${k})`;
  }

  listRuns(): RunSummary[] {
    return this.store.list();
  }

  getRun(runId: string): RunDetail {
    return this.store.get(runId);
  }

  deleteRun(runId: string): void {
    if (this.active.has(runId)) throw new Error("cancel the run before deleting it");
    this.outputs.forget(this.store.outputPath(runId));
    this.store.delete(runId);
  }

  getPointCloud(req: PointCloudRequest): PointCloud {
    const run = this.store.get(req.runId);
    if (run.status !== "done") throw new Error(`run ${run.id} has no result (${run.status})`);
    const path = this.store.outputPath(run.id);
    if (!existsSync(path)) throw new Error(`run ${run.id}: output file is missing (${path})`);
    const file = this.outputs.load(path);
    const maxPoints = Math.max(1000, Math.min(20_000_000, Math.floor(req.maxPoints || 1_000_000)));
    return extractPointCloud(file, { runId: run.id, branch: req.branch === "depth" ? "depth" : "pointmap", maxPoints, frameNames: run.images.map((i) => i.name), randomWeights: run.randomWeights }, path);
  }

  setModelDir(dir: string): ModelStatus {
    let path: string;
    try {
      path = this.paths.check(dir, "model folder");
    } catch (e) {
      if (e instanceof PathNotAllowedError) throw new PathNotAllowedError(`${dir}: not accessible in web mode; ${this.modelRootsHint}`);
      throw e;
    }
    const info = readModelDir(path, this.opts.env ?? process.env);
    if (info.status.state !== "ready") throw new Error(info.status.hint);
    this.model = info;
    this.store.writeSettings({ modelDir: info.status.dir });
    this.emit({ type: "model", model: info.status });
    return info.status;
  }

  async pickFolder(): Promise<string | null> {
    return this.opts.pickFolder ? this.opts.pickFolder() : null;
  }

  exportFormats(): ExportFormatInfo[] {
    return this.opts.exporter?.formats() ?? [];
  }

  async exportRun(runId: string, format: string, options: ExportSelection): Promise<ExportResult> {
    if (!this.opts.exporter) throw new Error("export is not available in this build");
    const run = this.store.get(runId);
    if (run.status !== "done") throw new Error(`run ${runId} has no result to export`);
    return this.opts.exporter.export(this.store.outputPath(runId), run, format, options);
  }

  perfInfo(): Promise<PerfInfo> {
    return this.perf.info();
  }

  startBenchmark(request: BenchRequest): Promise<BenchSummary> {
    return this.perf.start(request);
  }

  cancelBenchmark(benchId: string): void {
    this.perf.cancel(benchId);
  }

  listBenchmarks(): BenchSummary[] {
    return this.perf.list();
  }

  getBenchmark(benchId: string): BenchRecord {
    return this.perf.get(benchId);
  }

  deleteBenchmark(benchId: string): void {
    this.perf.delete(benchId);
  }

  getBenchPointCloud(request: { benchId: string; side: "A" | "B"; branch: "pointmap" | "depth"; maxPoints: number }): PointCloud {
    return this.perf.pointCloud(request.benchId, request.side, request.branch, request.maxPoints);
  }

  /** The track head of the run's model over the run's images (one engine process per request). */
  private trackPredictor(run: RunDetail): TrackPredictor {
    let binary = this.opts.engine.state().binary;
    if (!binary || binary === "fake") binary = findEngineBinary();
    if (!run.randomWeights && this.model.status.state !== "ready") throw new Error("no model is installed: tracks need the model that made this run");
    if (!run.randomWeights && this.model.status.state === "ready" && this.model.status.name !== run.model)
      throw new Error(`run ${run.id} was made with the model '${run.model}', the app now has '${this.model.status.name}': choose that model again to track points or refine this run`);
    const config = run.randomWeights || this.model.config === "vggt-1b" ? undefined : this.model.config;
    const shared = this.opts.engine;
    const viaCli = engineTrackPredictor({
      binary,
      model: run.randomWeights ? { randomSeed: run.options.seed, config } : { weights: this.model.weights!, config },
      images: run.images.map((i) => i.path),
      preprocess: run.options.preprocess,
      // The switches the run itself used (absent: the engine's defaults, as for the run).
      ...(run.options.engineOptions ? { options: enabledNames(run.options.engineOptions).join(",") } : {}),
    });
    const model = this.model;
    // Another query frame needs a forward pass with that frame first. It runs in the app's one
    // engine process (the model is already loaded there): infer with a track cache, then track.
    const viaSharedEngine: TrackPredictor | null =
      shared.track && (run.randomWeights || hasTrackHead(model))
        ? async (q, points, signal) => {
            const S = run.images.length;
            const order = [q, ...Array.from({ length: S }, (_, s) => s).filter((s) => s !== q)];
            const dir = mkdtempSync(join(tmpdir(), "vggt-tracks-"));
            try {
              this.trackCache = null;
              const res = await shared.infer(
                {
                  model: run.randomWeights ? { kind: "random", seed: run.options.seed, config: "vggt-1b" } : { kind: "weights", weights: model.weights!, config: model.config! },
                  images: order.map((s) => run.images[s].path),
                  preprocess: run.options.preprocess,
                  output: join(dir, "forward.safetensors"),
                  trackCache: true,
                  ...(run.options.engineOptions ? { flags: run.options.engineOptions } : {}),
                },
                () => {},
                signal ?? new AbortController().signal,
              );
              if (!res.trackCacheRun) throw new Error("the engine kept no track features for the forward pass");
              if (q === 0) this.trackCache = { runId: run.id, engineRun: res.trackCacheRun };
              const r = await shared.track!({ run: res.trackCacheRun, query_points: points, query_space: "model" }, signal);
              if (!r.conf) throw new Error("the track head returned no confidence");
              // Rows back in the run's frame order.
              const row = (s: number) => order.indexOf(s);
              return {
                track: Array.from({ length: S }, (_, s) => r.track[row(s)]),
                vis: Array.from({ length: S }, (_, s) => r.vis[row(s)]),
                conf: Array.from({ length: S }, (_, s) => r.conf![row(s)]),
                via: "forward-pass" as const,
              };
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
          }
        : null;
    // Frame-0 queries on the run the engine holds features of: the tracker only, no forward pass.
    return async (q, points, signal) => {
      const cache = this.trackCache;
      if (q === 0 && cache?.runId === run.id && this.opts.engine.track) {
        try {
          const r = await this.opts.engine.track({ run: cache.engineRun, query_points: points, query_space: "model" }, signal);
          if (!r.conf) throw new Error("the track head returned no confidence");
          return { track: r.track, vis: r.vis, conf: r.conf, via: "cached-features" as const };
        } catch (e) {
          // Released (another job ran, or the engine restarted): fall back to a forward pass.
          if (this.trackCache === cache) this.trackCache = null;
          console.warn(`track cache of run ${run.id} unusable (${(e as Error).message}); running the model again`);
        }
      }
      return (viaSharedEngine ?? viaCli)(q, points, signal);
    };
  }

  private doneOutput(runId: string): { run: RunDetail; path: string } {
    const run = this.store.get(runId);
    if (run.status !== "done") throw new Error(`run ${run.id} has no result (${run.status})`);
    const path = this.store.outputPath(run.id);
    if (!existsSync(path)) throw new Error(`run ${run.id}: output file is missing (${path})`);
    return { run, path };
  }

  async trackPoints(req: TrackRequest): Promise<TrackResult> {
    const { run, path } = this.doneOutput(req?.runId);
    const out = engineOutputFromSafetensors(this.outputs.load(path), path);
    const predict = this.trackPredictor(run);
    return this.jobs.run(`tracking points on run '${run.name}'`, () =>
      trackClickedPoints(out, run.id, req.frame, req.points, predict, req.space ?? "original", req.branch === "pointmap" ? "pointmap" : "depth"),
    );
  }

  refineRun(req: RefineRequest): RunSummary {
    const { run: src, path: input } = this.doneOutput(req?.runId);
    const queries = req.queries === undefined ? DEFAULT_QUERIES : req.queries;
    if (!Number.isInteger(queries) || queries < 1 || queries > 16384) throw new Error(`refine: queries must be an integer from 1 to 16384, got ${req.queries}`);
    const predict = this.trackPredictor(src);
    const id = newRunId();
    const detail: RunDetail = {
      ...src,
      id,
      name: `${src.name.replace(/ — refined$/, "")} — refined`,
      createdAt: new Date().toISOString(),
      status: "queued",
      durationMs: undefined,
      error: undefined,
      stages: [],
      refine: { sourceRunId: src.id },
    };
    this.store.create(detail);
    this.emit({ type: "run-updated", run: toSummary(detail) });
    const abort = new AbortController();
    const stages = ["tracks", "triangulate", "bundle_adjust", "write"];
    const work = async () => {
      const t0 = Date.now();
      this.setRun(id, { status: "running" });
      try {
        const rep = await refineOutputFile(input, this.store.outputPath(id), predict, {
          queries,
          signal: abort.signal,
          onStage: (stage, message) => {
            const elapsed = (Date.now() - t0) / 1000;
            this.emit({ type: "run-progress", progress: { runId: id, stage, fraction: stages.indexOf(stage) / stages.length, etaSeconds: null, elapsedSeconds: elapsed, message: `${stage}: ${message}` } });
          },
        });
        this.setRun(id, {
          status: "done",
          durationMs: Date.now() - t0,
          refine: {
            sourceRunId: src.id,
            queries: rep.queries,
            tracksKept: rep.tracks.kept,
            observations: rep.after.observations,
            meanErrorBefore: rep.before.mean,
            meanErrorAfter: rep.after.mean,
            maxRotationChangeDeg: rep.maxRotationChangeDeg,
          },
        });
      } catch (e) {
        const cancelled = abort.signal.aborted;
        this.setRun(id, { status: cancelled ? "cancelled" : "failed", durationMs: Date.now() - t0, error: cancelled ? "cancelled by the user" : (e as Error).message });
      }
    };
    const promise = (this.queue = Promise.all([this.queue, this.jobs.run(`refinement '${detail.name}'`, work)])
      .then(() => undefined)
      .catch((e) => console.error(`refine ${id}: ${(e as Error).message}`))
      .finally(() => this.active.delete(id)));
    this.active.set(id, { id, abort, promise });
    return toSummary(detail);
  }

  async dispose(): Promise<void> {
    await this.perf.dispose();
    for (const a of this.active.values()) a.abort.abort();
    this.unsubscribeEngine();
    await this.queue.catch(() => undefined);
  }
}

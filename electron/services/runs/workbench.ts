// The application's services behind the channel map: one implementation, called by the Electron
// IPC handlers (main.ts) and by the web-mode server alike.
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { freemem, tmpdir, totalmem } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

import type { Backend } from "../../ipc/channels.js";
import type {
  AppEvent,
  AppInfo,
  DefaultOptions,
  BenchJson,
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
  ScanOptions,
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
import { allSet, enabledNames, normalizeSet, presetSet } from "../../../common/option-catalog.js";
import { CalibrationCache, DefaultChooser, engineMachineKey, runCalibrate } from "../calibration/calibration.js";
import { extractFrames, isVideoPath, probeVideo, VideoProblem } from "../video/video.js";
import { findEngineBinary } from "../engine/engine-launch.js";
import { checkVggtConfig } from "../model-manager/config-check.js";
import { convertedKey, engineVersion, findConverted, findLocalModel } from "../model-manager/index.js";
import { convertTargetFor, ModelInstaller, siblingConfig } from "../model-manager/app-install.js";
import { SHA256_RE } from "../model-manager/hub-cache.js";
import type { ModelDownloadRequest, ModelInstallState } from "../../ipc/model-install-types.js";
import { appCacheDir, appDataDir, convertedCacheDir, currentPlatform, hfHubCacheDir } from "../model-manager/paths.js";
import { PerfLab } from "../perf/index.js";
import { EngineJobQueue } from "../engine/job-queue.js";
import { CancelledError, type EngineJob, type EngineJobResult, type EngineRunner } from "./engine-runner.js";
import { ChunkCancelledError, runChunked } from "../chunking/run.js";
import { DEFAULT_GFLOPS, dimsFromConfig, estimateRun, framesThatFit, runFlops, VGGT_1B_DIMS, VGGT_1B_PARAMS, type ModelDims, type Throughput } from "./estimate.js";
import { extractPointCloud, OutputCache } from "../pointcloud/pointcloud.js";
import { benchRatesIn, pickRate, planRun, type RateSample } from "./plan.js";
import { ProgressTracker, stageWeights } from "./progress.js";
import { predictStages, rateKey, recordStageTimings, type RunShape } from "./stage-rates.js";
import { PathNotAllowedError, PathPolicy } from "./path-policy.js";
import { MAX_IMAGE_BYTES, mimeOf, scanPaths } from "./scan.js";
import { newRunId, RunStore, toSummary } from "./store.js";
import { readSafetensorsHeader } from "../tensors/safetensors.js";
import packageJson from "../../../package.json" with { type: "json" };

/** The app's version: package.json is its one source (the engine reports its own). */
export const APP_VERSION: string = packageJson.version;

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
  /** Native file picker for a checkpoint (model.safetensors / model.pt); absent in web mode. */
  pickModelFile?: () => Promise<string | null>;
  /** The hub the Model panel downloads from (web mode's --hub-url); default $HF_ENDPOINT, huggingface.co. */
  hubEndpoint?: string;
  exporter?: Exporter;
  hostMemoryBytes?: number;
  /** Memory available for a new process now (default: MemAvailable of /proc/meminfo, else os.freemem()). */
  availableMemory?: () => number;
  /** Engine threads (undefined: every core); part of the calibration's machine key. */
  threads?: number;
}

/** What a new process can have without swapping: the kernel's MemAvailable (free + reclaimable). */
export function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return freemem();
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

/** A safetensors checkpoint's parameter count, from its header alone (null: not readable). */
export function countParams(weights: string): number | null {
  try {
    let n = 0;
    for (const t of readSafetensorsHeader(weights).tensors) n += t.shape.reduce((a, b) => a * b, 1);
    return n;
  } catch {
    return null;
  }
}

/** VGGT-1B weights as a single checkpoint file (the model manager's cache or a file the user picked). */
function vggt1bFile(path: string, name: string): ModelInfo {
  // A config.json beside it in the engine's schema describes another size (see siblingConfig).
  const cfg = siblingConfig(path);
  return {
    status: { state: "ready", name, dir: path, weightsBytes: statSync(path).size, params: path.endsWith(".safetensors") ? countParams(path) : null },
    dims: cfg ? dimsFromConfig(cfg.config) : VGGT_1B_DIMS,
    weights: path,
    config: cfg ? cfg.path : "vggt-1b", // else the engine's built-in preset
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
      "Get the VGGT-1B weights with \"Download VGGT-1B\" in the Model panel below (or 'vggt-workbench model download' in a terminal), or give the official checkpoint (model.safetensors or model.pt) or a folder holding it there. Until then you can try the random-weight benchmark mode.",
    );
  }
  if (!existsSync(dir)) return none(`${dir}: no such file or folder.`);
  if (isRegularFile(dir)) {
    try {
      return vggt1bFile(resolve(dir), basename(dir));
    } catch (e) {
      return none((e as Error).message);
    }
  }
  // A folder with the official release's single file (model.safetensors, or model.pt).
  for (const f of ["model.safetensors", "model.pt"])
    if (isRegularFile(join(dir, f))) {
      try {
        return vggt1bFile(resolve(dir, f), `${basename(resolve(dir))}/${f}`);
      } catch (e) {
        return none((e as Error).message);
      }
    }
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
  /** The Model panel's download (hub download, verify, convert). */
  readonly installer: ModelInstaller;
  private engineVersionP: Promise<string | null> | null = null;
  /** The default option set of this machine (calibrated once per CPU, ISA, engine and threads). */
  readonly defaults: DefaultChooser;

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
    this.installer = new ModelInstaller({
      endpoint: opts.hubEndpoint,
      env,
      engineBinary: () => this.engineBinary(),
      emit: (state) => this.emit({ type: "model-install", state }),
      install: (weights) => this.useModel(readModelDir(weights, env)),
    });
    this.events.setMaxListeners(100);
    const engineBin = () => {
      const b = this.engineBinary();
      if (!b) throw new Error("no engine binary to calibrate with");
      return b;
    };
    this.defaults = new DefaultChooser({
      cache: new CalibrationCache(opts.dataDir),
      key: () => engineMachineKey(engineBin(), opts.threads),
      // Through the job queue: timing kernels beside a run would measure the run's load.
      calibrate: (threads) => this.jobs.run("calibration of this machine (a few seconds)", () => runCalibrate(engineBin(), threads)),
      onChange: (state) => this.emit({ type: "default-options", state }),
    });
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
      memoryCheck: (req) => this.benchMemoryCheck(req),
      predictForward: (req, options) => this.predictBenchForward(req, options),
      recordResult: (req, result) => this.recordBench(req, result),
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

  async scanPaths(paths: string[], options: ScanOptions = {}): Promise<ScanResult> {
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== "string")) throw new Error("scanPaths: expected a list of paths");
    for (const p of paths) this.checkReadable(p);
    const isVideoFile = (p: string) => isVideoPath(p) && isRegularFile(p);
    const result = await scanPaths(
      paths.filter((p) => !isVideoFile(p)),
      this.paths.restricted ? { allow: (p) => this.paths.allows(p) } : {},
    );
    for (const video of paths.filter(isVideoFile)) await this.sampleVideo(resolve(video), options, result);
    return result;
  }

  /** A video's sampled frames, decoded into the app's data folder, added to a scan's images. */
  private async sampleVideo(video: string, options: ScanOptions, into: ScanResult): Promise<void> {
    const name = basename(video);
    const choice = { ...(options.video?.fps !== undefined ? { fps: Number(options.video.fps) } : {}), ...(options.video?.frames !== undefined ? { frames: Number(options.video.frames) } : {}) };
    try {
      const info = await probeVideo(video);
      const st = this.model.status;
      const randomWeights = st.state !== "ready";
      const params = randomWeights ? VGGT_1B_PARAMS : (st.params ?? st.weightsBytes / 4);
      const dims = this.dimsFor(randomWeights);
      const flags = allSet();
      const defaultFrames = framesThatFit({
        dims,
        params,
        flags,
        width: info.width,
        height: info.height,
        preprocess: "crop",
        hostMemoryBytes: this.opts.hostMemoryBytes ?? totalmem(),
        throughput: pickRate(this.measuredRates(randomWeights, dims), flags),
        cap: info.frameCount,
      });
      const dir = join(this.store.dataDir, "videos", `${name.replace(/[^A-Za-z0-9._-]/g, "_")}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`);
      const r = await extractFrames(video, dir, {
        choice,
        defaultFrames,
        onProgress: (_f, framesDone, framesExpected) => this.emit({ type: "video-progress", progress: { name, framesDone, framesExpected } }),
      });
      const scan = await scanPaths(r.frames);
      into.images.push(...scan.images.map((i) => ({ ...i, name: `${name}/${i.name}` })));
      into.rejected.push(...scan.rejected);
      into.videos = [...(into.videos ?? []), { path: video, name, width: info.width, height: info.height, durationSeconds: info.durationSeconds, videoFrames: info.frameCount, frames: r.frames.length, rate: r.rate }];
      into.notes = [
        ...(into.notes ?? []),
        `${name}: ${r.frames.length} of its ${info.frameCount} frames (${r.rate.toFixed(2)} per second)${choice.fps === undefined && choice.frames === undefined ? ", the most one run holds on this machine" : ""}`,
      ];
    } catch (e) {
      if (!(e instanceof VideoProblem)) throw e;
      into.rejected.push({ path: video, name, reason: e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message });
    }
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
    const base = estimateRun(input, dims, params, this.throughput(input.randomWeights), this.opts.hostMemoryBytes ?? totalmem());
    if (!base.frames) return base;
    // The planner: rates measured here (benchmarks, earlier runs), chunking, the machine's memory.
    const flags = input.engineOptions ?? this.defaultFlags();
    let width = 0;
    let height = 0;
    for (const s of input.sizes) {
      width = Math.max(width, s.width);
      height = Math.max(height, s.height);
    }
    const chunk = input.chunk && Number.isInteger(input.chunk.size) && Number.isInteger(input.chunk.overlap) && input.chunk.size > input.chunk.overlap && input.chunk.overlap >= 0 ? input.chunk : undefined;
    const plan = planRun(
      { frames: base.frames, width, height, preprocess: input.preprocess, flags, chunk },
      {
        dims,
        params,
        rates: this.measuredRates(input.randomWeights, dims),
        totalMemoryBytes: this.opts.hostMemoryBytes ?? totalmem(),
        ...(this.opts.hostMemoryBytes ? {} : { freeMemoryBytes: availableMemory() }),
      },
    );
    const sizeWarnings = base.warnings.filter((w) => /different sizes/.test(w));
    const suggestion = plan.suggestion
      ? { flags: plan.suggestion.flags, ...(plan.suggestion.chunk ? { chunk: plan.suggestion.chunk } : {}), seconds: plan.suggestion.figures.seconds, peakBytes: plan.suggestion.figures.peakBytes, passes: plan.suggestion.figures.passes, summary: plan.suggestion.summary }
      : null;
    const est: Estimate = { ...base, seconds: plan.seconds, peakBytes: plan.peakBytes, basis: plan.basis, warnings: [...plan.warnings, ...sizeWarnings], passes: plan.passes, memoryLimitBytes: plan.memoryLimitBytes, fitsMemory: plan.fitsMemory, suggestion };
    // One pass with per-stage rates measured on earlier runs of this model and switch set: the finer figure.
    if (!chunk) {
      const p = this.predictRun(input.randomWeights, input.engineOptions, base.frames, base.width, base.height);
      if (p.measured.length) {
        est.seconds = Object.entries(p.seconds).reduce((a, [s, v]) => a + (s === "load" ? 0 : v), 0);
        est.basis = `per-stage rates measured on earlier runs and benchmarks on this machine (${p.measured.filter((s) => s !== "load").join(", ")})`;
      }
    }
    return est;
  }

  /** Engine rates on this machine: the perf lab's benchmarks (newest 20) and the last measured run. */
  private measuredRates(randomWeights: boolean, dims: ModelDims): RateSample[] {
    const rates: RateSample[] = benchRatesIn(this.store.dataDir, dims);
    const key = randomWeights ? "random:vggt-1b" : this.modelKey();
    const m = this.store.readSettings().throughput?.[key];
    if (m && m.gflops > 0) rates.push({ gflops: m.gflops, flags: m.flags ?? this.defaultFlags(), at: m.at, source: `the run of ${m.at.slice(0, 16).replace("T", " ")}` });
    return rates;
  }

  private runShape(randomWeights: boolean, frames: number, width: number, height: number): RunShape {
    const st = this.model.status;
    return { dims: this.dimsFor(randomWeights), frames, width, height, weightsBytes: randomWeights ? VGGT_1B_PARAMS * 4 : st.state === "ready" ? st.weightsBytes : 0 };
  }

  private rateKeyFor(randomWeights: boolean, flags: Record<string, boolean> | undefined): string {
    return rateKey(randomWeights ? "random:vggt-1b" : this.modelKey(), flags);
  }

  /** Predicted seconds per engine stage (stage-rates.ts): measured rates, else the throughput default. */
  private predictRun(randomWeights: boolean, flags: Record<string, boolean> | undefined, frames: number, width: number, height: number) {
    const rates = this.store.readSettings().stageRates?.[this.rateKeyFor(randomWeights, flags)];
    return predictStages(this.runShape(randomWeights, frames, width, height), rates, this.throughput(randomWeights).gflops);
  }

  private recordStages(randomWeights: boolean, flags: Record<string, boolean> | undefined, frames: number, width: number, height: number, timings: { stage: string; ms: number }[]): void {
    const table = recordStageTimings(this.store.readSettings().stageRates ?? {}, this.rateKeyFor(randomWeights, flags), this.runShape(randomWeights, frames, width, height), timings);
    this.store.writeSettings({ stageRates: table });
  }

  /** One forward pass of a benchmark with these switches (no model load: the bench loads once). */
  private async predictBenchForward(req: BenchRequest, options: Record<string, boolean>): Promise<number> {
    const frames = req.images.length || req.frames || 2;
    let width = 518;
    let height = 350; // the engine's synthetic frames
    if (req.images.length) {
      const scan = await scanPaths(req.images);
      const e = this.estimate({ sizes: scan.images.length ? scan.images : [{ width: 518, height: 518 }], preprocess: req.preprocess === "pad" ? "pad" : "crop", randomWeights: req.randomWeights });
      width = e.width;
      height = e.height;
    }
    const p = this.predictRun(req.randomWeights, options, frames, width, height);
    return Object.entries(p.seconds).reduce((a, [s, v]) => a + (s === "load" ? 0 : v), 0);
  }

  private recordBench(req: BenchRequest, result: BenchJson): void {
    for (const row of result.rows) if (row.stages?.length) this.recordStages(req.randomWeights, normalizeSet(row.options), result.frames, result.width, result.height, row.stages);
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
      throw new Error("no model is installed: use the Model panel (Download VGGT-1B, Use a checkpoint file…, Use a folder…, or its path field), or the random-weight benchmark mode");
    for (const p of req.images) this.checkReadable(p);
    // Re-validate: files may have changed since they were scanned.
    const scan = await scanPaths(req.images);
    if (scan.rejected.length)
      throw new Error(`cannot run: ${scan.rejected.map((r) => `${r.name}: ${r.reason}`).join("; ")}`);
    const byPath = new Map(scan.images.map((i) => [i.path, i]));
    const images = req.images.map((p) => byPath.get(resolve(p))!).filter(Boolean);
    const estimate = this.estimate({ sizes: images, preprocess: options.preprocess, randomWeights: options.randomWeights, ...(options.engineOptions ? { engineOptions: options.engineOptions } : {}), ...(options.chunk ? { chunk: options.chunk } : {}) });
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
    // Stage shares and the total from the per-stage rates measured on this machine (stage-rates.ts).
    const predicted = this.predictRun(run.randomWeights, run.options.engineOptions, est.frames, est.width, est.height).seconds;
    const predictedTotal = Object.values(predicted).reduce((a, b) => a + b, 0);
    const shares = predictedTotal > 0 ? Object.fromEntries(Object.entries(predicted).map(([s, v]) => [s, v / predictedTotal])) : stageWeights(dims, est.frames, est.width, est.height);
    const tracker = new ProgressTracker(shares, predictedTotal || est.seconds);
    let loadMs: number | null = null;
    const t0 = Date.now();
    // The weights file this run loads (a converted copy for its options, when there is one).
    const weightsFile = run.randomWeights ? undefined : await this.weightsFor(model, run.options.engineOptions);
    this.setRun(id, { status: "running", ...(weightsFile ? { weightsFile } : {}) });
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
        : { kind: "weights", weights: weightsFile!, config: model.config! },
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
          if (p.stage === "load" && p.step >= p.total && p.total > 0) loadMs = p.elapsedMs;
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
      if (!chunked) {
        this.recordThroughput(run, durationMs);
        if (!run.options.parallel || run.options.parallel.mode === "none")
          this.recordStages(run.randomWeights, run.options.engineOptions, est.frames, est.width, est.height, [...result.stages, ...(loadMs !== null ? [{ stage: "load", ms: loadMs }] : [])]);
      }
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
    const flags = run.engineOptions?.flags ?? this.defaultFlags();
    const throughput = { ...(this.store.readSettings().throughput ?? {}), [key]: { gflops: flops / 1e9 / (durationMs / 1000), at: new Date().toISOString(), flags } };
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
    return this.useModel(readModelDir(path, this.opts.env ?? process.env));
  }

  async pickFolder(): Promise<string | null> {
    return this.opts.pickFolder ? this.opts.pickFolder() : null;
  }

  async pickModelFile(): Promise<string | null> {
    return this.opts.pickModelFile ? this.opts.pickModelFile() : null;
  }

  private useModel(info: ModelInfo): ModelStatus {
    if (info.status.state !== "ready") throw new Error(info.status.hint);
    this.model = info;
    this.store.writeSettings({ modelDir: info.status.dir });
    this.emit({ type: "model", model: info.status });
    return info.status;
  }

  private engineBinary(): string | null {
    const b = this.opts.engine.state().binary;
    if (b && b !== "fake") return b;
    try {
      return findEngineBinary();
    } catch {
      return null;
    }
  }

  /**
   * A benchmark runs in its own `vggt-engine bench` process (its A/B sets, repeats and warm-up live
   * in the engine's bench command). The app's engine has just released its model; if even then the
   * estimated peak of the benchmark's process exceeds the memory available, it is refused rather
   * than pushing the machine into swap.
   */
  private async benchMemoryCheck(req: BenchRequest): Promise<string | null> {
    let sizes: { width: number; height: number }[];
    if (req.images.length) {
      const scan = await scanPaths(req.images);
      sizes = scan.images.length ? scan.images : [{ width: 518, height: 518 }];
    } else sizes = Array.from({ length: req.frames ?? 2 }, () => ({ width: 518, height: 350 })); // the engine's synthetic frames
    // A cumulative benchmark starts from the exact fp32 set: the largest weights it holds.
    const sets = req.kind === "ab" ? [req.a!.options, req.b!.options] : [normalizeSet({})];
    const peak = Math.max(...sets.map((engineOptions) => this.estimate({ sizes, preprocess: req.preprocess === "pad" ? "pad" : "crop", randomWeights: req.randomWeights, engineOptions }).peakBytes));
    const available = (this.opts.availableMemory ?? availableMemory)();
    if (peak <= available) return null;
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
    return `not enough memory for the benchmark's engine process: it needs about ${gib(peak)} (estimated peak for ${sizes.length} frame${sizes.length === 1 ? "" : "s"}), ${gib(available)} is available after the app's engine released its model. Close other programs, use fewer frames, or benchmark lighter option sets.`;
  }

  modelInstallState(): ModelInstallState {
    return this.installer.state();
  }

  downloadModel(req: ModelDownloadRequest): ModelInstallState {
    return this.installer.start({ ...(req?.engineOptions ? { engineOptions: normalizeSet(req.engineOptions, "engine options") } : {}) });
  }

  pauseModelDownload(): ModelInstallState {
    return this.installer.pause();
  }

  /**
   * The converted copy (bf16 / int8) of a hub checkpoint that the run's switches load, when the
   * Model panel (or `vggt-workbench model convert`) made one; else the checkpoint itself (the
   * engine then converts at load time, with the same result bit for bit).
   */
  private async weightsFor(model: ModelInfo, flags: RunDetail["options"]["engineOptions"]): Promise<string> {
    const weights = model.weights!;
    const target = flags ? convertTargetFor(flags) : null;
    if (!target) return weights;
    let real: string;
    try {
      real = realpathSync(weights);
    } catch {
      return weights;
    }
    // Hub blobs are named by their verified SHA-256: no hashing needed to find their copy.
    if (!SHA256_RE.test(basename(real)) || basename(dirname(real)) !== "blobs") return weights;
    const bin = this.engineBinary();
    if (!bin) return weights;
    this.engineVersionP ??= engineVersion(bin).catch(() => null);
    const version = await this.engineVersionP;
    if (!version) return weights;
    const pi = { ...currentPlatform(), env: this.opts.env ?? process.env };
    return findConverted(convertedCacheDir(pi), convertedKey(basename(real), target, version))?.path ?? weights;
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

  defaultOptions(): DefaultOptions {
    return this.defaults.get();
  }

  recalibrate(): Promise<DefaultOptions> {
    return this.defaults.remeasure();
  }

  /** The switches of this machine's default (the exact set until calibration has spoken). */
  private defaultFlags(): Record<string, boolean> {
    return normalizeSet(presetSet(this.defaults.current().preset));
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
                  model: run.randomWeights ? { kind: "random", seed: run.options.seed, config: "vggt-1b" } : { kind: "weights", weights: await this.weightsFor(model, run.options.engineOptions), config: model.config! },
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
    await this.installer.dispose();
    await this.perf.dispose();
    for (const a of this.active.values()) a.abort.abort();
    this.unsubscribeEngine();
    await this.queue.catch(() => undefined);
  }
}

// The one channel map. The preload API (window.vggt), the IPC handlers in main.ts, the web-mode
// HTTP routes and the web-mode client are all derived from this file, so they cannot drift apart.
import type {
  AppEvent,
  AppInfo,
  DefaultOptions,
  BenchRecord,
  BenchRequest,
  BenchSummary,
  PerfInfo,
  Estimate,
  EstimateInput,
  ExportFormatInfo,
  ExportResult,
  ExportSelection,
  ImageBytes,
  ModelStatus,
  ModelDownloadRequest,
  ModelInstallState,
  PointCloud,
  PointCloudRequest,
  RefineRequest,
  RejectedEntry,
  RunDetail,
  RunSummary,
  ScanOptions,
  ScanResult,
  StartRunRequest,
  TrackRequest,
  TrackResult,
} from "./types.js";

export * from "./types.js";

/** Request/response methods, each implemented once by the services (see services/runs/workbench.ts). */
export interface InvokeMethods {
  appInfo(): AppInfo;
  /** Scan files and folders (one level deep for folders) for usable images. */
  scanPaths(paths: string[], options?: ScanOptions): ScanResult;
  /** The bundled sample image set. */
  loadSample(): ScanResult;
  /** A fresh folder for files uploaded by the web client; returns its id. */
  createUpload(): { uploadId: string };
  /** Bytes of a scanned image (for thumbnails in the renderer). */
  readImage(path: string): ImageBytes;
  estimate(input: EstimateInput): Estimate;
  startRun(request: StartRunRequest): RunSummary;
  cancelRun(runId: string): void;
  listRuns(): RunSummary[];
  getRun(runId: string): RunDetail;
  deleteRun(runId: string): void;
  getPointCloud(request: PointCloudRequest): PointCloud;
  /** Use the model (weights.safetensors + config.json) in this folder. */
  setModelDir(dir: string): ModelStatus;
  /** Native folder picker; null where there is none (web mode) or the user cancelled. */
  pickFolder(): string | null;
  /** Native file picker for a checkpoint (model.safetensors, model.pt); null in web mode or cancelled. */
  pickModelFile(): string | null;
  /** The Model panel's download: where it stands. */
  modelInstallState(): ModelInstallState;
  /** Download VGGT-1B (or resume a paused download), verify, convert for the options, install. */
  downloadModel(request: ModelDownloadRequest): ModelInstallState;
  /** Pause the download, keeping the partial file for resuming. */
  pauseModelDownload(): ModelInstallState;
  exportFormats(): ExportFormatInfo[];
  exportRun(runId: string, format: string, options: ExportSelection): ExportResult;
  /** The default option set for new runs on this machine; the first call on a machine starts its calibration. */
  defaultOptions(): DefaultOptions;
  /** Measure this machine again (`vggt-engine calibrate`) and choose the default anew. */
  recalibrate(): DefaultOptions;
  /** Performance lab: engine version, option names, whether parallel runs are possible. */
  perfInfo(): PerfInfo;
  /** Runs `vggt-engine bench --json` (cumulative or A/B); progress and the result come as events. */
  startBenchmark(request: BenchRequest): BenchSummary;
  cancelBenchmark(benchId: string): void;
  listBenchmarks(): BenchSummary[];
  getBenchmark(benchId: string): BenchRecord;
  deleteBenchmark(benchId: string): void;
  /** A's or B's point cloud of an A/B benchmark that kept its outputs. */
  getBenchPointCloud(request: { benchId: string; side: "A" | "B"; branch: "pointmap" | "depth"; maxPoints: number }): PointCloud;
  /** Tracks of points clicked on a frame of a finished run, through every frame (the track head). */
  trackPoints(request: TrackRequest): TrackResult;
  /** Bundle adjustment of a finished run's cameras on tracks (COLMAP): starts a new run. */
  refineRun(request: RefineRequest): RunSummary;
}

export type InvokeName = keyof InvokeMethods;
export type InvokeArgs<K extends InvokeName> = Parameters<InvokeMethods[K]>;
export type InvokeResult<K extends InvokeName> = ReturnType<InvokeMethods[K]>;

/** What the services implement: every method, possibly async. */
export type Backend = { [K in InvokeName]: (...args: InvokeArgs<K>) => InvokeResult<K> | Promise<InvokeResult<K>> };

/** What the renderer sees: every method async, plus the event stream and platform extras. */
export type InvokeApi = { [K in InvokeName]: (...args: InvokeArgs<K>) => Promise<InvokeResult<K>> };

export interface VggtApi extends InvokeApi {
  readonly mode: "electron" | "web";
  onEvent(listener: (event: AppEvent) => void): () => void;
  /**
   * Turn dropped/picked File objects into paths the services can read: in Electron the files'
   * own paths, in web mode the files are uploaded into a fresh session folder first.
   */
  importFiles(files: { file: File; relativePath: string }[]): Promise<{ paths: string[]; failed: RejectedEntry[] }>;
}

/**
 * Runtime list of the invoke methods. `satisfies` makes a missing or extra name a type error,
 * so this object and InvokeMethods always agree.
 */
export const INVOKE_METHODS = {
  appInfo: true,
  scanPaths: true,
  loadSample: true,
  createUpload: true,
  readImage: true,
  estimate: true,
  startRun: true,
  cancelRun: true,
  listRuns: true,
  getRun: true,
  deleteRun: true,
  getPointCloud: true,
  setModelDir: true,
  pickFolder: true,
  pickModelFile: true,
  modelInstallState: true,
  downloadModel: true,
  pauseModelDownload: true,
  exportFormats: true,
  exportRun: true,
  defaultOptions: true,
  recalibrate: true,
  perfInfo: true,
  startBenchmark: true,
  cancelBenchmark: true,
  listBenchmarks: true,
  getBenchmark: true,
  deleteBenchmark: true,
  getBenchPointCloud: true,
  trackPoints: true,
  refineRun: true,
} as const satisfies { [K in InvokeName]: true };

export const INVOKE_NAMES = Object.keys(INVOKE_METHODS) as InvokeName[];

export function isInvokeName(name: string): name is InvokeName {
  return Object.prototype.hasOwnProperty.call(INVOKE_METHODS, name);
}

/** Electron IPC channel of a method, and of the event stream. */
export const ipcChannel = (name: InvokeName) => `vggt:${name}`;
export const IPC_EVENT_CHANNEL = "vggt:event";

/** Web-mode routes. */
export const httpRoute = (name: InvokeName) => `/api/invoke/${name}`;
export const HTTP_EVENTS_ROUTE = "/api/events";
export const HTTP_UPLOAD_ROUTE = "/api/upload"; // PUT /api/upload/<uploadId>/<relative path>
export const TOKEN_HEADER = "x-vggt-token";

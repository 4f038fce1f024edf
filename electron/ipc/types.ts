// Data shapes that cross the main/renderer boundary (IPC in Electron, HTTP in web mode).
// Plain data only: no classes, no functions. Typed arrays are allowed (structured clone / wire.ts).
import type { ModelInstallState } from "./model-install-types.js";
import type { BenchProgress, BenchSummary, OptionSet, ParallelSetting } from "./perf-types.js";

export * from "./perf-types.js";
export * from "./model-install-types.js";

export type AppMode = "electron" | "web";

export type EngineStateName = "missing" | "stopped" | "starting" | "ready" | "busy" | "crashed";

export interface EngineState {
  state: EngineStateName;
  binary: string | null;
  /** Human-readable detail: why it is missing, the crash reason, ... */
  message?: string;
  /** How many times the engine was restarted after a crash. */
  restarts: number;
}

export type ModelStatus =
  | { state: "none"; hint: string }
  | { state: "ready"; name: string; dir: string; weightsBytes: number; params: number | null };

export interface AppInfo {
  version: string;
  mode: AppMode;
  platform: string;
  dataDir: string;
  engine: EngineState;
  model: ModelStatus;
  /** Whether a bundled sample image set is available (loadSample). */
  hasSample: boolean;
}

export type ImageFormat = "png" | "jpeg";

export interface ImageEntry {
  /** Absolute path on the machine running the services. */
  path: string;
  /** Display name (relative to the scanned folder when there is one). */
  name: string;
  format: ImageFormat;
  width: number;
  height: number;
  bytes: number;
}

export interface RejectedEntry {
  path: string;
  name: string;
  reason: string;
}

export interface ScanResult {
  images: ImageEntry[];
  rejected: RejectedEntry[];
  /** What the scan decided on the user's behalf (e.g. it used a folder's images/ subfolder). */
  notes?: string[];
  /** Videos whose sampled frames are among the images. */
  videos?: VideoSampling[];
}

/** How a video was sampled into frame images. */
export interface VideoSampling {
  /** The video file (scan it again with other ScanOptions to resample). */
  path: string;
  name: string;
  width: number;
  height: number;
  durationSeconds: number;
  /** Frames in the video. */
  videoFrames: number;
  /** Frames sampled, and at what rate (per second of video). */
  frames: number;
  rate: number;
}

export interface ScanOptions {
  /** Videos: a sampling rate or a frame count (default: the most frames one run holds here). */
  video?: { fps?: number; frames?: number };
}

export interface VideoProgress {
  name: string;
  framesDone: number;
  framesExpected: number;
}

export type PreprocessMode = "crop" | "pad";

/** Chunked reconstruction: passes of `size` frames, each sharing `overlap` frames with the previous. */
export interface ChunkSetting {
  size: number;
  overlap: number;
}

export interface RunOptions {
  preprocess: PreprocessMode;
  /** Random-weight benchmark mode: geometry is meaningless. */
  randomWeights: boolean;
  seed: number;
  /** Engine optimization switches (every known one, on or off); absent: the engine's load defaults. */
  engineOptions?: OptionSet;
  /** Sequence parallelism asked for (recorded; runs need an engine with MPI support). */
  parallel?: ParallelSetting;
  /** Chunked reconstruction: engine passes of `size` frames sharing `overlap` frames, aligned by
   *  Sim(3) and merged into one output (docs/CHUNKED.md). Absent, or size >= frames: one pass. */
  chunk?: ChunkSetting;
}

/** How one chunk of a chunked run was aligned into chunk 0's frame (docs/CHUNKED.md). */
export interface ChunkSummary {
  index: number;
  /** First and last frame (0-based, inclusive) the chunk ran; the frames it shares with the
   *  previous chunk are taken from that one. */
  frames: [number, number];
  /** Scale of the chunk's Sim(3) into chunk 0's frame. */
  scale: number;
  rotationDeg: number;
  /** Robust RMS of the overlap points after alignment, in chunk 0's units (null: chunk 0). */
  residual: number | null;
  /** residual / the overlap's RMS spread (null: chunk 0). */
  relativeResidual: number | null;
  /** Fraction of overlap points within 3 robust standard deviations. */
  inliers: number;
  points: number;
}

/** The option set a run used: as the engine reported it for the job, else as requested. */
export interface RunEngineOptions {
  flags: OptionSet;
  source: "engine" | "requested";
  parallel: ParallelSetting;
}

export interface EstimateInput {
  /** Original image sizes of the frames that would be run. */
  sizes: { width: number; height: number }[];
  preprocess: PreprocessMode;
  randomWeights: boolean;
  /** The run's switches (absent: the default preset); they decide how weights are held. */
  engineOptions?: OptionSet;
  chunk?: ChunkSetting;
}

/** Settings with which a run that does not fit the machine would (the planner's one-click fit). */
export interface FitSuggestion {
  /** Switches to turn on; the others stay as chosen. */
  flags: OptionSet;
  chunk?: ChunkSetting;
  seconds: number;
  peakBytes: number;
  passes: number;
  summary: string;
}

export interface Estimate {
  frames: number;
  /** Preprocessed size of the largest frame (all frames are brought to one size). */
  width: number;
  height: number;
  tokensPerFrame: number;
  seconds: number;
  /** The engine process's peak resident size (weights as held + activations + base). */
  peakBytes: number;
  /** Where the throughput figure came from (measured on an earlier run, or a default). */
  basis: string;
  warnings: string[];
  /** Planner: passes (chunks) the run makes, the memory it may use here, whether it fits, and the
   *  settings that fit when it does not. */
  passes?: number;
  memoryLimitBytes?: number;
  fitsMemory?: boolean;
  suggestion?: FitSuggestion | null;
}

export type RunStatus = "queued" | "running" | "done" | "failed" | "cancelled" | "interrupted";

export interface StageTiming {
  stage: string;
  ms: number;
}

export interface RunSummary {
  id: string;
  name: string;
  createdAt: string;
  status: RunStatus;
  frames: number;
  randomWeights: boolean;
  /** Model name, or "random weights (seed N)". */
  model: string;
  durationMs?: number;
  error?: string;
  estimate?: Estimate;
  engineOptions?: RunEngineOptions;
  /** A run made by bundle adjustment of another run's cameras (refine). */
  refine?: RefineSummary;
  /** A chunked run: each chunk's frames and alignment (scale, residual, inliers). */
  chunks?: ChunkSummary[];
}

/** What refine did: the run it refined and the bundle adjustment's numbers. */
export interface RefineSummary {
  sourceRunId: string;
  queries?: number;
  tracksKept?: number;
  observations?: number;
  /** Mean reprojection error (pixels of the original images) with the feed-forward / refined cameras. */
  meanErrorBefore?: number;
  meanErrorAfter?: number;
  maxRotationChangeDeg?: number;
}

export interface RefineRequest {
  runId: string;
  /** Query points in total (default 1024). */
  queries?: number;
}

/** Points to track, clicked on one frame of a finished run: by default in that frame's original image
 *  pixels measured from its top-left corner; with space "model", pixels of the model's input frame
 *  (integer = pixel centre), as a point of the 3-D view gives them. */
export interface TrackRequest {
  runId: string;
  frame: number;
  points: [number, number][];
  space?: "original" | "model";
  /** Which prediction's 3-D points to return under the tracks (default "depth"). */
  branch?: PointBranch;
}

export interface TrackResult {
  runId: string;
  frame: number;
  /** [S][N][2]: each point's position in every frame's original image pixels. */
  track: number[][][];
  /** [S][N] in (0, 1): the track head's visibility and confidence. */
  vis: number[][];
  conf: number[][];
  /** [S][N]: the 3-D point (of the requested branch) under each track position, null outside the frame. */
  world: ([number, number, number] | null)[][];
  /** How the tracks were computed: from the engine's cached features of this run (the tracker
   *  only), or by a forward pass of the model on the run's frames (clicked frame first). */
  via: "cached-features" | "forward-pass";
  ms: number;
}

export interface RunDetail extends RunSummary {
  images: ImageEntry[];
  options: RunOptions;
  stages: StageTiming[];
  /** The weights file the engine loaded: the checkpoint, or its converted copy for the run's switches. */
  weightsFile?: string;
}

export interface StartRunRequest {
  name?: string;
  /** Paths of ImageEntry values from a scan, in frame order (the first frame is the reference). */
  images: string[];
  options: RunOptions;
}

export interface RunProgress {
  runId: string;
  stage: string;
  /** Overall fraction 0..1. */
  fraction: number;
  /** Seconds left, null while unknown. */
  etaSeconds: number | null;
  elapsedSeconds: number;
  message?: string;
}

/** One default candidate as this machine's calibration measured it. */
export interface CalibratedCandidate {
  preset: string;
  /** Predicted forward time relative to the exact candidate (1 = as fast). */
  relativeTime: number;
  speedupVsExact: number;
  /** Which kernels it ran: fp32, bf16 or int8. */
  path: string;
  insideBound: boolean;
}

/**
 * The default option set for new runs on this machine: chosen by `vggt-engine calibrate` (the
 * fastest candidate inside the official bf16 accuracy bound), cached per CPU, ISA, engine version
 * and threads. While nothing is measured (state "measuring" / "failed") it is the exact set.
 */
export interface DefaultOptions {
  state: "measuring" | "ready" | "failed";
  /** The preset new runs start from. */
  preset: string;
  /** Why, in one sentence for the UI and the CLI help. */
  why: string;
  speedupVsExact: number | null;
  cpu?: string;
  isa?: string;
  threads?: number;
  engineVersion?: string;
  /** When the calibration ran (ISO time), and how long it took. */
  measuredAt?: string;
  seconds?: number;
  candidates?: CalibratedCandidate[];
  /** state "failed": what went wrong. */
  error?: string;
}

export type AppEvent =
  | { type: "run-progress"; progress: RunProgress }
  /** The default option set changed (calibration finished, failed or started again). */
  | { type: "default-options"; state: DefaultOptions }
  | { type: "run-updated"; run: RunSummary }
  | { type: "engine"; engine: EngineState }
  | { type: "model"; model: ModelStatus }
  /** The Model panel's download: phase, bytes, rate, ETA. */
  | { type: "model-install"; state: ModelInstallState }
  | { type: "bench-progress"; progress: BenchProgress }
  | { type: "bench-updated"; bench: BenchSummary }
  | { type: "video-progress"; progress: VideoProgress }
  /** Application-menu commands the renderer carries out (Electron's native menu). */
  | { type: "menu"; command: MenuCommand };

export type MenuCommand = "open-folder" | "add-files" | "load-sample" | "reset-view" | "screenshot" | "toggle-theme" | "model-download" | "model-file" | "model-folder";

export type PointBranch = "pointmap" | "depth";

export interface PointCloudRequest {
  runId: string;
  /** "pointmap": the point head; "depth": depth head unprojected with the predicted cameras. */
  branch: PointBranch;
  /** Server-side decimation budget (points). */
  maxPoints: number;
}

export interface CameraFrame {
  index: number;
  name: string;
  /** Preprocessed size the cameras refer to. */
  width: number;
  height: number;
  /** Camera-from-world 3x4, row-major, OpenCV axes. */
  extrinsic: number[];
  /** 3x3 row-major at width x height. */
  intrinsic: number[];
  thumbWidth: number;
  thumbHeight: number;
  /** RGBA8 thumbnail of the preprocessed frame. */
  thumb: Uint8Array;
}

export interface PointCloud {
  runId: string;
  branch: PointBranch;
  randomWeights: boolean;
  /** Valid points before decimation. */
  totalPoints: number;
  count: number;
  /** xyz per point, world frame (= first camera, OpenCV axes). */
  positions: Float32Array;
  /** rgb per point. */
  colors: Uint8Array;
  conf: Float32Array;
  /** Frame index per point. */
  frame: Uint16Array;
  /** Present when decimated by confidence: how (the view's percentile and counts use it). */
  decimation?: { split: number; weightLow: number; weightHigh: number };
  cameras: CameraFrame[];
}

export interface ExportFormatInfo {
  id: string;
  label: string;
}

export interface ExportResult {
  format: string;
  /** Folder the export was written to (on the machine running the services). */
  outDir: string;
  files: string[];
  pointCount: number;
  notes: string[];
  /** Single-file formats: the file itself, so the renderer can offer it as a download. */
  download?: { fileName: string; mime: string; bytes: Uint8Array };
}

export interface ImageBytes {
  mime: string;
  bytes: Uint8Array;
}

/** What an export takes from the viewer: the same selection settings (common/point-selection.ts). */
export interface ExportSelection {
  confPercentile: number;
  branch: "pointmap" | "depth";
  hiddenFrames?: number[];
  filterBlack?: boolean;
  filterWhite?: boolean;
}

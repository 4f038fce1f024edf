// Typed messages of the `vggt-engine serve` protocol (docs/ENGINE-PROTOCOL.md). No Node imports:
// the renderer may import these types too.

export const PROTOCOL_VERSION = 1;

/** Error codes sent by the engine. */
export type EngineErrorCode =
  | "bad_request"
  | "unknown_type"
  | "no_model"
  | "not_found"
  | "bad_input"
  | "bad_checkpoint"
  | "io_error"
  | "cancelled"
  | "out_of_memory"
  | "unsupported"
  /** track: the named run has no track cache (never asked for with track_cache, or released). */
  | "no_track_cache"
  | "internal";

/** Error codes the client adds for failures seen from the outside. */
export type ClientErrorCode =
  | "engine_crashed" // the process died without being asked to
  | "engine_stopped" // shutdown()/kill() while the request was pending
  | "engine_unavailable" // supervisor gave up restarting, or not started
  | "timeout"
  | "protocol_mismatch"
  | "spawn_failed";

export type ErrorCode = EngineErrorCode | ClientErrorCode;

/** Run-time switches: EngineOptions on the C++ side. The engine rejects flags it does not know
 *  (hello.flags lists them). */
export interface EngineOptions {
  /** 0 = all cores. */
  threads?: number;
  flags?: Record<string, boolean>;
}

export type ParallelMode = "ulysses" | "ring";

// ---- requests (client -> engine), one JSON object per line on stdin ----

export interface LoadRequest {
  type: "load";
  id: string;
  /** Path of a .safetensors or .pt checkpoint with the official names; or `random`. */
  weights?: string;
  /** Full architecture with seeded random weights (benchmarks). */
  random?: { seed?: number };
  /** "vggt-1b" (default) or a path to a config JSON. */
  config?: string;
  options?: EngineOptions;
}

export interface InferRequest {
  type: "infer";
  id: string;
  /** Image files, preprocessed by the engine; or `input_tensor`. */
  images?: string[];
  preprocess?: "crop" | "pad";
  exif_orientation?: boolean;
  /** A safetensors file holding a float [S,3,H,W] tensor in [0,1]. */
  input_tensor?: string;
  input_tensor_name?: string;
  /** Output .safetensors path, written atomically. */
  output: string;
  /** Merged over the load's options for this job only. */
  options?: EngineOptions;
  keep_debug?: boolean;
  /** Keep the track head's feature maps of this run for later `track` requests (needs a model
   *  with a track head). Released by the next infer, load, unload or release_track_cache. */
  track_cache?: boolean;
}

/** Point tracks on a finished run's track cache: the tracker only (no encoder/aggregator). */
export interface TrackRequest {
  type: "track";
  id: string;
  /** The id of the infer job that ran with track_cache: true. */
  run: string;
  /** Query points on frame 0 (1 to 4096); or `grid`. */
  query_points?: [number, number][];
  /** An N x N grid of query points on frame 0 (1 <= N <= 64). */
  grid?: number;
  /** "model" (default): model-input pixels of frame 0; "original": pixels of frame 0's image file. */
  query_space?: "model" | "original";
  /** Also write track, vis, conf, query_points (and track_original) to this .safetensors. */
  output?: string;
}

export interface CancelRequest {
  type: "cancel";
  id: string;
  job: string;
}

export interface SimpleRequest {
  type: "status" | "unload" | "shutdown" | "ping" | "release_track_cache";
  id: string;
}

export type EngineRequest = LoadRequest | InferRequest | TrackRequest | CancelRequest | SimpleRequest;
export type RequestType = EngineRequest["type"];

/** A request without its envelope, as the client API takes it. */
export type LoadParams = Omit<LoadRequest, "type" | "id">;
export type InferParams = Omit<InferRequest, "type" | "id">;
export type TrackParams = Omit<TrackRequest, "type" | "id">;

// ---- events (engine -> client), one JSON object per line on stdout ----

export interface HelloEvent {
  type: "hello";
  protocol: number;
  engine_version: string;
  pid: number;
  /** Human-readable kernel path and CPU features, as `vggt-engine bench` prints them
   *  (e.g. "avx512 (hw: avx2 fma avx512f ...)"); for display, not for parsing. */
  isa: string;
  threads: number;
  hardware_threads: number;
  /** null for a single-process engine; filled in an MPI launch. */
  parallel: { mode: ParallelMode; degree: number; rank: number; size: number } | null;
  requests: RequestType[];
  /** Option flags this engine knows (EngineOptions.flags); others are rejected. */
  flags: string[];
  max_request_bytes: number;
  /** The process's resident size at start-up (absent from older engines). */
  memory?: MemoryReport;
}

export interface ProgressEvent {
  type: "progress";
  id: string;
  /** read_input, encoder, aggregator, camera_head, depth_head, point_head, track_features (with
   *  track_cache), geometry, write_output; load; track (a track job, one step per iteration). */
  stage: string;
  /** 1-based: `step` of `total` steps of `stage` are done. */
  step: number;
  total: number;
  /** Since the job started running. */
  elapsed_ms: number;
}

export interface LogEvent {
  type: "log";
  id: string | null;
  level: "debug" | "info" | "warn" | "error";
  message: string;
}

export interface ErrorEvent {
  type: "error";
  /** null when the request could not be identified (malformed line). */
  id: string | null;
  code: EngineErrorCode;
  message: string;
}

export interface MemoryReport {
  rss_bytes: number;
  peak_rss_bytes: number;
  /** "job": the peak counter was reset when the job started; "process": lifetime peak. */
  peak_rss_scope: "job" | "process";
}

export interface ModelSummary {
  /** Weights path or "random:<seed>". */
  source: string;
  random_weights: boolean;
  config_name: string;
  config: Record<string, unknown> | null;
  weight_bytes: number;
  options: Required<EngineOptions>;
}

export interface StageTiming {
  stage: string;
  ms: number;
  gflop?: number;
}

interface ResultBase {
  type: "result";
  id: string;
}

export interface LoadResult extends ResultBase {
  request: "load";
  model: ModelSummary;
  load_ms: number;
  memory: MemoryReport;
}

export interface InferResult extends ResultBase {
  request: "infer";
  output: string;
  frames: number;
  height: number;
  width: number;
  options: Required<EngineOptions>;
  timings: StageTiming[];
  forward_ms: number;
  total_ms: number;
  memory: MemoryReport;
  /** Only when the request set track_cache. */
  track_cache?: TrackCacheInfo;
}

export interface TrackCacheInfo {
  /** The infer job id the cache belongs to. */
  run: string;
  bytes: number;
  frames: number;
  feature_height: number;
  feature_width: number;
  channels: number;
}

export interface TrackResult extends ResultBase {
  request: "track";
  run: string;
  frames: number;
  points: number;
  iterations: number;
  /** [N][2] the queries in model-input pixels of frame 0. */
  query_points: [number, number][];
  /** [S][N][2] (x, y) in model-input pixels of each frame; track[0] equals query_points. */
  track: [number, number][][];
  /** [S][N] sigmoids in (0, 1). */
  vis: number[][];
  conf: number[][] | null;
  /** [S][N][2] mapped to each frame's original image pixels; null for tensor inputs. */
  track_original: [number, number][][] | null;
  timings: StageTiming[];
  ms: number;
}

export interface ReleaseTrackCacheResult extends ResultBase {
  request: "release_track_cache";
  released: boolean;
  run: string | null;
  bytes: number;
}

export interface CancelResult extends ResultBase {
  request: "cancel";
  job: string;
  /** running: the job will end with a `cancelled` error; queued: it already did; unknown: not queued or running. */
  state: "running" | "queued" | "unknown";
}

export interface StatusResult extends ResultBase {
  request: "status";
  state: "idle" | "busy" | "stopping";
  running: string | null;
  queued: string[];
  model: ModelSummary | null;
  jobs_completed: number;
  uptime_ms: number;
  memory: MemoryReport;
  track_cache: { run: string; bytes: number } | null;
}

export interface UnloadResult extends ResultBase {
  request: "unload";
  had_model: boolean;
  memory: MemoryReport;
}

export interface ShutdownResult extends ResultBase {
  request: "shutdown";
}

export interface PingResult extends ResultBase {
  request: "ping";
}

export type ResultEvent =
  | LoadResult
  | InferResult
  | TrackResult
  | ReleaseTrackCacheResult
  | CancelResult
  | StatusResult
  | UnloadResult
  | ShutdownResult
  | PingResult;

export type EngineEvent = HelloEvent | ProgressEvent | LogEvent | ErrorEvent | ResultEvent;

/** The result type a request type resolves to. */
export interface ResultFor {
  load: LoadResult;
  infer: InferResult;
  track: TrackResult;
  release_track_cache: ReleaseTrackCacheResult;
  cancel: CancelResult;
  status: StatusResult;
  unload: UnloadResult;
  shutdown: ShutdownResult;
  ping: PingResult;
}

const EVENT_TYPES = new Set(["hello", "progress", "log", "error", "result"]);

/** A line from the engine that is not a protocol event. */
export class ProtocolError extends Error {}

/** Parses one stdout line; throws ProtocolError on anything that is not a protocol event. */
export function parseEvent(line: string): EngineEvent {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ProtocolError(`engine sent a line that is not JSON: ${line.slice(0, 200)}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v) || !EVENT_TYPES.has((v as { type?: unknown }).type as string))
    throw new ProtocolError(`engine sent an unknown message: ${line.slice(0, 200)}`);
  return v as EngineEvent;
}

/** One request as a protocol line (JSON never contains a raw newline). */
export function encodeRequest(req: EngineRequest): string {
  return JSON.stringify(req) + "\n";
}

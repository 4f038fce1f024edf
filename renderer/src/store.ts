// Application state (zustand) and the actions that talk to the services through `api`.
import { create } from "zustand";

import type {
  AppInfo,
  DefaultOptions,
  EngineState,
  Estimate,
  ExportFormatInfo,
  ImageEntry,
  MenuCommand,
  ModelStatus,
  PointBranch,
  PointCloud,
  RejectedEntry,
  RunOptions,
  VideoSampling,
  RunProgress,
  RunSummary,
  ScanResult,
  TrackResult,
} from "../../electron/ipc/channels";
import { normalizeSet, presetSet, UNCALIBRATED_PRESET } from "../../common/option-catalog";
import { api } from "./api";
import type { Picked } from "./drop";

export interface Frame {
  entry: ImageEntry;
  included: boolean;
  thumbUrl?: string;
}

export interface Notice {
  id: number;
  kind: "error" | "info";
  text: string;
}

export interface ViewerSettings {
  confPercentile: number;
  pointSize: number;
  branch: PointBranch;
  maxPoints: number;
  showCameras: boolean;
  /** Frames hidden by the per-frame filter. */
  hiddenFrames: number[];
  /** The official demo's background filters. */
  filterBlack: boolean;
  filterWhite: boolean;
  /** Chunked runs: colour points by the chunk their frame came from. */
  colorByChunk?: boolean;
}

export interface State {
  info: AppInfo | null;
  /** This machine's default option set (calibrated) and why; null until the services answer. */
  defaults: DefaultOptions | null;
  /** Whether the user chose the engine options (saved); else they follow the machine's default. */
  optionsChosen: boolean;
  /** A re-measure of the default is in flight. */
  remeasuring: boolean;
  exportFormats: ExportFormatInfo[];
  engine: EngineState | null;
  model: ModelStatus | null;
  frames: Frame[];
  rejected: RejectedEntry[];
  /** The video the frames were sampled from (resampling scans it again). */
  video: VideoSampling | null;
  busy: string | null;
  options: RunOptions;
  estimate: Estimate | null;
  runs: RunSummary[];
  progress: Record<string, RunProgress>;
  /** When each run's last progress event arrived (ms): the clock runs on between events. */
  progressAt: Record<string, number>;
  selectedRunId: string | null;
  cloud: PointCloud | null;
  cloudLoading: boolean;
  cloudError: string | null;
  viewer: ViewerSettings;
  /** Bumped to ask the viewer to reset / look through a camera. */
  viewCommand: { kind: "reset" } | { kind: "camera"; index: number } | null;
  viewCommandSeq: number;
  notices: Notice[];
  theme: "dark" | "light";
  /** Main view: reconstruction or the performance lab. */
  view: "reconstruct" | "perf";
  /** What the 3-D view shows: a run's output, or A's / B's output of an A/B benchmark. */
  cloudSource: { kind: "run" } | { kind: "bench"; benchId: string; side: "A" | "B" };
  /** Click-to-track: the tracks shown for the selected run, each with its display colour. */
  tracks: { result: TrackResult; color: string }[];
  trackBusy: boolean;
}

let noticeSeq = 1;

const ENGINE_OPTIONS_KEY = "vggt-engine-options";

/**
 * The toggles as the user left them; null the first time: new runs then follow this machine's
 * default (the fastest set inside the official bf16 accuracy bound, from the services' calibration),
 * with "Fastest exact" one click away.
 */
function savedEngineOptions() {
  try {
    const saved = localStorage.getItem(ENGINE_OPTIONS_KEY);
    if (saved) return normalizeSet(JSON.parse(saved));
  } catch {
    // a set saved by another version (unknown names): start over
  }
  return null;
}
const initialSaved = savedEngineOptions();

/** Electron's native menu commands; components register what needs their DOM (file inputs, canvas). */
export const menuHandlers: Partial<Record<MenuCommand, () => void>> = {
  "load-sample": () => void loadSample(),
  "reset-view": () => viewCommand({ kind: "reset" }),
  "toggle-theme": () => setTheme(get().theme === "dark" ? "light" : "dark"),
};

/** Point budget sent to the server: smaller where WebGL runs in software. */
export function defaultMaxPoints(): number {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    const ext = gl?.getExtension("WEBGL_debug_renderer_info");
    const renderer = String(ext && gl ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl?.getParameter(gl.RENDERER) ?? "");
    if (!gl || /swiftshader|llvmpipe|software/i.test(renderer)) return 300_000;
  } catch {
    return 300_000;
  }
  return 2_000_000;
}

export const useStore = create<State>(() => ({
  info: null,
  exportFormats: [],
  engine: null,
  model: null,
  frames: [],
  rejected: [],
  busy: null,
  defaults: null,
  optionsChosen: initialSaved !== null,
  remeasuring: false,
  options: { preprocess: "crop", randomWeights: false, seed: 0, engineOptions: initialSaved ?? presetSet(UNCALIBRATED_PRESET), parallel: { mode: "none", degree: 1 } },
  video: null,
  estimate: null,
  runs: [],
  progress: {},
  progressAt: {},
  selectedRunId: null,
  cloud: null,
  cloudLoading: false,
  cloudError: null,
  // The official demo's default branch; exports default to it too.
  viewer: { confPercentile: 50, pointSize: 2, branch: "depth", maxPoints: 1_000_000, showCameras: true, hiddenFrames: [], filterBlack: false, filterWhite: false },
  viewCommand: null,
  viewCommandSeq: 0,
  notices: [],
  theme: (localStorage.getItem("vggt-theme") as "dark" | "light") ?? "dark",
  view: "reconstruct",
  cloudSource: { kind: "run" },
  tracks: [],
  trackBusy: false,
}));

const set = useStore.setState;
const get = useStore.getState;

export function notify(text: string, kind: Notice["kind"] = "error"): void {
  const id = noticeSeq++;
  set((s) => ({ notices: [...s.notices, { id, kind, text }] }));
  if (kind === "info") setTimeout(() => dismissNotice(id), 6000);
}

export function dismissNotice(id: number): void {
  set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
}

async function guarded<T>(label: string, fn: () => Promise<T>): Promise<T | undefined> {
  set({ busy: label });
  try {
    return await fn();
  } catch (e) {
    notify((e as Error).message);
    return undefined;
  } finally {
    set({ busy: null });
  }
}

export async function init(): Promise<void> {
  set({ viewer: { ...get().viewer, maxPoints: defaultMaxPoints() } });
  api.onEvent((e) => {
    if (e.type === "engine") set({ engine: e.engine });
    // A model arriving where there was none (the Model panel's download): real weights from now on.
    else if (e.type === "model") set({ model: e.model, ...(e.model.state === "ready" && get().model?.state !== "ready" ? { options: { ...get().options, randomWeights: false } } : {}) });
    else if (e.type === "run-progress")
      set((s) => ({ progress: { ...s.progress, [e.progress.runId]: e.progress }, progressAt: { ...s.progressAt, [e.progress.runId]: Date.now() } }));
    else if (e.type === "run-updated") onRunUpdated(e.run);
    else if (e.type === "menu") menuHandlers[e.command]?.();
    else if (e.type === "default-options") applyDefaults(e.state);
    else if (e.type === "video-progress" && get().busy) set({ busy: `Decoding ${e.progress.name}: ${e.progress.framesDone}/${e.progress.framesExpected} frames…` });
  });
  try {
    const info = await api.appInfo();
    set({ info, engine: info.engine, model: info.model, options: { ...get().options, randomWeights: info.model.state !== "ready" } });
    set({ runs: await api.listRuns() });
    set({ exportFormats: await api.exportFormats() });
    // The first request on a machine starts its calibration; the result arrives as an event.
    applyDefaults(await api.defaultOptions());
  } catch (e) {
    notify(`cannot reach the services: ${(e as Error).message}`);
  }
}

/** This machine's default arrived or changed: options the user has not chosen follow it. */
function applyDefaults(d: DefaultOptions): void {
  set({ defaults: d });
  if (!get().optionsChosen) {
    set({ options: { ...get().options, engineOptions: presetSet(d.preset) } });
    void refreshEstimate();
  }
}

/** Measure this machine again ("re-measure"); the new default applies where the user has not chosen. */
export async function remeasureDefaults(): Promise<void> {
  set({ remeasuring: true, defaults: get().defaults ? { ...get().defaults!, state: "measuring" } : null });
  try {
    applyDefaults(await api.recalibrate());
  } catch (e) {
    notify(`re-measuring failed: ${(e as Error).message}`);
  } finally {
    set({ remeasuring: false });
  }
}

/** Back to this machine's default: the options follow it again (and are no longer saved as chosen). */
export function useMachineDefault(): void {
  localStorage.removeItem(ENGINE_OPTIONS_KEY);
  set({ optionsChosen: false });
  const d = get().defaults;
  if (d) applyDefaults(d);
}

function onRunUpdated(run: RunSummary): void {
  const runs = get().runs.filter((r) => r.id !== run.id);
  runs.unshift(run);
  runs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  set({ runs });
  if (run.status !== "running" && run.status !== "queued") {
    set((s) => {
      const progress = { ...s.progress };
      delete progress[run.id];
      return { progress };
    });
    if (run.status === "failed") notify(`Run “${run.name}” failed: ${run.error ?? "unknown error"}`);
    if (run.status === "done" && get().selectedRunId === run.id && get().cloudSource.kind === "run") void loadCloud();
    // A finished run measured the throughput: the estimate can use it now.
    if (run.status === "done") void refreshEstimate();
  }
}

function revokeThumbs(frames: Frame[]): void {
  for (const f of frames) if (f.thumbUrl) URL.revokeObjectURL(f.thumbUrl);
}

/** Why nothing could be used, for the message (the first few reasons, then a count). */
function reasonsOf(rejected: RejectedEntry[]): string {
  const shown = rejected.slice(0, 3).map((r) => `${r.name}: ${r.reason}`);
  if (rejected.length > 3) shown.push(`${rejected.length - 3} more`);
  return shown.join("; ");
}

/**
 * A scan's images replace the selection; a scan that found none leaves the selection as it was and
 * says why, naming what was picked.
 */
function applyScan(scan: ScanResult, extraRejected: RejectedEntry[] = [], what = "the selection"): void {
  const rejected = [...extraRejected, ...scan.rejected];
  if (scan.images.length === 0) {
    const kept = get().frames.length ? " The previous selection is kept." : "";
    notify(rejected.length ? `No usable images in ${what}: ${reasonsOf(rejected)}.${kept}` : `No files in ${what}.${kept}`);
    return;
  }
  revokeThumbs(get().frames);
  set({ frames: scan.images.map((entry) => ({ entry, included: true })), rejected, video: scan.videos?.length === 1 ? scan.videos[0] : null });
  for (const n of scan.notes ?? []) notify(n, "info");
  void refreshEstimate();
  void loadThumbs();
}

async function loadThumbs(): Promise<void> {
  for (const f of get().frames) {
    if (f.thumbUrl) continue;
    try {
      const img = await api.readImage(f.entry.path);
      const url = URL.createObjectURL(new Blob([img.bytes as BlobPart], { type: img.mime }));
      set((s) => ({ frames: s.frames.map((x) => (x.entry.path === f.entry.path ? { ...x, thumbUrl: url } : x)) }));
    } catch {
      // The scan already validated the file; a thumbnail failure is cosmetic.
    }
  }
}

export async function scanPaths(paths: string[], extraRejected: RejectedEntry[] = [], what = paths.length === 1 ? `“${paths[0]}”` : "the selection"): Promise<void> {
  const scan = await guarded("Scanning images…", () => api.scanPaths(paths));
  if (scan) applyScan(scan, extraRejected, what);
}

export async function importFiles(picked: Picked, what: string): Promise<void> {
  const files = picked.files;
  for (const folder of picked.emptyFolders) notify(`The folder “${folder}” is empty.${get().frames.length ? " The previous selection is kept." : ""}`);
  if (files.length === 0) {
    // The browser sends nothing for an empty folder: only an empty pick can say so.
    if (picked.emptyFolders.length === 0) notify(`No files in ${what} (an empty folder?).${get().frames.length ? " The previous selection is kept." : ""}`);
    return;
  }
  const collator = new Intl.Collator(undefined, { numeric: true });
  files.sort((a, b) => collator.compare(a.relativePath, b.relativePath));
  const res = await guarded(api.mode === "web" ? `Uploading ${files.length} files…` : "Reading files…", () => api.importFiles(files));
  if (!res) return;
  if (res.paths.length === 0) {
    applyScan({ images: [], rejected: [] }, res.failed, what);
    return;
  }
  const scan = await guarded("Scanning images…", () => api.scanPaths(res.paths));
  if (scan) applyScan({ ...scan, notes: [...picked.notes, ...(scan.notes ?? [])] }, res.failed, what);
}

export async function openFolder(fallback: () => void): Promise<void> {
  const dir = await api.pickFolder().catch(() => null);
  if (dir) await scanPaths([dir]);
  else if (api.mode === "web") fallback();
}

/** Samples the current video again: a frame count or a rate (frames per second of video). */
export async function resampleVideo(choice: { frames?: number; fps?: number }): Promise<void> {
  const video = get().video;
  if (!video) return;
  const scan = await guarded(`Decoding ${video.name}…`, () => api.scanPaths([video.path], { video: choice }));
  if (scan) applyScan(scan, [], `“${video.name}”`);
}

export async function loadSample(): Promise<void> {
  const scan = await guarded("Loading the sample…", () => api.loadSample());
  if (scan) applyScan(scan);
}

export function setFrameIncluded(path: string, included: boolean): void {
  set((s) => ({ frames: s.frames.map((f) => (f.entry.path === path ? { ...f, included } : f)) }));
  void refreshEstimate();
}

export function removeFrame(path: string): void {
  const f = get().frames.find((x) => x.entry.path === path);
  if (f?.thumbUrl) URL.revokeObjectURL(f.thumbUrl);
  set((s) => ({ frames: s.frames.filter((x) => x.entry.path !== path) }));
  void refreshEstimate();
}

export function clearFrames(): void {
  revokeThumbs(get().frames);
  set({ frames: [], rejected: [], estimate: null, video: null });
}

/** Keep every k-th frame, at most `max` of them, spread evenly over the sequence. */
export function subsample(every: number, max: number): void {
  const frames = get().frames;
  const k = Math.max(1, Math.floor(every));
  let picked = frames.map((_, i) => i).filter((i) => i % k === 0);
  if (max > 0 && picked.length > max) {
    const step = picked.length / max;
    picked = Array.from({ length: max }, (_, j) => picked[Math.floor(j * step)]);
  }
  const keep = new Set(picked);
  set({ frames: frames.map((f, i) => ({ ...f, included: keep.has(i) })) });
  void refreshEstimate();
}

export function setOptions(patch: Partial<RunOptions>): void {
  set((s) => ({ options: { ...s.options, ...patch } }));
  if (patch.engineOptions) {
    localStorage.setItem(ENGINE_OPTIONS_KEY, JSON.stringify(patch.engineOptions));
    set({ optionsChosen: true });
  }
  void refreshEstimate();
}

/** The planner's one-click fit: its switches on (the others as chosen) and its chunking. */
export function applyFitSuggestion(): void {
  const fit = get().estimate?.suggestion;
  if (!fit) return;
  const engineOptions = { ...(get().options.engineOptions ?? presetSet(get().defaults?.preset ?? UNCALIBRATED_PRESET)), ...fit.flags };
  setOptions({ engineOptions, ...(fit.chunk ? { chunk: fit.chunk } : {}) });
  notify(`Run settings changed to fit this machine: ${fit.summary}`, "info");
}

export async function refreshEstimate(): Promise<void> {
  const { frames, options } = get();
  const sizes = frames.filter((f) => f.included).map((f) => ({ width: f.entry.width, height: f.entry.height }));
  if (sizes.length === 0) {
    set({ estimate: null });
    return;
  }
  try {
    set({
      estimate: await api.estimate({
        sizes,
        preprocess: options.preprocess,
        randomWeights: options.randomWeights,
        ...(options.engineOptions ? { engineOptions: options.engineOptions } : {}),
        ...(options.chunk ? { chunk: options.chunk } : {}),
      }),
    });
  } catch (e) {
    set({ estimate: null });
    notify((e as Error).message);
  }
}

export async function startRun(): Promise<void> {
  const { frames, options } = get();
  const images = frames.filter((f) => f.included).map((f) => f.entry.path);
  const run = await guarded("Starting the run…", () => api.startRun({ images, options }));
  if (run) {
    // The event stream may already have moved this run past "queued": keep the newer state.
    if (!get().runs.some((r) => r.id === run.id)) onRunUpdated(run);
    set({ selectedRunId: run.id, cloud: null, cloudError: null });
  }
}

export async function cancelRun(runId: string): Promise<void> {
  try {
    await api.cancelRun(runId);
  } catch (e) {
    notify((e as Error).message);
  }
}

export async function deleteRun(runId: string): Promise<void> {
  try {
    await api.deleteRun(runId);
    set((s) => ({ runs: s.runs.filter((r) => r.id !== runId), ...(s.selectedRunId === runId ? { selectedRunId: null, cloud: null } : {}) }));
  } catch (e) {
    notify((e as Error).message);
  }
}

export async function selectRun(runId: string): Promise<void> {
  if (get().selectedRunId !== runId) set({ tracks: [] });
  set({ selectedRunId: runId, cloudError: null, cloudSource: { kind: "run" } });
  const run = get().runs.find((r) => r.id === runId);
  if (run?.status === "done") await loadCloud();
  else set({ cloud: null });
}

let cloudRequest = 0;

export async function loadCloud(): Promise<void> {
  const { selectedRunId, viewer, cloudSource: source } = get();
  if (source.kind === "run" && !selectedRunId) return;
  const seq = ++cloudRequest;
  set({ cloudLoading: true, cloudError: null });
  try {
    const cloud =
      source.kind === "bench"
        ? await api.getBenchPointCloud({ benchId: source.benchId, side: source.side, branch: viewer.branch, maxPoints: viewer.maxPoints })
        : await api.getPointCloud({ runId: selectedRunId!, branch: viewer.branch, maxPoints: viewer.maxPoints });
    if (seq !== cloudRequest) return;
    const keepHidden = get().cloud?.runId === cloud.runId;
    set((s) => ({ cloud, viewer: keepHidden ? s.viewer : { ...s.viewer, hiddenFrames: [] } }));
  } catch (e) {
    if (seq === cloudRequest) set({ cloudError: (e as Error).message, cloud: null });
  } finally {
    if (seq === cloudRequest) set({ cloudLoading: false });
  }
}

export function setViewer(patch: Partial<ViewerSettings>): void {
  const prev = get().viewer;
  set({ viewer: { ...prev, ...patch } });
  if ((patch.branch && patch.branch !== prev.branch) || (patch.maxPoints && patch.maxPoints !== prev.maxPoints)) void loadCloud();
}

export function viewCommand(cmd: NonNullable<State["viewCommand"]>): void {
  set((s) => ({ viewCommand: cmd, viewCommandSeq: s.viewCommandSeq + 1 }));
}

export async function chooseModelFolder(): Promise<void> {
  const dir = await api.pickFolder().catch(() => null);
  if (!dir) {
    if (api.mode === "web") notify("In web mode, enter the model's path on the server in the Model panel's path field (the Model… button).", "info");
    return;
  }
  const model = await guarded("Checking the model…", () => api.setModelDir(dir));
  if (model) set({ model, options: { ...get().options, randomWeights: false } });
}

/** A checkpoint file or a folder typed in (web mode: a path on the server). */
export async function applyModelPath(path: string): Promise<void> {
  const model = await guarded("Checking the model…", () => api.setModelDir(path));
  if (model) {
    set({ model, options: { ...get().options, randomWeights: false } });
    notify(`Model ready: ${model.state === "ready" ? model.name : path}`, "info");
  }
}

export async function exportRun(format: string): Promise<void> {
  const { selectedRunId, viewer } = get();
  if (!selectedRunId) return;
  const r = await guarded(`Exporting ${format}…`, () =>
    api.exportRun(selectedRunId, format, { confPercentile: viewer.confPercentile, branch: viewer.branch, hiddenFrames: viewer.hiddenFrames, filterBlack: viewer.filterBlack, filterWhite: viewer.filterWhite }),
  );
  if (!r) return;
  if (r.download) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([r.download.bytes as BlobPart], { type: r.download.mime }));
    a.download = r.download.fileName;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  notify(`Exported ${r.format}${r.pointCount ? ` (${r.pointCount.toLocaleString("en-US")} points)` : ""} to ${r.outDir}${r.notes.length ? ` — ${r.notes.join("; ")}` : ""}`, "info");
}

/** Shows A's or B's point cloud of an A/B benchmark in the 3-D view. */
export async function showBenchCloud(benchId: string, side: "A" | "B"): Promise<void> {
  set({ cloudSource: { kind: "bench", benchId, side } });
  await loadCloud();
}

export function setView(view: State["view"]): void {
  if (view === get().view) return;
  set({ view });
  // The 3-D view belongs to the run list again: bring back the selected run's cloud.
  if (view === "reconstruct" && get().cloudSource.kind === "bench") {
    set({ cloudSource: { kind: "run" }, cloud: null });
    if (get().runs.find((r) => r.id === get().selectedRunId)?.status === "done") void loadCloud();
  }
}

export function setTheme(theme: "dark" | "light"): void {
  localStorage.setItem("vggt-theme", theme);
  set({ theme });
}

const TRACK_COLORS = ["#ff4d4f", "#40a9ff", "#73d13d", "#ffc53d", "#b37feb", "#36cfc9", "#ff85c0", "#ffa940"];

/** Click-to-track: tracks the clicked point (original pixels of `frame`) of the selected run. */
export async function trackAt(frame: number, x: number, y: number, space: "original" | "model" = "original"): Promise<void> {
  const runId = get().selectedRunId;
  if (!runId || get().trackBusy) return;
  set({ trackBusy: true });
  try {
    const result = await api.trackPoints({ runId, frame, points: [[x, y]], space, branch: get().viewer.branch });
    if (get().selectedRunId !== runId) return;
    set((s) => ({ tracks: [...s.tracks, { result, color: TRACK_COLORS[s.tracks.length % TRACK_COLORS.length] }] }));
  } catch (e) {
    notify((e as Error).message);
  } finally {
    set({ trackBusy: false });
  }
}

export function clearTracks(): void {
  set({ tracks: [] });
}

/** Bundle adjustment of the selected run's cameras: a new run appears in the list. */
export async function refineSelected(queries: number): Promise<void> {
  const runId = get().selectedRunId;
  if (!runId) return;
  const run = await guarded("Starting refine…", () => api.refineRun({ runId, queries }));
  if (run && !get().runs.some((r) => r.id === run.id)) onRunUpdated(run);
}

// The Model panel's "Download VGGT-1B": the model manager's resumable, SHA-256-verified hub download,
// then a check of the names and shapes against the architecture, then the converted copy the chosen
// options load (bf16 / int8), and only then the app switches to the model. Pause = cancel keeping the
// partial file; resume = the same download again, which continues with an HTTP Range request.
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

import type { ModelDownloadRequest, ModelInstallState } from "../../ipc/model-install-types.js";
import type { OptionSet } from "../../ipc/perf-types.js";
import { checkVggtConfig } from "./config-check.js";
import { convertCached, engineConverter, engineVersion, type ConvertTarget } from "./convert-cache.js";
import { ModelError } from "./errors.js";
import { DEFAULT_FILENAME, DEFAULT_REPO, downloadModel, resolveHubSettings, type DownloadOptions } from "./hub-download.js";
import { convertedCacheDir, currentPlatform, type Env } from "./paths.js";
import type { ProgressEvent } from "./progress.js";
import { engineCheckpointCheck, validateCheckpoint } from "./validate.js";
import type { VggtConfig } from "./vggt-params.js";

/** The converted copy an option set loads: int8 for W8A8, bf16 for bf16 Linears, none for fp32. */
export function convertTargetFor(flags: OptionSet | undefined): ConvertTarget | null {
  if (!flags) return "bf16"; // the engine's load defaults are the `all` preset (bf16 Linears)
  if (flags.w8a8) return "int8";
  if (flags.bf16) return "bf16";
  return null;
}

/** Only http(s) hubs: a file:// or other scheme would read or reach what a hub URL must not. */
export function checkHubUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`hub URL '${url}' is not a URL (expected http://HOST[:PORT] or https://HOST)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`hub URL '${url}': only http and https are allowed, not ${u.protocol}`);
  return u.href.replace(/\/+$/, "");
}

/**
 * A `config.json` next to a checkpoint that describes the architecture in the engine's schema (it has
 * `depth`) is the checkpoint's config; one that does not (e.g. a hub mixin's constructor arguments)
 * is not ours to read, and VGGT-1B's built-in preset applies. An architecture config that is invalid
 * is an error naming the file and the field.
 */
export function siblingConfig(checkpoint: string): { path: string; config: VggtConfig } | null {
  const path = join(dirname(checkpoint), "config.json");
  let raw: unknown;
  try {
    if (!statSync(path).isFile() || statSync(path).size > 1 << 20) return null;
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
  if (!raw || typeof raw !== "object" || !("depth" in raw)) return null;
  return { path, config: checkVggtConfig(raw, path) };
}

export interface InstallerOptions {
  /** Hub base URL (web mode's --hub-url); default $HF_ENDPOINT, else huggingface.co. */
  endpoint?: string;
  env?: Env;
  /** The engine binary, for conversion and for checking .pt checkpoints (null: none available). */
  engineBinary: () => string | null;
  emit: (state: ModelInstallState) => void;
  /** The verified, checked (and converted) checkpoint: the app switches to it. */
  install: (weights: string) => void;
  /** Test hook: more download options (retries, delays). */
  download?: Partial<DownloadOptions>;
}

export class ModelInstaller {
  private current: ModelInstallState;
  private abort: AbortController | null = null;
  private pauseAsked = false;
  private work: Promise<void> | null = null;

  constructor(private readonly opts: InstallerOptions) {
    const s = resolveHubSettings(this.downloadOptions());
    this.current = { phase: "idle", repo: s.repo, file: s.filename, endpoint: s.endpoint, bytes: 0, total: null, speed: 0, etaSeconds: null, message: "", seq: 0 };
  }

  private downloadOptions(extra: Partial<DownloadOptions> = {}): DownloadOptions {
    return { ...(this.opts.endpoint ? { endpoint: this.opts.endpoint } : {}), ...(this.opts.env ? { env: this.opts.env } : {}), ...this.opts.download, ...extra };
  }

  state(): ModelInstallState {
    return { ...this.current };
  }

  private set(patch: Partial<ModelInstallState>): void {
    this.current = { ...this.current, ...patch, seq: this.current.seq + 1 };
    if (patch.phase && patch.phase !== "failed") delete this.current.error;
    this.opts.emit(this.state());
  }

  /** Starts the download, or resumes a paused or failed one; a running one is left alone. */
  start(req: ModelDownloadRequest = {}): ModelInstallState {
    if (this.work) return this.state();
    this.pauseAsked = false;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.set({ phase: "download", bytes: this.current.phase === "paused" ? this.current.bytes : 0, speed: 0, etaSeconds: null, message: `connecting to ${this.current.endpoint}` });
    this.work = this.run(req, signal)
      .catch((e) => {
        if (this.pauseAsked && e instanceof ModelError && e.code === "ABORTED") {
          const kept = Number(e.details.incomplete ? fileSize(String(e.details.incomplete)) : 0);
          this.set({ phase: "paused", bytes: kept, speed: 0, etaSeconds: null, message: "paused: the part downloaded so far is kept; Resume download continues from there" });
        } else {
          this.set({ phase: "failed", speed: 0, etaSeconds: null, error: (e as Error).message, message: "download failed; nothing was installed" });
        }
      })
      .finally(() => {
        this.work = null;
        this.abort = null;
      });
    return this.state();
  }

  /** Stops the transfer and keeps the partial file for Resume. */
  pause(): ModelInstallState {
    if (this.current.phase !== "download" || !this.abort) throw new Error("no download is running to pause");
    this.pauseAsked = true;
    this.abort.abort();
    return this.state();
  }

  /** Resolves when the current attempt has ended (tests, shutdown). */
  async idle(): Promise<void> {
    await this.work;
  }

  async dispose(): Promise<void> {
    this.abort?.abort();
    await this.work?.catch(() => undefined);
  }

  private onProgress = (e: ProgressEvent): void => {
    if (e.phase === "hash-partial")
      this.set({ phase: "download", bytes: e.bytes, total: e.total, speed: e.speed, etaSeconds: e.etaSeconds, message: "checking the part downloaded earlier before resuming" });
    else if (e.phase === "download") this.set({ phase: "download", bytes: e.bytes, total: e.total, speed: e.speed, etaSeconds: e.etaSeconds, message: `downloading ${e.file}` });
    else if (e.phase === "verify") this.set({ phase: "verify", bytes: e.bytes, total: e.total, speed: e.speed, etaSeconds: e.etaSeconds, message: `verifying the SHA-256 of ${e.file}` });
    else this.set({ phase: "convert", bytes: e.bytes, total: e.total, speed: e.speed, etaSeconds: e.etaSeconds, message: this.current.message });
  };

  private async run(req: ModelDownloadRequest, signal: AbortSignal): Promise<void> {
    const got = await downloadModel(this.downloadOptions({ repo: DEFAULT_REPO, filename: DEFAULT_FILENAME }), this.onProgress, signal);
    // The repository's config.json, when it publishes one in the engine's schema (a smaller
    // architecture); a plain git file has no published SHA-256, so it is checked field by field.
    try {
      await downloadModel(this.downloadOptions({ repo: DEFAULT_REPO, filename: "config.json", allowUnverified: true, expectedSha256: undefined }), undefined, signal);
    } catch (e) {
      if (!(e instanceof ModelError && e.code === "NOT_FOUND")) throw e;
    }
    const cfg = siblingConfig(got.path);
    this.set({
      phase: "verify",
      bytes: got.size,
      total: got.size,
      speed: 0,
      etaSeconds: null,
      message: `SHA-256 ${got.sha256.slice(0, 12)}… matches what ${this.current.endpoint} publishes; checking names and shapes against ${cfg ? cfg.path : "VGGT-1B"}`,
    });
    const bin = this.opts.engineBinary();
    const report = await validateCheckpoint(got.path, { config: cfg?.config ?? "vggt-1b", ...(bin ? { engineCheck: engineCheckpointCheck(bin) } : {}) });
    if (!report.ok)
      throw new ModelError("INVALID_CHECKPOINT", `${got.path} (from ${got.url}) is not a usable VGGT checkpoint: ${report.errors.slice(0, 3).join("; ")}`);
    const target = convertTargetFor(req.engineOptions);
    this.set({ convertTarget: target });
    if (target) {
      if (!bin) throw new ModelError("ENGINE", "the engine binary is missing, so the weights cannot be converted (build it with native-engine/scripts/build.sh)");
      const version = await engineVersion(bin);
      this.set({ phase: "convert", bytes: 0, total: null, speed: 0, etaSeconds: null, message: `converting to ${target} for the chosen options` });
      const pi = { ...currentPlatform(), env: this.opts.env ?? process.env };
      await convertCached({
        source: got.path,
        sourceSha256: got.sha256,
        target,
        engineVersion: version,
        converter: engineConverter(bin, cfg?.path),
        cacheDir: convertedCacheDir(pi),
        signal,
        onProgress: this.onProgress,
      });
    }
    this.opts.install(got.path);
    this.set({ phase: "done", speed: 0, etaSeconds: null, message: `installed ${got.path}${target ? ` (with its ${target} copy for the chosen options)` : ""}` });
  }
}

function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

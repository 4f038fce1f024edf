// Keeps one engine process available: restarts it after a crash with exponential back-off,
// re-loads the last model, and makes in-flight work fail with a clear crash error instead of
// hanging. The app talks to this, never to a bare EngineClient.
import { EventEmitter } from "node:events";
import { EngineClient, EngineJob, type EngineClientOptions, type ExitInfo, type InferOptions, type RequestOptions } from "./engine-client.js";
import { EngineError } from "./engine-errors.js";
import type {
  CancelResult,
  HelloEvent,
  InferParams,
  InferResult,
  LoadParams,
  LoadResult,
  LogEvent,
  ProgressEvent,
  ReleaseTrackCacheResult,
  StatusResult,
  TrackParams,
  TrackResult,
  UnloadResult,
} from "./protocol.js";

export interface BackoffOptions {
  /** First restart delay (default 500 ms). */
  initialMs?: number;
  /** Cap (default 30 s). */
  maxMs?: number;
  factor?: number;
  /** An engine that stayed up this long resets the back-off (default 60 s). */
  resetAfterMs?: number;
  /** Consecutive failed starts/crashes before giving up (default 8). */
  maxConsecutiveFailures?: number;
}

export interface SupervisorOptions {
  client?: EngineClientOptions;
  backoff?: BackoffOptions;
}

export interface CrashInfo extends ExitInfo {
  /** Delay before the next start, or null when the supervisor gave up. */
  restartInMs: number | null;
  consecutiveFailures: number;
}

export interface EngineSupervisorEvents {
  /** An engine is up (first start or restart) and the last model is loaded again. */
  ready: [{ hello: HelloEvent; restarts: number }];
  crash: [CrashInfo];
  /** Restarting worked but re-loading the last model failed; the engine runs without a model. */
  "reload-failed": [EngineError];
  "gave-up": [Error];
  progress: [ProgressEvent];
  log: [LogEvent];
  stderr: [string];
}

type State = "idle" | "starting" | "running" | "backoff" | "stopped" | "failed";

export class EngineSupervisor extends EventEmitter<EngineSupervisorEvents> {
  private client: EngineClient | null = null;
  private state: State = "idle";
  private ready: Promise<EngineClient> | null = null;
  private lastLoad: LoadParams | null = null;
  private failures = 0;
  private restarts = 0;
  private startedAt = 0;
  private backoffTimer: NodeJS.Timeout | null = null;
  private wakeBackoff: (() => void) | null = null;
  private lastError: Error | null = null;

  constructor(private readonly opts: SupervisorOptions = {}) {
    super();
  }

  /** Starts the engine (if not running) and resolves when it is ready. */
  start(): Promise<EngineClient> {
    if (this.state === "stopped" || this.state === "failed" || this.state === "idle") {
      this.failures = 0;
      this.state = "starting";
      this.ready = this.launch();
      // Nobody may be awaiting this one; failures are reported through requests and events.
      this.ready.catch(() => {});
    }
    return this.ready!;
  }

  /** The current process, if one is up (tests and diagnostics). */
  get current(): EngineClient | null {
    return this.client;
  }
  get restartCount(): number {
    return this.restarts;
  }

  async load(params: LoadParams, opts: RequestOptions = {}): Promise<LoadResult> {
    const c = await this.engine();
    const r = await c.load(params, opts);
    this.lastLoad = params;
    return r;
  }

  /** Runs a job once the engine is ready. Rejects with EngineExitError ("engine crashed
   *  (signal ...)") when the engine dies during the job; the next job runs on the restarted one. */
  infer(params: InferParams, opts: InferOptions = {}): EngineJob {
    return this.job((c, o) => c.infer(params, o), opts);
  }

  /** Tracks on the cached run (see EngineClient.track). After a crash the restarted engine has
   *  no cache: the job then fails with no_track_cache. */
  track(params: TrackParams, opts: InferOptions = {}): EngineJob<TrackResult> {
    return this.job((c, o) => c.track(params, o), opts);
  }

  async releaseTrackCache(opts: RequestOptions = {}): Promise<ReleaseTrackCacheResult> {
    return (await this.engine()).releaseTrackCache(opts);
  }

  private job<R>(start: (c: EngineClient, o: InferOptions) => EngineJob<R>, opts: InferOptions): EngineJob<R> {
    let inner: EngineJob<R> | null = null;
    let cancelled = false;
    let progress: ((ev: ProgressEvent) => void) | null = null;
    const done = this.engine().then((c) => {
      if (cancelled) throw new EngineError("cancelled", "cancelled before it started");
      inner = start(c, { ...opts, onProgress: (ev) => progress?.(ev) });
      job.setId(inner.id);
      return inner.done;
    });
    const job: EngineJob<R> = new EngineJob<R>("", done, async (): Promise<CancelResult> => {
      if (inner) return inner.cancel();
      cancelled = true;
      // Not sent yet: it will fail with "cancelled" as soon as the engine is ready.
      return { type: "result", id: "", request: "cancel", job: "", state: "queued" };
    });
    progress = (ev) => {
      job.pushProgress(ev);
      opts.onProgress?.(ev);
    };
    return job;
  }

  async status(opts: RequestOptions = {}): Promise<StatusResult> {
    return (await this.engine()).status(opts);
  }

  async unload(opts: RequestOptions = {}): Promise<UnloadResult> {
    const r = await (await this.engine()).unload(opts);
    this.lastLoad = null;
    return r;
  }

  /** Stops the engine for good (until start() again). */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.state = "stopped";
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    this.wakeBackoff?.();
    const c = this.client;
    this.client = null;
    if (c) await c.shutdown(timeoutMs);
  }

  private async engine(): Promise<EngineClient> {
    if (this.state === "idle") return this.start();
    if (this.state === "stopped") throw new EngineError("engine_unavailable", "the engine has been stopped");
    if (this.state === "failed")
      throw new EngineError("engine_unavailable", `the engine keeps failing; gave up restarting (${this.lastError?.message ?? "unknown"})`);
    return this.ready!;
  }

  // Starts processes until one is up with the last model, sleeping the back-off between tries.
  private async launch(): Promise<EngineClient> {
    for (;;) {
      if (this.state === "stopped") throw new EngineError("engine_unavailable", "the engine has been stopped");
      let client: EngineClient;
      try {
        client = await EngineClient.start(this.opts.client);
      } catch (e) {
        this.lastError = e as Error;
        await this.afterFailure({ exitCode: null, signal: null, requested: false, stderrTail: (e as Error).message });
        continue;
      }
      if ((this.state as State) === "stopped") {
        await client.shutdown();
        throw new EngineError("engine_unavailable", "the engine has been stopped");
      }
      this.attach(client);
      if (this.lastLoad) {
        try {
          await client.load(this.lastLoad);
        } catch (e) {
          if (!client.alive) {
            // It crashed while loading; the exit handler already scheduled nothing (we are
            // still starting), so count it and go round again.
            this.lastError = e as Error;
            await this.afterFailure((await client.waitForExit()) as ExitInfo);
            continue;
          }
          this.emit("reload-failed", e as EngineError);
          this.lastLoad = null;
        }
      }
      this.state = "running";
      this.startedAt = Date.now();
      this.emit("ready", { hello: client.hello, restarts: this.restarts });
      return client;
    }
  }

  private attach(client: EngineClient): void {
    this.client = client;
    client.on("progress", (ev) => this.emit("progress", ev));
    client.on("log", (ev) => this.emit("log", ev));
    client.on("stderr", (s) => this.emit("stderr", s));
    client.on("exit", (x) => {
      if (this.client === client) this.client = null;
      if (x.requested || this.state !== "running") return;
      // Crash of a running engine: requests already rejected by the client; restart.
      this.lastError = new Error(`engine crashed (${x.signal ? `signal ${x.signal}` : `exit code ${x.exitCode}`})`);
      if (Date.now() - this.startedAt >= (this.opts.backoff?.resetAfterMs ?? 60_000)) this.failures = 0;
      this.state = "starting";
      this.ready = (async () => {
        await this.afterFailure(x);
        return this.launch();
      })();
      this.ready.catch(() => {});
    });
  }

  // Counts a failure, reports it, and waits out the back-off (or gives up).
  private async afterFailure(x: ExitInfo): Promise<void> {
    const b = this.opts.backoff ?? {};
    this.failures++;
    const max = b.maxConsecutiveFailures ?? 8;
    const giveUp = this.failures >= max;
    const delay = giveUp ? null : Math.min(b.maxMs ?? 30_000, (b.initialMs ?? 500) * (b.factor ?? 2) ** (this.failures - 1));
    this.emit("crash", { ...x, restartInMs: delay, consecutiveFailures: this.failures });
    if (delay === null) {
      this.state = "failed";
      const err = new EngineError("engine_unavailable", `engine failed ${this.failures} times in a row; last: ${this.lastError?.message ?? "unknown"}`);
      this.emit("gave-up", err);
      throw err;
    }
    this.state = "backoff";
    await new Promise<void>((resolve) => {
      this.wakeBackoff = resolve;
      this.backoffTimer = setTimeout(resolve, delay);
    });
    this.backoffTimer = null;
    this.wakeBackoff = null;
    if ((this.state as State) === "stopped") throw new EngineError("engine_unavailable", "the engine has been stopped");
    this.state = "starting";
    this.restarts++;
  }
}

// Client for one `vggt-engine serve` process: spawns it, speaks the line protocol, and turns
// requests into Promises. Plain Node (no Electron): the main process and tests both use it.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { EventEmitter } from "node:events";
import { buildEngineCommand, type EngineLaunchOptions } from "./engine-launch.js";
import { EngineError, EngineExitError, describeExit } from "./engine-errors.js";
import { LineSplitter, TextTail } from "./line-framing.js";
import {
  PROTOCOL_VERSION,
  encodeRequest,
  parseEvent,
  type CancelResult,
  type EngineEvent,
  type EngineRequest,
  type ErrorEvent,
  type HelloEvent,
  type InferParams,
  type InferResult,
  type LoadParams,
  type LoadResult,
  type LogEvent,
  type PingResult,
  type ProgressEvent,
  type ReleaseTrackCacheResult,
  type ResultFor,
  type StatusResult,
  type TrackParams,
  type TrackResult,
  type UnloadResult,
} from "./protocol.js";

export interface EngineClientOptions extends EngineLaunchOptions {
  /** How long to wait for the hello message (default 30 s). */
  startupTimeoutMs?: number;
  /** Default timeout of status/ping/cancel/unload (default 30 s); load and infer have none unless given. */
  controlTimeoutMs?: number;
  /** How much of stderr to keep for crash reports (default 8 KiB). */
  stderrTailBytes?: number;
}

export interface RequestOptions {
  timeoutMs?: number;
  onProgress?: (ev: ProgressEvent) => void;
}

export interface InferOptions extends RequestOptions {
  /** Aborting cancels the job (it then rejects with code "cancelled"). */
  signal?: AbortSignal;
}

export interface ExitInfo {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** true when shutdown()/kill() asked for it. */
  requested: boolean;
  stderrTail: string;
}

export interface EngineClientEvents {
  progress: [ProgressEvent];
  log: [LogEvent];
  /** Raw stderr text of the engine (free-form logs). */
  stderr: [string];
  /** An error event that answers no known request (e.g. a malformed line sent with sendRaw). */
  "unmatched-error": [ErrorEvent];
  /** The engine wrote something that is not a protocol message. */
  "protocol-warning": [string];
  exit: [ExitInfo];
}

interface Pending {
  type: EngineRequest["type"];
  resolve: (v: any) => void;
  reject: (e: Error) => void;
  onProgress?: (ev: ProgressEvent) => void;
  timer?: NodeJS.Timeout;
}

let clientCounter = 0;

/** A running infer (or track) request: its result, its progress, and a way to cancel it. */
export class EngineJob<R = InferResult> implements AsyncIterable<ProgressEvent> {
  private buffered: ProgressEvent[] = [];
  private waiters: ((r: IteratorResult<ProgressEvent>) => void)[] = [];
  private finished = false;

  constructor(
    private jobId: string,
    /** Resolves with the result event; rejects with EngineError (code "cancelled" after cancel()). */
    readonly done: Promise<R>,
    private readonly cancelFn: () => Promise<CancelResult>,
  ) {
    // The iterator ends however the job ends; the rejection itself is for whoever awaits `done`.
    done.then(
      () => this.finish(),
      () => this.finish(),
    );
  }

  /** The request id; a supervised job gets it when it reaches an engine ("" until then). */
  get id(): string {
    return this.jobId;
  }

  cancel(): Promise<CancelResult> {
    return this.cancelFn();
  }

  /** @internal */
  setId(id: string): void {
    this.jobId = id;
  }

  /** @internal */
  pushProgress(ev: ProgressEvent): void {
    const w = this.waiters.shift();
    if (w) w({ value: ev, done: false });
    else this.buffered.push(ev);
  }

  private finish(): void {
    this.finished = true;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<ProgressEvent> {
    return {
      next: () => {
        const ev = this.buffered.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.finished) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push(resolve));
      },
    };
  }
}

export class EngineClient extends EventEmitter<EngineClientEvents> {
  private readonly pending = new Map<string, Pending>();
  private readonly stderrTail: TextTail;
  private readonly prefix = `c${++clientCounter}`;
  private nextId = 0;
  private stopRequested = false;
  private exitInfo: ExitInfo | null = null;
  private readonly exited: Promise<ExitInfo>;
  private helloEvent: HelloEvent | null = null;
  private startup: { resolve: () => void; reject: (e: Error) => void } | null = null;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly opts: EngineClientOptions,
  ) {
    super();
    this.stderrTail = new TextTail(opts.stderrTailBytes ?? 8192);
    const splitter = new LineSplitter(64 << 20, (prefix) => this.emit("protocol-warning", `oversized line from engine: ${prefix}`));
    child.stdout.on("data", (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) this.onLine(line);
    });
    child.stdout.on("end", () => {
      for (const line of splitter.end()) this.onLine(line);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      this.stderrTail.push(s);
      this.emit("stderr", s);
    });
    child.on("error", (e) => this.startup?.reject(new EngineError("spawn_failed", `cannot start the engine: ${e.message}`)));
    // A write after the engine died fails with EPIPE; the exit handler reports it properly.
    child.stdin.on("error", () => {});
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): every event the engine wrote before dying is handled first.
      child.on("close", (exitCode, signal) => {
        this.exitInfo = { exitCode, signal, requested: this.stopRequested, stderrTail: this.stderrTail.value };
        this.failAll();
        this.emit("exit", this.exitInfo);
        resolve(this.exitInfo);
      });
    });
  }

  /** Spawns the engine and resolves once its hello message has been checked. */
  static async start(opts: EngineClientOptions = {}): Promise<EngineClient> {
    const { command, args } = buildEngineCommand(opts);
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      // Own process group: kill() reaches mpirun and every local rank, not just the leader.
      detached: true,
    });
    const client = new EngineClient(child, opts);
    const startupMs = opts.startupTimeoutMs ?? 30_000;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new EngineError("timeout", `engine did not say hello within ${startupMs} ms (${command})`)), startupMs);
        client.startup = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        client.exited.then((x) =>
          client.startup?.reject(
            new EngineError(
              "spawn_failed",
              `engine exited during startup (${describeExit(x.exitCode, x.signal)})${x.stderrTail ? `; stderr:\n${x.stderrTail}` : ""}`,
            ),
          ),
        );
      });
      const hello = client.helloEvent!;
      if (hello.protocol !== PROTOCOL_VERSION)
        throw new EngineError("protocol_mismatch", `engine speaks protocol ${hello.protocol}, this client ${PROTOCOL_VERSION} (${command})`);
    } catch (e) {
      client.kill();
      throw e;
    } finally {
      client.startup = null;
    }
    return client;
  }

  get hello(): HelloEvent {
    return this.helloEvent!;
  }
  get pid(): number {
    return this.child.pid!;
  }
  get alive(): boolean {
    return this.exitInfo === null;
  }
  /** Resolves when the process has ended (crash or stop). */
  waitForExit(): Promise<ExitInfo> {
    return this.exited;
  }
  get stderr(): string {
    return this.stderrTail.value;
  }

  load(params: LoadParams, opts: RequestOptions = {}): Promise<LoadResult> {
    return this.request("load", params, opts).promise;
  }

  infer(params: InferParams, opts: InferOptions = {}): EngineJob {
    return this.job("infer", params, opts);
  }

  /** Tracks query points through a finished run's cached features (infer with track_cache). */
  track(params: TrackParams, opts: InferOptions = {}): EngineJob<TrackResult> {
    return this.job("track", params, opts);
  }

  releaseTrackCache(opts: RequestOptions = {}): Promise<ReleaseTrackCacheResult> {
    return this.request("release_track_cache", {}, this.control(opts)).promise;
  }

  private job<T extends "infer" | "track">(type: T, params: object, opts: InferOptions): EngineJob<ResultFor[T]> {
    let job: EngineJob<ResultFor[T]>;
    const { id, promise } = this.request(type, params, {
      ...opts,
      onProgress: (ev) => {
        job.pushProgress(ev);
        opts.onProgress?.(ev);
      },
    });
    job = new EngineJob<ResultFor[T]>(id, promise, () => this.cancel(id));
    if (opts.signal) {
      const onAbort = () => void this.cancel(id).catch(() => {});
      if (opts.signal.aborted) onAbort();
      else opts.signal.addEventListener("abort", onAbort, { once: true });
      promise.then(
        () => opts.signal!.removeEventListener("abort", onAbort),
        () => opts.signal!.removeEventListener("abort", onAbort),
      );
    }
    return job;
  }

  cancel(jobId: string, opts: RequestOptions = {}): Promise<CancelResult> {
    return this.request("cancel", { job: jobId }, this.control(opts)).promise;
  }
  status(opts: RequestOptions = {}): Promise<StatusResult> {
    return this.request("status", {}, this.control(opts)).promise;
  }
  unload(opts: RequestOptions = {}): Promise<UnloadResult> {
    return this.request("unload", {}, this.control(opts)).promise;
  }
  ping(opts: RequestOptions = {}): Promise<PingResult> {
    return this.request("ping", {}, this.control(opts)).promise;
  }

  /** Asks the engine to stop (running job cancelled, queue failed) and waits for the process;
   *  kills it after `timeoutMs`. */
  async shutdown(timeoutMs = 10_000): Promise<ExitInfo> {
    if (!this.alive) return this.exited;
    this.stopRequested = true;
    const timer = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    try {
      await this.request("shutdown", {}, {}).promise.catch(() => {});
      this.child.stdin.end();
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Signals the whole process group (mpirun and its ranks included). */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.alive) return;
    this.stopRequested = true;
    this.signalGroup(signal);
  }

  /** Sends a line as-is (diagnostics and tests of the engine's bad-request handling). */
  sendRaw(line: string): void {
    this.child.stdin.write(line.endsWith("\n") ? line : line + "\n");
  }

  /** @internal Signals the engine without marking it as stopped: a simulated crash. */
  signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      this.child.kill(signal);
    }
  }

  private control(opts: RequestOptions): RequestOptions {
    return { timeoutMs: this.opts.controlTimeoutMs ?? 30_000, ...opts };
  }

  private request<T extends EngineRequest["type"]>(
    type: T,
    body: object,
    opts: RequestOptions,
  ): { id: string; promise: Promise<ResultFor[T]> } {
    const id = `${this.prefix}-${type}-${++this.nextId}`;
    const promise = new Promise<ResultFor[T]>((resolve, reject) => {
      if (!this.alive) {
        reject(this.exitError(id));
        return;
      }
      const p: Pending = { type, resolve, reject, onProgress: opts.onProgress };
      if (opts.timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          // The engine would keep working on an abandoned job; tell it to stop.
          if (type === "infer" || type === "load" || type === "track") void this.cancel(id).catch(() => {});
          reject(new EngineError("timeout", `${type} ${id} timed out after ${opts.timeoutMs} ms`, id));
        }, opts.timeoutMs);
      }
      this.pending.set(id, p);
      this.child.stdin.write(encodeRequest({ type, id, ...body } as EngineRequest));
    });
    return { id, promise };
  }

  private onLine(line: string): void {
    let ev: EngineEvent;
    try {
      ev = parseEvent(line);
    } catch (e) {
      this.emit("protocol-warning", (e as Error).message);
      return;
    }
    switch (ev.type) {
      case "hello":
        this.helloEvent = ev;
        this.startup?.resolve();
        return;
      case "progress":
        this.pending.get(ev.id)?.onProgress?.(ev);
        this.emit("progress", ev);
        return;
      case "log":
        this.emit("log", ev);
        return;
      case "error": {
        const p = ev.id === null ? undefined : this.pending.get(ev.id);
        if (!p) {
          if (ev.id === null) this.emit("unmatched-error", ev);
          return; // an answer to a request we gave up on (timeout)
        }
        this.settle(ev.id!, p);
        p.reject(new EngineError(ev.code, ev.message, ev.id));
        return;
      }
      case "result": {
        const p = this.pending.get(ev.id);
        if (!p) return;
        this.settle(ev.id, p);
        p.resolve(ev);
        return;
      }
    }
  }

  private settle(id: string, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(id);
  }

  private exitError(id: string | null, type?: string): EngineExitError {
    const x = this.exitInfo ?? { exitCode: null, signal: null, requested: this.stopRequested, stderrTail: this.stderrTail.value };
    const how = describeExit(x.exitCode, x.signal);
    const what = type ? ` while ${type} ${id} was pending` : "";
    const tail = x.stderrTail ? `; stderr tail:\n${x.stderrTail.split("\n").slice(-10).join("\n")}` : "";
    return x.requested
      ? new EngineExitError("engine_stopped", `engine stopped (${how})${what}`, id, x.exitCode, x.signal, x.stderrTail)
      : new EngineExitError("engine_crashed", `engine crashed (${how})${what}${tail}`, id, x.exitCode, x.signal, x.stderrTail);
  }

  private failAll(): void {
    for (const [id, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(this.exitError(id, p.type));
    }
    this.pending.clear();
  }
}

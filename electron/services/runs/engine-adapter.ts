// EngineRunner over the engine supervisor (services/engine): one `vggt-engine serve` process,
// restarted after a crash; the model is (re)loaded only when a run needs a different one.
import { EngineError, EngineExitError } from "../engine/engine-errors.js";
import { findEngineBinary } from "../engine/engine-launch.js";
import { EngineSupervisor } from "../engine/engine-supervisor.js";
import { mpiFailureSummary } from "../engine/mpi-failure.js";
import type { LoadParams } from "../engine/protocol.js";
import type { EngineState } from "../../ipc/types.js";
import { CancelledError, type EngineJob, type EngineJobResult, type EngineProgress, type EngineRunner, type EngineTrackResult, type TrackParams } from "./engine-runner.js";

export interface SupervisedEngineOptions {
  /** Engine binary; default: findEngineBinary() ($VGGT_ENGINE_BIN, the repo build, packaged resources). */
  binary?: string;
  threads?: number;
  /** Start the process right away (the UI then shows "ready"); default true. */
  eager?: boolean;
  /** mpirun for parallel runs: default $VGGT_MPIRUN, else "mpirun" (a site wrapper, or the namespace test's). */
  mpirun?: string;
  /** Environment of the engine processes; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Unload the model after this long without a job (ms; default 10 minutes; 0: never): an idle
   *  app should not hold the model's gigabytes. The next run loads it again. */
  idleReleaseMs?: number;
}

function loadParams(job: EngineJob): LoadParams {
  return job.model.kind === "random"
    ? { random: { seed: job.model.seed }, config: job.model.config }
    : { weights: job.model.weights, config: job.model.config };
}

export class SupervisedEngine implements EngineRunner {
  private current: EngineState;
  private readonly listeners = new Set<(s: EngineState) => void>();
  private readonly supervisor: EngineSupervisor | null = null;
  private loadedKey: string | null = null;
  // Parallel runs: one `mpirun ... serve --parallel` launch per (mode, degree, hostfile), started
  // on first use and kept, like the single-process engine, so its model stays loaded.
  private readonly parallel = new Map<string, { sup: EngineSupervisor; loadedKey: string | null }>();
  private binary: string | null = null;
  private restarts = 0;
  private readonly mpirun: string | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly idleReleaseMs: number;
  private idleTimer: NodeJS.Timeout | null = null;
  private inFlight = 0;

  constructor(opts: SupervisedEngineOptions = {}) {
    this.mpirun = opts.mpirun ?? (process.env.VGGT_MPIRUN || undefined);
    this.env = opts.env;
    this.idleReleaseMs = opts.idleReleaseMs ?? 10 * 60_000;
    let binary: string;
    try {
      binary = opts.binary ?? findEngineBinary();
    } catch (e) {
      this.current = { state: "missing", binary: null, message: (e as Error).message, restarts: 0 };
      return;
    }
    this.current = { state: "stopped", binary, restarts: 0 };
    this.binary = binary;
    const sup = new EngineSupervisor({ client: { binary, threads: opts.threads } });
    this.supervisor = sup;
    sup.on("ready", ({ restarts }) => {
      this.restarts = restarts;
      this.set({ state: "ready", message: restarts ? `restarted after a crash (${restarts}×)` : undefined });
    });
    sup.on("crash", (x) => {
      const how = x.signal ? `signal ${x.signal}` : x.exitCode !== null ? `exit code ${x.exitCode}` : x.stderrTail.split("\n")[0];
      this.set({
        state: "crashed",
        message: `engine crashed (${how})${x.restartInMs !== null ? `; restarting in ${(x.restartInMs / 1000).toFixed(1)} s` : ""}`,
      });
    });
    sup.on("reload-failed", () => {
      this.loadedKey = null;
    });
    sup.on("gave-up", (e) => {
      this.loadedKey = null;
      this.set({ state: "crashed", message: e.message });
    });
    if (opts.eager !== false) {
      this.set({ state: "starting" });
      sup.start().catch(() => undefined);
    }
  }

  private set(patch: Partial<EngineState>): void {
    this.current = { ...this.current, message: undefined, ...patch, restarts: this.restarts };
    for (const l of this.listeners) l(this.current);
  }

  state(): EngineState {
    return this.current;
  }

  onState(listener: (s: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private parallelSupervisor(p: NonNullable<EngineJob["parallel"]>): { sup: EngineSupervisor; loadedKey: string | null } {
    const key = `${p.mode}:${p.degree}:${p.hostfile ?? ""}`;
    let entry = this.parallel.get(key);
    if (!entry) {
      const sup = new EngineSupervisor({
        client: {
          binary: this.binary!,
          // One machine: oversubscribed ranks, one thread each. Across hosts (one slot per host):
          // each rank uses all of its own host's cores (the engine's default, 0).
          ...(p.hostfile ? {} : { threads: 1 }),
          launcher: {
            kind: "mpirun",
            np: p.degree,
            mode: p.mode,
            degree: p.degree,
            ...(p.hostfile ? { hostfile: p.hostfile } : { oversubscribe: true, threadsPerRank: 1 }),
            allowRunAsRoot: process.getuid?.() === 0,
            ...(this.mpirun ? { mpirun: this.mpirun } : {}),
          },
          ...(this.env ? { env: this.env } : {}),
        },
      });
      entry = { sup, loadedKey: null };
      sup.on("reload-failed", () => (entry!.loadedKey = null));
      this.parallel.set(key, entry);
    }
    return entry;
  }

  /** Counts a job in; the idle timer restarts when the last one ends. */
  private async busy<T>(work: () => Promise<T>): Promise<T> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.inFlight++;
    try {
      return await work();
    } finally {
      if (--this.inFlight === 0 && this.idleReleaseMs > 0) {
        this.idleTimer = setTimeout(() => void this.releaseWhenIdle(), this.idleReleaseMs);
        this.idleTimer.unref();
      }
    }
  }

  private async releaseWhenIdle(): Promise<void> {
    this.idleTimer = null;
    if (this.inFlight > 0 || (this.loadedKey === null && this.parallel.size === 0)) return;
    try {
      await this.release();
      if (this.current.state === "ready") this.set({ state: "ready", message: `model released after ${Math.round(this.idleReleaseMs / 60_000) || "<1"} min idle (the next run loads it again)` });
    } catch (e) {
      console.warn(`releasing the idle engine's model failed: ${(e as Error).message}`);
    }
  }

  infer(job: EngineJob, onProgress: (p: EngineProgress) => void, signal: AbortSignal): Promise<EngineJobResult> {
    return this.busy(() => this.inferNow(job, onProgress, signal));
  }

  private async inferNow(job: EngineJob, onProgress: (p: EngineProgress) => void, signal: AbortSignal): Promise<EngineJobResult> {
    if (!this.supervisor) throw new Error(`the engine is not available: ${this.current.message}`);
    const par = job.parallel && job.parallel.degree > 1 ? this.parallelSupervisor(job.parallel) : null;
    const sup = par ? par.sup : this.supervisor;
    const loaded = () => (par ? par.loadedKey : this.loadedKey);
    const setLoaded = (k: string | null) => (par ? (par.loadedKey = k) : (this.loadedKey = k));
    const t0 = Date.now();
    try {
      const params = loadParams(job);
      const key = JSON.stringify(params);
      if (loaded() !== key) {
        setLoaded(null);
        this.set({ state: "busy", message: par ? `starting ${job.parallel!.degree} ranks (${job.parallel!.mode}) and loading the model` : "loading the model" });
        onProgress({ stage: "load", step: 0, total: 1, elapsedMs: 0 });
        await sup.load(params);
        setLoaded(key);
        onProgress({ stage: "load", step: 1, total: 1, elapsedMs: Date.now() - t0 });
      }
      if (signal.aborted) throw new CancelledError();
      this.set({ state: "busy", message: "running" });
      const start = (trackCache: boolean) =>
        sup.infer(
          {
            images: job.images,
            preprocess: job.preprocess,
            output: job.output,
            ...(job.flags ? { options: { flags: job.flags } } : {}),
            ...(trackCache ? { track_cache: true } : {}),
          },
          { signal, onProgress: (ev) => onProgress({ stage: ev.stage, step: ev.step, total: ev.total, elapsedMs: ev.elapsed_ms }) },
        ).done;
      let result;
      try {
        result = await start(!!job.trackCache && !par);
      } catch (e) {
        // A checkpoint without track-head tensors loads without the track head: the engine refuses
        // the cache before running anything, and the run goes ahead without it.
        if (!(job.trackCache && e instanceof EngineError && e.code === "unsupported" && /track_cache/.test(e.message))) throw e;
        result = await start(false);
      }
      const flags = result.options?.flags;
      return {
        stages: result.timings.map((t) => ({ stage: t.stage, ms: t.ms })),
        ...(flags && typeof flags === "object" ? { flags } : {}),
        ...(result.track_cache ? { trackCacheRun: result.track_cache.run } : {}),
      };
    } catch (e) {
      if (e instanceof CancelledError || (e instanceof EngineError && e.code === "cancelled")) throw new CancelledError();
      if (e instanceof EngineError && (e.code === "engine_crashed" || e.code === "engine_stopped")) setLoaded(null);
      const lost = par && e instanceof EngineExitError ? mpiFailureSummary(e.stderrTail) : null;
      if (lost) throw new Error(`parallel run failed: ${lost}; every rank was stopped. ${(e as Error).message}`);
      throw new Error((e as Error).message);
    } finally {
      if (this.current.state === "busy") this.set({ state: "ready" });
    }
  }

  async track(params: TrackParams, signal?: AbortSignal): Promise<EngineTrackResult> {
    const sup = this.supervisor;
    if (!sup) throw new Error(`the engine is not available: ${this.current.message}`);
    try {
      return await this.busy(() => sup.track(params, { signal }).done);
    } catch (e) {
      throw new Error((e as Error).message);
    }
  }

  async release(): Promise<void> {
    if (this.supervisor && this.loadedKey !== null) {
      this.loadedKey = null;
      await this.supervisor.unload();
    }
    const launches = [...this.parallel.values()];
    this.parallel.clear();
    await Promise.all(launches.map((p) => p.sup.stop()));
  }

  /** Simulates a crash (tests): kills the engine process without asking it to stop. */
  crashForTest(): boolean {
    const c = this.supervisor?.current;
    if (!c) return false;
    c.signalGroup("SIGKILL");
    return true;
  }

  async dispose(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await Promise.all([this.supervisor?.stop(), ...[...this.parallel.values()].map((p) => p.sup.stop())]);
  }
}

// EngineRunner over the engine supervisor (services/engine): one `vggt-engine serve` process,
// restarted after a crash; the model is (re)loaded only when a run needs a different one.
import { EngineError } from "../engine/engine-errors.js";
import { findEngineBinary } from "../engine/engine-launch.js";
import { EngineSupervisor } from "../engine/engine-supervisor.js";
import type { LoadParams } from "../engine/protocol.js";
import type { EngineState } from "../../ipc/types.js";
import { CancelledError, type EngineJob, type EngineJobResult, type EngineProgress, type EngineRunner } from "./engine-runner.js";

export interface SupervisedEngineOptions {
  /** Engine binary; default: findEngineBinary() ($VGGT_ENGINE_BIN, the repo build, packaged resources). */
  binary?: string;
  threads?: number;
  /** Start the process right away (the UI then shows "ready"); default true. */
  eager?: boolean;
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
  private restarts = 0;

  constructor(opts: SupervisedEngineOptions = {}) {
    let binary: string;
    try {
      binary = opts.binary ?? findEngineBinary();
    } catch (e) {
      this.current = { state: "missing", binary: null, message: (e as Error).message, restarts: 0 };
      return;
    }
    this.current = { state: "stopped", binary, restarts: 0 };
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

  async infer(job: EngineJob, onProgress: (p: EngineProgress) => void, signal: AbortSignal): Promise<EngineJobResult> {
    const sup = this.supervisor;
    if (!sup) throw new Error(`the engine is not available: ${this.current.message}`);
    const t0 = Date.now();
    try {
      const params = loadParams(job);
      const key = JSON.stringify(params);
      if (this.loadedKey !== key) {
        this.loadedKey = null;
        this.set({ state: "busy", message: "loading the model" });
        onProgress({ stage: "load", step: 0, total: 1, elapsedMs: 0 });
        await sup.load(params);
        this.loadedKey = key;
        onProgress({ stage: "load", step: 1, total: 1, elapsedMs: Date.now() - t0 });
      }
      if (signal.aborted) throw new CancelledError();
      this.set({ state: "busy", message: "running" });
      const running = sup.infer(
        { images: job.images, preprocess: job.preprocess, output: job.output, ...(job.flags ? { options: { flags: job.flags } } : {}) },
        { signal, onProgress: (ev) => onProgress({ stage: ev.stage, step: ev.step, total: ev.total, elapsedMs: ev.elapsed_ms }) },
      );
      const result = await running.done;
      const flags = result.options?.flags;
      return { stages: result.timings.map((t) => ({ stage: t.stage, ms: t.ms })), ...(flags && typeof flags === "object" ? { flags } : {}) };
    } catch (e) {
      if (e instanceof CancelledError || (e instanceof EngineError && e.code === "cancelled")) throw new CancelledError();
      if (e instanceof EngineError && (e.code === "engine_crashed" || e.code === "engine_stopped")) this.loadedKey = null;
      throw new Error((e as Error).message);
    } finally {
      if (this.current.state === "busy") this.set({ state: "ready" });
    }
  }

  /** Simulates a crash (tests): kills the engine process without asking it to stop. */
  crashForTest(): boolean {
    const c = this.supervisor?.current;
    if (!c) return false;
    c.signalGroup("SIGKILL");
    return true;
  }

  async dispose(): Promise<void> {
    await this.supervisor?.stop();
  }
}

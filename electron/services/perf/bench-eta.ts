// A benchmark's stage, percentage and steady ETA: the plan of forward passes the engine's bench
// command makes (rows × (warm-up + timed runs), plus the A/B output runs), each predicted from the
// per-stage rates measured on this machine; the engine's "run i/n" lines mark progress through it.
import type { BenchRequest, OptionSet } from "../../ipc/perf-types.js";
import { SteadyEta } from "../../../common/steady-eta.js";
import { OPTIONS, normalizeSet } from "../../../common/option-catalog.js";

/**
 * The cumulative benchmark's order (vggt-engine bench --cumulative): baseline, then each added.
 * The engine's rule (cumulative_order() in model/engine_options.cpp) over its option table: the
 * optimizations in `all`, then the other optimizations, each in table order.
 */
export const CUMULATIVE_ORDER: readonly string[] = [
  ...OPTIONS.filter((o) => o.group === "optimizations" && o.defaultOn),
  ...OPTIONS.filter((o) => o.group === "optimizations" && !o.defaultOn),
].map((o) => o.name);

export interface BenchStep {
  /** The engine's row name ("baseline", "+ bf16", "A", ...) or an output run. */
  label: string;
  options: OptionSet;
  /** Forward passes in this step (warm-up included) and the timed ones the engine reports. */
  runs: number;
  timed: number;
  secondsPerRun: number;
}

/** `predict(options)`: seconds of one forward pass with these switches (measured rates or defaults). */
export function benchPlan(req: BenchRequest, predict: (options: OptionSet) => number): BenchStep[] {
  const warmup = req.warmup ?? 1;
  const steps: BenchStep[] = [];
  const add = (label: string, options: OptionSet, runs: number, timed: number) => steps.push({ label, options, runs, timed, secondsPerRun: predict(options) });
  if (req.kind === "ab") {
    add("A", req.a!.options, warmup + req.repeats, req.repeats);
    add("B", req.b!.options, warmup + req.repeats, req.repeats);
    if (req.keepOutputs && req.images.length) {
      add("output A", req.a!.options, 1, 0);
      add("output B", req.b!.options, 1, 0);
    }
  } else {
    const flags = normalizeSet({});
    add("baseline", { ...flags }, warmup + req.repeats, req.repeats);
    for (const name of CUMULATIVE_ORDER) {
      flags[name] = true;
      add(`+ ${name}`, { ...flags }, req.repeats, req.repeats);
    }
  }
  return steps;
}

export interface BenchEtaState {
  stage: string;
  fraction: number;
  etaSeconds: number | null;
}

export class BenchProgressTracker {
  private readonly total: number;
  /** Predicted seconds of the steps and runs already finished. */
  private doneSeconds = 0;
  private step = 0;
  private timedInStep = 0;
  private lastMarkAt = 0;
  private readonly steady = new SteadyEta();
  private fraction = 0;

  constructor(private readonly plan: BenchStep[]) {
    this.total = plan.reduce((a, s) => a + s.runs * s.secondsPerRun, 0);
  }

  get predictedSeconds(): number {
    return this.total;
  }

  /** One of the engine's "<row> run i/n: T ms" lines: a timed run (and the warm-up before it) ended. */
  onLine(line: string, elapsedSeconds: number): void {
    if (!/^\s*.+?\s+run \d+\/\d+: \d+(\.\d+)? ms\s*$/.test(line)) return;
    this.markRun(elapsedSeconds);
  }

  /** An output run (A/B point clouds) or the timed part of a step ended. */
  markRun(elapsedSeconds: number): void {
    const s = this.plan[this.step];
    if (!s) return;
    const warmups = s.runs - s.timed;
    // The first timed run's line also ends the step's warm-up runs.
    this.doneSeconds += (this.timedInStep === 0 ? warmups + 1 : 1) * s.secondsPerRun;
    this.timedInStep++;
    if (this.timedInStep >= Math.max(1, s.timed)) {
      this.step++;
      this.timedInStep = 0;
    }
    this.lastMarkAt = elapsedSeconds;
  }

  /** Where the benchmark stands now: the current run counts as far as its predicted time allows (≤ 95 %). */
  state(elapsedSeconds: number): BenchEtaState {
    const s = this.plan[this.step];
    let f = this.total > 0 ? this.doneSeconds / this.total : 0;
    if (s && this.total > 0) {
      const current = (this.timedInStep === 0 ? s.runs - s.timed + 1 : 1) * s.secondsPerRun;
      f += (Math.min(0.95, (elapsedSeconds - this.lastMarkAt) / Math.max(1e-9, current)) * current) / this.total;
    }
    this.fraction = Math.max(this.fraction, Math.min(s ? 0.99 : 1, f));
    const stage = s ? `${s.label}${s.timed > 1 ? ` run ${Math.min(s.timed, this.timedInStep + 1)}/${s.timed}` : ""}` : "finishing";
    return { stage, fraction: this.fraction, etaSeconds: this.steady.eta(this.fraction, elapsedSeconds, this.total) };
  }
}

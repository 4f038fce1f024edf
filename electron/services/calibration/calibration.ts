// The default option set per machine: `vggt-engine calibrate` measures the candidates' kernels on
// this CPU (a few seconds) and names the fastest inside the official bf16 accuracy bound; the
// result is cached per CPU model, ISA, engine version and threads in the app's data folder, so a
// machine is measured once (and again only when asked: "re-measure").
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { join } from "node:path";

import type { CalibratedCandidate, DefaultOptions } from "../../ipc/types.js";
import { presetById, PRESET_LABELS, UNCALIBRATED_PRESET, UNCALIBRATED_WHY, type PresetId } from "../../../common/option-catalog.js";

/** A preset's name as the UI shows it. */
export const presetLabel = (id: string): string => PRESET_LABELS[id as PresetId] ?? id;
import { runEngineProcess } from "../engine/engine-process.js";
import { JsonRecordStore } from "../records/json-record-store.js";

/** What a calibration is valid for: measured on another CPU, ISA, engine or thread count, it is not reused. */
export interface MachineKey {
  cpu: string;
  isa: string;
  engineVersion: string;
  threads: number;
}

/** The parts of `vggt-engine calibrate --json` (schema vggt-calibration/1) the app keeps. */
export interface Calibration extends MachineKey {
  measuredAt: string;
  seconds: number;
  loadavg: string;
  candidates: CalibratedCandidate[];
  chosen: { preset: string; speedupVsExact: number; reason: string };
}

const SCHEMA = "vggt-calibration/1";

function need<T>(ok: boolean, v: T, what: string, source: string): T {
  if (!ok) throw new Error(`${source}: ${what}`);
  return v;
}
const isPos = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
const isStr = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/** Checks the engine's calibration document; errors name `source` and the field. */
export function parseCalibration(doc: unknown, source: string, measuredAt = new Date().toISOString()): Calibration {
  const d = doc as Record<string, unknown>;
  need(!!d && typeof d === "object", 0, "not a JSON object", source);
  need(d.schema === SCHEMA, 0, `schema ${JSON.stringify(d.schema)}, expected ${SCHEMA}`, source);
  for (const k of ["cpu", "isa", "engine_version"]) need(isStr(d[k]), 0, `'${k}' is not a string`, source);
  need(Number.isInteger(d.threads) && (d.threads as number) > 0, 0, "'threads' is not a positive integer", source);
  need(Array.isArray(d.candidates), 0, "'candidates' is not a list", source);
  const candidates: CalibratedCandidate[] = [];
  (d.candidates as Record<string, unknown>[]).forEach((c, i) => {
    const at = `candidates[${i}]`;
    need(isStr(c?.preset) && c.preset in PRESET_LABELS, 0, `${at}.preset ${JSON.stringify(c?.preset)} is not a known preset`, source);
    // A candidate whose kernels cannot run on this machine (the engine says why) is not offered.
    if (c.available === false) return;
    for (const k of ["relative_time", "speedup_vs_exact"]) need(isPos(c[k]), 0, `${at}.${k} is not a positive number`, source);
    need(typeof c.inside_bound === "boolean", 0, `${at}.inside_bound is not true/false`, source);
    candidates.push({ preset: c.preset as string, relativeTime: c.relative_time as number, speedupVsExact: c.speedup_vs_exact as number, path: String(c.path ?? ""), insideBound: c.inside_bound as boolean });
  });
  const chosen = d.chosen as Record<string, unknown>;
  need(!!chosen && isStr(chosen.preset) && candidates.some((c) => c.preset === chosen.preset), 0, `chosen preset ${JSON.stringify(chosen?.preset)} is not one of the candidates that ran`, source);
  need(isPos(chosen.speedup_vs_exact) && isStr(chosen.reason), 0, "'chosen' lacks its speedup or reason", source);
  return {
    cpu: d.cpu as string,
    isa: d.isa as string,
    engineVersion: d.engine_version as string,
    threads: d.threads as number,
    measuredAt,
    seconds: isPos(d.seconds) ? d.seconds : 0,
    loadavg: typeof d.loadavg === "string" ? d.loadavg : "",
    candidates,
    chosen: { preset: chosen.preset as string, speedupVsExact: chosen.speedup_vs_exact as number, reason: chosen.reason as string },
  };
}

/** The cache record's id: a hash of the key (record ids become folder names). */
export function calibrationId(k: MachineKey): string {
  return createHash("sha256").update(JSON.stringify([k.cpu, k.isa, k.engineVersion, k.threads])).digest("hex").slice(0, 24);
}

interface CalibrationRecord extends Calibration {
  id: string;
  createdAt: string;
}

/** Calibrations on disk: <dataDir>/calibration/<id>/calibration.json, one per machine key. */
export class CalibrationCache {
  private readonly store: JsonRecordStore<CalibrationRecord, CalibrationRecord>;
  constructor(dataDir: string) {
    this.store = new JsonRecordStore({ dir: join(dataDir, "calibration"), what: "calibration", idPattern: /^[0-9a-f]{24}$/, fileName: "calibration.json", summary: (r) => r });
  }

  /** The cached calibration for this key; null when there is none or it is unreadable (then measured again). */
  get(k: MachineKey): Calibration | null {
    const id = calibrationId(k);
    try {
      const r = this.store.get(id);
      // The record must be for this very key (a hash collision or a hand-edited file is not reused).
      if (r.cpu !== k.cpu || r.isa !== k.isa || r.engineVersion !== k.engineVersion || r.threads !== k.threads) return null;
      return r;
    } catch {
      return null;
    }
  }

  /** The cached calibration in `dataDir` for this key, without creating any folder (help texts). */
  static lookup(dataDir: string, k: MachineKey): Calibration | null {
    return existsSync(join(dataDir, "calibration")) ? new CalibrationCache(dataDir).get(k) : null;
  }

  put(c: Calibration): void {
    const id = calibrationId(c);
    const record = { ...c, id, createdAt: c.measuredAt };
    let exists = true;
    try {
      this.store.get(id);
    } catch {
      exists = false;
    }
    if (exists) this.store.update(id, record);
    else this.store.create(record);
  }
}

/** The default a calibration chose, in the words the UI and the CLI show. */
export function defaultFromCalibration(c: Calibration): DefaultOptions {
  return {
    state: "ready",
    preset: c.chosen.preset,
    why: `${c.chosen.reason} (calibrated ${c.measuredAt.slice(0, 16).replace("T", " ")} UTC on ${c.cpu}, ${c.isa}, ${c.threads} thread${c.threads === 1 ? "" : "s"}).`,
    speedupVsExact: c.chosen.speedupVsExact,
    cpu: c.cpu,
    isa: c.isa,
    threads: c.threads,
    engineVersion: c.engineVersion,
    measuredAt: c.measuredAt,
    seconds: c.seconds,
    candidates: c.candidates,
  };
}

/** The default while there is no calibration: the exact set. */
export function uncalibratedDefault(state: "measuring" | "failed", error?: string): DefaultOptions {
  presetById(UNCALIBRATED_PRESET);
  return { state, preset: UNCALIBRATED_PRESET, why: state === "failed" ? `Calibration failed (${error}); new runs start from the exact set.` : UNCALIBRATED_WHY, speedupVsExact: null, ...(error ? { error } : {}) };
}

/** The engine threads the app runs with: the configured count, else every core (as the engine's default). */
export function effectiveThreads(threads: number | undefined): number {
  return threads && threads > 0 ? threads : availableParallelism();
}

function keyFromVersion(binary: string, stdout: string, threads: number | undefined): MachineKey {
  let v: { version?: unknown; cpu?: unknown; isa?: unknown };
  try {
    v = JSON.parse(stdout);
  } catch (e) {
    throw new Error(`${binary} version --json: not JSON (${(e as Error).message})`);
  }
  if (!isStr(v.version) || !isStr(v.cpu) || !isStr(v.isa)) throw new Error(`${binary} version --json: no version, cpu or isa (an engine older than calibration?)`);
  // The ISA summary names the kernel level first ("avx512 (hw: ...)"): the level is what the key needs.
  return { cpu: v.cpu, isa: v.isa.split(" ")[0], engineVersion: v.version, threads: effectiveThreads(threads) };
}

/** CPU, ISA and version as the engine reports them (`vggt-engine version --json`). */
export async function engineMachineKey(binary: string, threads: number | undefined): Promise<MachineKey> {
  const { stdout } = await runEngineProcess({ command: binary, args: ["version", "--json"] }, { timeoutMs: 30_000 });
  return keyFromVersion(binary, stdout, threads);
}

/** The same, synchronously (help texts): `version --json` answers in milliseconds. */
export function engineMachineKeySync(binary: string, threads: number | undefined): MachineKey {
  return keyFromVersion(binary, execFileSync(binary, ["version", "--json"], { encoding: "utf8", timeout: 30_000 }), threads);
}

/** Runs `vggt-engine calibrate --json` at the given threads. */
export async function runCalibrate(binary: string, threads: number, signal?: AbortSignal): Promise<Calibration> {
  const { stdout } = await runEngineProcess({ command: binary, args: ["calibrate", "--json", "--threads", String(threads)] }, { signal, timeoutMs: 300_000 });
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (e) {
    throw new Error(`${binary} calibrate --json: not JSON (${(e as Error).message})`);
  }
  return parseCalibration(doc, `${binary} calibrate --json`);
}

export interface DefaultChooserOptions {
  cache: CalibrationCache;
  /** The machine key (engine version, CPU, ISA, threads). */
  key: () => Promise<MachineKey>;
  /** Runs the calibration (the app passes it through its engine job queue). */
  calibrate: (threads: number) => Promise<Calibration>;
  /** Called whenever the default changes state. */
  onChange?: (d: DefaultOptions) => void;
}

/**
 * The app's default option set: the cached calibration of this machine key, or a calibration run
 * once (on first request) and cached; "re-measure" runs it again and replaces the cache.
 */
export class DefaultChooser {
  private current_: DefaultOptions = uncalibratedDefault("measuring");
  private pending: Promise<DefaultOptions> | null = null;
  private started = false;

  constructor(private readonly o: DefaultChooserOptions) {}

  /** The current default; the first call starts finding it (cache, else calibration). */
  get(): DefaultOptions {
    if (!this.started) void this.refresh(false);
    return this.current_;
  }

  /** The current default without starting anything. */
  current(): DefaultOptions {
    return this.current_;
  }

  /** Resolves once the default is known (cache read or calibration finished or failed). */
  settled(): Promise<DefaultOptions> {
    if (!this.started) return this.refresh(false);
    return this.pending ?? Promise.resolve(this.current_);
  }

  /** Measures again, whatever is cached. */
  remeasure(): Promise<DefaultOptions> {
    return this.refresh(true);
  }

  private set(d: DefaultOptions): DefaultOptions {
    this.current_ = d;
    this.o.onChange?.(d);
    return d;
  }

  private refresh(force: boolean): Promise<DefaultOptions> {
    this.started = true;
    if (this.pending) return this.pending;
    const work = (async () => {
      let key: MachineKey;
      try {
        key = await this.o.key();
      } catch (e) {
        return this.set(uncalibratedDefault("failed", (e as Error).message));
      }
      const cached = force ? null : this.o.cache.get(key);
      if (cached) return this.set(defaultFromCalibration(cached));
      // While measuring again, new runs keep the current choice; a first measurement starts exact.
      this.set(this.current_.state === "ready" ? { ...this.current_, state: "measuring" } : uncalibratedDefault("measuring"));
      try {
        const c = await this.o.calibrate(key.threads);
        // Cached under the key the app will look up next start (the engine's own figures kept inside).
        const stored = { ...c, cpu: key.cpu, isa: key.isa, engineVersion: key.engineVersion, threads: key.threads };
        try {
          this.o.cache.put(stored);
        } catch (e) {
          console.warn(`could not cache the calibration: ${(e as Error).message}`);
        }
        return this.set(defaultFromCalibration(stored));
      } catch (e) {
        return this.set(uncalibratedDefault("failed", (e as Error).message));
      }
    })();
    this.pending = work.finally(() => {
      this.pending = null;
    });
    return this.pending;
  }
}

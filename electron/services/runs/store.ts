// Runs and settings on disk. One folder per run: run.json (the RunDetail) and the engine's
// output.safetensors. Every write is atomic, so a crash never leaves a half-written record, and a
// run that was in flight when the app stopped is marked "interrupted" on the next start.
import type { StageRateTable } from "./stage-rates.js";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

import type { RunDetail, RunSummary } from "../../ipc/types.js";
import { JsonRecordStore, newRecordId } from "../records/json-record-store.js";
import { writeFileAtomic } from "../tensors/safetensors.js";

export interface Settings {
  modelDir?: string;
  /** Measured throughput (GFLOP/s) of the last completed run, per model kind. */
  throughput?: Record<string, { gflops: number; at: string; flags?: Record<string, boolean> }>;
  /** Per-stage rates measured on earlier runs and benchmarks (stage-rates.ts), per model and switches. */
  stageRates?: StageRateTable;
}

const RUN_ID_RE = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/;

export function newRunId(now = new Date()): string {
  return newRecordId("", now);
}

export function toSummary(d: RunDetail): RunSummary {
  const { images: _i, options: _o, stages: _s, ...summary } = d;
  return summary;
}

export class RunStore extends JsonRecordStore<RunDetail, RunSummary> {
  readonly runsDir: string;
  readonly uploadsDir: string;
  private readonly settingsPath: string;

  constructor(readonly dataDir: string) {
    super({ dir: join(dataDir, "runs"), what: "run", idPattern: RUN_ID_RE, fileName: "run.json", summary: toSummary, cache: true });
    this.runsDir = this.dir;
    this.uploadsDir = join(dataDir, "uploads");
    this.settingsPath = join(dataDir, "settings.json");
    mkdirSync(this.uploadsDir, { recursive: true });
    this.markInterrupted((r) => r.status === "running" || r.status === "queued", { status: "interrupted", error: "the app stopped while this run was in progress" });
  }

  runDir(id: string): string {
    return this.recordDir(id);
  }

  outputPath(id: string): string {
    return join(this.runDir(id), "output.safetensors");
  }

  newUploadDir(): { uploadId: string; dir: string } {
    const uploadId = randomBytes(8).toString("hex");
    const dir = join(this.uploadsDir, uploadId);
    mkdirSync(dir, { recursive: true });
    return { uploadId, dir };
  }

  uploadDir(uploadId: string): string {
    if (!/^[0-9a-f]{16}$/.test(uploadId)) throw new Error(`invalid upload id ${JSON.stringify(uploadId)}`);
    const dir = join(this.uploadsDir, uploadId);
    if (!existsSync(dir)) throw new Error(`upload ${uploadId} not found`);
    return dir;
  }

  readSettings(): Settings {
    try {
      return JSON.parse(readFileSync(this.settingsPath, "utf8"));
    } catch {
      return {};
    }
  }

  writeSettings(patch: Partial<Settings>): Settings {
    const next = { ...this.readSettings(), ...patch };
    writeFileAtomic(this.settingsPath, JSON.stringify(next, null, 1));
    return next;
  }
}

// Runs and settings on disk. One folder per run: run.json (the RunDetail) and the engine's
// output.safetensors. Every write is atomic, so a crash never leaves a half-written record, and a
// run that was in flight when the app stopped is marked "interrupted" on the next start.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

import type { RunDetail, RunSummary } from "../../ipc/types.js";
import { listNewestFirst, readJsonRecord } from "./json-records.js";
import { writeFileAtomic } from "../tensors/safetensors.js";

export interface Settings {
  modelDir?: string;
  /** Measured throughput (GFLOP/s) of the last completed run, per model kind. */
  throughput?: Record<string, { gflops: number; at: string; flags?: Record<string, boolean> }>;
}

const RUN_ID_RE = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/;

export function newRunId(now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export function toSummary(d: RunDetail): RunSummary {
  const { images: _i, options: _o, stages: _s, ...summary } = d;
  return summary;
}

export class RunStore {
  readonly runsDir: string;
  readonly uploadsDir: string;
  private readonly settingsPath: string;
  private readonly cache = new Map<string, RunDetail>();

  constructor(readonly dataDir: string) {
    this.runsDir = join(dataDir, "runs");
    this.uploadsDir = join(dataDir, "uploads");
    this.settingsPath = join(dataDir, "settings.json");
    mkdirSync(this.runsDir, { recursive: true });
    mkdirSync(this.uploadsDir, { recursive: true });
    for (const r of this.list()) {
      if (r.status === "running" || r.status === "queued")
        this.update(r.id, { status: "interrupted", error: "the app stopped while this run was in progress" });
    }
  }

  private checkId(id: string): void {
    if (!RUN_ID_RE.test(id)) throw new Error(`invalid run id ${JSON.stringify(id)}`);
  }

  runDir(id: string): string {
    this.checkId(id);
    return join(this.runsDir, id);
  }

  outputPath(id: string): string {
    return join(this.runDir(id), "output.safetensors");
  }

  create(detail: RunDetail): RunDetail {
    const dir = this.runDir(detail.id);
    mkdirSync(dir, { recursive: true });
    this.write(detail);
    return detail;
  }

  private write(detail: RunDetail): void {
    writeFileAtomic(join(this.runDir(detail.id), "run.json"), JSON.stringify(detail, null, 1));
    this.cache.set(detail.id, detail);
  }

  get(id: string): RunDetail {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const detail = readJsonRecord<RunDetail>(join(this.runDir(id), "run.json"), `run ${id}`);
    this.cache.set(id, detail);
    return detail;
  }

  update(id: string, patch: Partial<RunDetail>): RunDetail {
    const next = { ...this.get(id), ...patch, id };
    this.write(next);
    return next;
  }

  /** Newest first. Unreadable records are skipped (and left on disk untouched). */
  list(): RunSummary[] {
    return listNewestFirst(this.runsDir, RUN_ID_RE, (id) => toSummary(this.get(id)));
  }

  delete(id: string): void {
    const dir = this.runDir(id);
    this.cache.delete(id);
    rmSync(dir, { recursive: true, force: true });
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

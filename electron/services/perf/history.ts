// Benchmarks on disk: one folder per benchmark under <dataDir>/benchmarks/<id>/, holding
// benchmark.json (the BenchRecord: request, machine, engine version, options, the engine's JSON)
// and, for A/B runs that kept them, the A/B output files. Writes are atomic (temp + rename), a
// corrupt record is skipped by list() and left untouched, and a benchmark that was running when
// the app stopped is marked "interrupted" on the next start.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

import type { BenchRecord, BenchSummary } from "../../ipc/perf-types.js";
import { listNewestFirst, readJsonRecord } from "../runs/json-records.js";
import { writeFileAtomic } from "../tensors/safetensors.js";

const BENCH_ID_RE = /^b[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/;
export const RECORD_FILE = "benchmark.json";

export function newBenchId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `b${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}-${randomBytes(3).toString("hex")}`;
}

export function toBenchSummary(r: BenchRecord): BenchSummary {
  const { request: _r, command: _c, result: _j, outputs: _o, log: _l, ...summary } = r;
  return summary;
}

export class BenchHistory {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, "benchmarks");
    mkdirSync(this.dir, { recursive: true });
    for (const s of this.list())
      if (s.status === "running") this.update(s.id, { status: "interrupted", error: "the app stopped while this benchmark was running" });
  }

  benchDir(id: string): string {
    if (!BENCH_ID_RE.test(id)) throw new Error(`invalid benchmark id ${JSON.stringify(id)}`);
    return join(this.dir, id);
  }

  recordPath(id: string): string {
    return join(this.benchDir(id), RECORD_FILE);
  }

  create(record: BenchRecord): BenchRecord {
    mkdirSync(this.benchDir(record.id), { recursive: true });
    this.write(record);
    return record;
  }

  private write(record: BenchRecord): void {
    writeFileAtomic(this.recordPath(record.id), JSON.stringify(record, null, 1));
  }

  get(id: string): BenchRecord {
    const file = this.recordPath(id);
    const rec = readJsonRecord<BenchRecord>(file, `benchmark ${id}`);
    if (!rec || typeof rec !== "object" || rec.id !== id) throw new Error(`benchmark ${id}: ${file} is not a benchmark record of this id`);
    return rec;
  }

  update(id: string, patch: Partial<BenchRecord>): BenchRecord {
    const next = { ...this.get(id), ...patch, id };
    this.write(next);
    return next;
  }

  /** Newest first; unreadable records are skipped so one bad file never hides the others. */
  list(): BenchSummary[] {
    return listNewestFirst(this.dir, BENCH_ID_RE, (id) => toBenchSummary(this.get(id)));
  }

  delete(id: string): void {
    rmSync(this.benchDir(id), { recursive: true, force: true });
  }
}

// Benchmarks on disk: one folder per benchmark under <dataDir>/benchmarks/<id>/, holding
// benchmark.json (the BenchRecord: request, machine, engine version, options, the engine's JSON)
// and, for A/B runs that kept them, the A/B output files. Writes are atomic (temp + rename), a
// corrupt record is skipped by list() and left untouched, and a benchmark that was running when
// the app stopped is marked "interrupted" on the next start.
import { existsSync } from "node:fs";
import { join } from "node:path";

import type { BenchRecord, BenchSummary } from "../../ipc/perf-types.js";
import { JsonRecordStore, newRecordId } from "../records/json-record-store.js";

const BENCH_ID_RE = /^b[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/;
export const RECORD_FILE = "benchmark.json";

export function newBenchId(now = new Date()): string {
  return newRecordId("b", now);
}

export function toBenchSummary(r: BenchRecord): BenchSummary {
  const { request: _r, command: _c, result: _j, outputs: _o, log: _l, ...summary } = r;
  return summary;
}

export class BenchHistory extends JsonRecordStore<BenchRecord, BenchSummary> {
  constructor(dataDir: string) {
    super({ dir: join(dataDir, "benchmarks"), what: "benchmark", idPattern: BENCH_ID_RE, fileName: RECORD_FILE, summary: toBenchSummary });
    this.markInterrupted((s) => s.status === "running", { status: "interrupted", error: "the app stopped while this benchmark was running" });
  }

  /** The benchmark's folder: its record and the A/B outputs it kept. */
  benchDir(id: string): string {
    return this.recordDir(id);
  }
}

/**
 * Finished single-process benchmarks in `dataDir`, newest first, read only (nothing is marked or
 * written): for readers that do not own the history, such as the run planner and the CLI.
 */
export function readFinishedBenchmarks(dataDir: string, limit: number): BenchRecord[] {
  const dir = join(dataDir, "benchmarks");
  if (!existsSync(dir)) return [];
  const store = new JsonRecordStore<BenchRecord, BenchSummary>({ dir, what: "benchmark", idPattern: BENCH_ID_RE, fileName: RECORD_FILE, summary: toBenchSummary });
  const out: BenchRecord[] = [];
  for (const s of store.list()) {
    if (out.length >= limit) break;
    if (s.status !== "done" || s.parallel?.mode !== "none") continue;
    try {
      const r = store.get(s.id);
      if (r.result) out.push(r);
    } catch {
      // changed or removed since it was listed
    }
  }
  return out;
}

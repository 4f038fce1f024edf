import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { BenchRecord } from "../../ipc/perf-types.js";
import { presetSet } from "../../../common/option-catalog.js";
import { BenchHistory, newBenchId, RECORD_FILE } from "./history.js";
import { abFixture } from "../../../common/bench-fixtures.js";

const root = mkdtempSync(join(tmpdir(), "vggt-bench-history-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function record(id: string, createdAt: string, status: BenchRecord["status"] = "done"): BenchRecord {
  const result = abFixture();
  return {
    id,
    createdAt,
    label: "A/B",
    kind: "ab",
    status,
    engineVersion: result.engine_version,
    machine: { cpu: result.machine.cpu, cores: 2, memoryBytes: result.machine.memory_bytes, hostname: "h", platform: "linux", arch: "x64" },
    model: "tiny",
    frames: 2,
    repeats: 3,
    threads: 2,
    parallel: { mode: "none", degree: 1 },
    request: { kind: "ab", a: { label: "Reference (fp32)", options: presetSet("reference") }, b: { label: "Fastest exact", options: presetSet("fastest-exact") }, images: [], frames: 2, repeats: 3, threads: 2, randomWeights: false, parallel: { mode: "none", degree: 1 } },
    command: ["vggt-engine", "bench", "--json"],
    result: status === "done" ? result : undefined,
  };
}

describe("benchmark history", () => {
  it("keeps one JSON file per benchmark with machine, engine version and options, newest first", () => {
    const dir = mkdtempSync(join(root, "data-"));
    const h = new BenchHistory(dir);
    const older = newBenchId(new Date(2026, 0, 1, 10, 0, 0));
    const newer = newBenchId(new Date(2026, 0, 2, 10, 0, 0));
    h.create(record(older, "2026-01-01T10:00:00.000Z"));
    h.create(record(newer, "2026-01-02T10:00:00.000Z"));
    expect(h.list().map((s) => s.id)).toEqual([newer, older]);
    const onDisk = JSON.parse(readFileSync(join(dir, "benchmarks", older, RECORD_FILE), "utf8"));
    expect(onDisk.engineVersion).toBe("0.1.0");
    expect(onDisk.machine.cpu).toBe("Test CPU @ 2.0GHz");
    expect(onDisk.request.b.options["flash-attn"]).toBe(true);
    expect(onDisk.result.rows[1].median_ms).toBe(800);
    // A later session (a new store on the same folder) sees the same history.
    const again = new BenchHistory(dir);
    expect(again.get(older).result?.ratio?.max).toBeCloseTo(990 / 790, 12);
    // Summaries leave the bulky parts out.
    expect("result" in again.list()[0]).toBe(false);
  });

  it("writes atomically: no temp files are left and a failed write keeps the old record", () => {
    const dir = mkdtempSync(join(root, "data-"));
    const h = new BenchHistory(dir);
    const id = newBenchId();
    h.create(record(id, new Date().toISOString(), "running"));
    h.update(id, { status: "failed", error: "engine exited with code 1" });
    expect(readdirSync(join(dir, "benchmarks", id))).toEqual([RECORD_FILE]);
    // A value JSON cannot hold makes the write throw before anything is replaced.
    const cyclic: any = {};
    cyclic.self = cyclic;
    expect(() => h.update(id, { log: cyclic })).toThrow();
    expect(h.get(id).error).toBe("engine exited with code 1");
  });

  it("skips corrupt records without hiding the others, and marks interrupted runs on restart", () => {
    const dir = mkdtempSync(join(root, "data-"));
    const h = new BenchHistory(dir);
    const good = newBenchId();
    const bad = newBenchId();
    const running = newBenchId();
    h.create(record(good, "2026-01-01T00:00:00.000Z"));
    h.create(record(bad, "2026-01-01T00:00:01.000Z"));
    h.create(record(running, "2026-01-01T00:00:02.000Z", "running"));
    writeFileSync(join(dir, "benchmarks", bad, RECORD_FILE), "{ truncated");
    const h2 = new BenchHistory(dir);
    expect(h2.list().map((s) => s.id).sort()).toEqual([good, running].sort());
    expect(() => h2.get(bad)).toThrow(new RegExp(`benchmark ${bad}: corrupt record .*benchmark\\.json`));
    expect(h2.get(running).status).toBe("interrupted");
    expect(readFileSync(join(dir, "benchmarks", bad, RECORD_FILE), "utf8")).toBe("{ truncated");
  });

  it("refuses ids that could escape the folder", () => {
    const h = new BenchHistory(mkdtempSync(join(root, "data-")));
    expect(() => h.get("../../etc")).toThrow(/invalid benchmark id/);
    expect(() => h.delete("b1/..")).toThrow(/invalid benchmark id/);
  });
});

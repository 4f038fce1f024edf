// The app's plan before a run: the Workbench's estimate uses the perf lab's benchmark rates and the
// machine's (here: a test's) memory, and offers the settings that fit.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { BenchRecord } from "../../ipc/perf-types.js";

import { newBenchId } from "../perf/index.js";
import { presetSet } from "../../../common/option-catalog.js";
import { cumulativeFixture } from "../../../common/bench-fixtures.js";
import { memoryLimitFromEnv } from "./app-services.js";
import { processPeakBytes, runFlops, VGGT_1B_DIMS, VGGT_1B_PARAMS } from "./estimate.js";
import { Workbench } from "./workbench.js";
import { idleEngine } from "../testing/idle-engine.js";

const root = mkdtempSync(join(tmpdir(), "vggt-wb-plan-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));


const workbench = (hostMemoryBytes: number) => new Workbench({ mode: "web", dataDir: mkdtempSync(join(root, "d-")), engine: idleEngine, hostMemoryBytes });
const frames = (n: number) => Array.from({ length: n }, () => ({ width: 518, height: 350 }));

describe("Workbench.estimate plans with this machine's rates and memory", () => {
  it("uses the newest benchmark's rate for the chosen switches", () => {
    const wb = workbench(64 * 2 ** 30);
    const json = cumulativeFixture();
    const at = new Date().toISOString();
    wb.perf.history.create({ id: newBenchId(), createdAt: at, label: "t", kind: "cumulative", status: "done", engineVersion: "x", machine: {} as never, model: "random", frames: json.frames, repeats: 1, threads: 2, parallel: { mode: "none", degree: 1 }, request: {} as never, command: [], result: json } as BenchRecord);
    const e = wb.estimate({ sizes: frames(4), preprocess: "crop", randomWeights: true, engineOptions: presetSet("all") });
    expect(e.basis).toMatch(/^measured: benchmark of /);
    // `all` has w8a8 off: the best-matching row is the last one without int8.
    const row = [...json.rows].reverse().find((r) => !r.options.w8a8 && r.options.bf16)!;
    const gflops = runFlops(VGGT_1B_DIMS, json.frames, json.width, json.height) / 1e9 / (row.median_ms / 1000);
    expect(e.seconds).toBeCloseTo(runFlops(VGGT_1B_DIMS, 4, 518, 350) / (gflops * 1e9), 3);
    expect(e.suggestion).toBeNull();
  });

  it("a selection over the memory limit warns and suggests settings whose peak fits", () => {
    const limit = 12 * 2 ** 30;
    const wb = workbench(limit);
    const e = wb.estimate({ sizes: frames(250), preprocess: "crop", randomWeights: true });
    expect(e.fitsMemory).toBe(false);
    expect(e.memoryLimitBytes).toBe(0.8 * limit);
    expect(e.warnings[0]).toMatch(/more than 80% of this machine's 12\.0 GiB/);
    expect(e.suggestion!.flags.w8a8).toBe(true);
    expect(e.suggestion!.chunk!.size).toBeGreaterThan(4);
    expect(e.suggestion!.peakBytes).toBeLessThanOrEqual(0.8 * limit);
    // Applying it (what the button does) gives a plan that fits.
    const after = wb.estimate({ sizes: frames(250), preprocess: "crop", randomWeights: true, engineOptions: { bf16: true, prepack: true, "flash-attn": true, ...e.suggestion!.flags }, chunk: e.suggestion!.chunk });
    expect(after.fitsMemory).toBe(true);
    expect(after.passes).toBe(e.suggestion!.passes);
    expect(after.peakBytes).toBe(processPeakBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true, prepack: true, w8a8: true }, e.suggestion!.chunk!.size, 518, 350));
  });

  it("$VGGT_MEMORY_LIMIT_BYTES is read strictly", () => {
    expect(memoryLimitFromEnv({})).toBeUndefined();
    expect(memoryLimitFromEnv({ VGGT_MEMORY_LIMIT_BYTES: "1073741824" })).toBe(2 ** 30);
    expect(() => memoryLimitFromEnv({ VGGT_MEMORY_LIMIT_BYTES: "1G" })).toThrow(/positive whole number/);
  });
});

import { describe, expect, it } from "vitest";

import type { BenchJson } from "../../ipc/perf-types.js";
import { framesThatFit, processPeakBytes, runFlops, VGGT_1B_DIMS, VGGT_1B_PARAMS } from "./estimate.js";
import { chunkCount, globalAttentionKeys, largestChunk, passFlops, pickRate, planFigures, planRun, ratesFromBench, type PlanContext, type PlanInput } from "./plan.js";

const ALL = { bf16: true, prepack: true, "flash-attn": true, w8a8: false };
const GiB = 2 ** 30;
const rates = [
  { gflops: 100, flags: ALL, at: "2026-01-01T00:00", source: "bench all" },
  { gflops: 150, flags: { ...ALL, w8a8: true }, at: "2026-01-01T00:00", source: "bench int8" },
];
const ctx = (totalGiB: number): PlanContext => ({ dims: VGGT_1B_DIMS, params: VGGT_1B_PARAMS, rates, totalMemoryBytes: totalGiB * GiB });
const input = (frames: number, extra: Partial<PlanInput> = {}): PlanInput => ({ frames, width: 518, height: 350, preprocess: "crop", flags: ALL, ...extra });
const peak = (frames: number, w8a8 = false) => processPeakBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true, prepack: true, w8a8 }, frames, 518, 350);

describe("rates measured on this machine", () => {
  it("turn a benchmark's rows into GFLOP/s by the estimate's FLOP count, skipping lossy many-frame rows", () => {
    const json = {
      frames: 2, width: 518, height: 350,
      rows: [
        { name: "all", options: ALL, median_ms: 10_000 },
        { name: "sparse", options: { ...ALL, "global-kv-subsample": true }, median_ms: 5_000 },
      ],
    } as unknown as BenchJson;
    const r = ratesFromBench(json, "2026-02-03T04:05:06Z", VGGT_1B_DIMS);
    expect(r).toHaveLength(1);
    expect(r[0].gflops).toBeCloseTo(runFlops(VGGT_1B_DIMS, 2, 518, 350) / 1e9 / 10, 6);
  });

  it("are picked by the switches that matter for speed (int8 first), a default when none", () => {
    expect(pickRate(rates, ALL).gflops).toBe(100);
    expect(pickRate(rates, { ...ALL, w8a8: true }).gflops).toBe(150);
    expect(pickRate([], ALL).basis).toMatch(/default throughput/);
  });
});

describe("the plan of a run", () => {
  it("time = FLOPs / measured rate, peak memory = one pass's engine peak", () => {
    const f = planFigures(input(10), ctx(64));
    expect(f.seconds).toBeCloseTo(runFlops(VGGT_1B_DIMS, 10, 518, 350) / 100e9, 6);
    expect(f.peakBytes).toBe(peak(10));
    expect([f.passes, f.framesPerPass]).toEqual([1, 10]);
  });

  it("counts chunked passes (chunks of K sharing O frames) and keeps one chunk's memory", () => {
    expect(chunkCount(100, { size: 25, overlap: 5 })).toBe(5); // 25 + 4 x 20 = 105 >= 100
    expect(chunkCount(25, { size: 25, overlap: 5 })).toBe(1);
    expect(chunkCount(26, { size: 25, overlap: 5 })).toBe(2);
    const f = planFigures(input(100, { chunk: { size: 25, overlap: 5 } }), ctx(64));
    expect([f.passes, f.framesPerPass, f.peakBytes]).toEqual([5, 25, peak(25)]);
    // 4 full passes + a last one of 100 - 4 x 20 = 20 frames.
    expect(f.seconds).toBeCloseTo((4 * runFlops(VGGT_1B_DIMS, 25, 518, 350) + runFlops(VGGT_1B_DIMS, 20, 518, 350)) / 100e9, 6);
  });

  it("the many-frame toggles cut global attention's keys, not the dense case", () => {
    const P = 930;
    expect(globalAttentionKeys({}, 24, 100, P)).toBe(100 * P);
    const sparse = globalAttentionKeys({ "global-early-frame": true, "global-kv-subsample": true, "global-block-sparse": true }, 24, 100, P);
    expect(sparse / (100 * P)).toBeCloseTo((8 * P + 14 * (P + 99 * (P / 16 + 1)) + 2 * 0.25 * 100 * P) / 24 / (100 * P), 9);
    expect(passFlops(VGGT_1B_DIMS, {}, 10, 518, 350)).toBeCloseTo(runFlops(VGGT_1B_DIMS, 10, 518, 350), -3);
  });

  it("fits: no warning, no suggestion", () => {
    const p = planRun(input(2), ctx(64));
    expect([p.fitsMemory, p.fitsTime, p.warnings, p.suggestion]).toEqual([true, true, [], null]);
  });

  it("over the memory limit: warns, and suggests int8 alone when that is enough", () => {
    // Without bf16 (packed fp32 Linears): int8 weights with their residual (2 bytes, estimate.ts)
    // save memory there; next to bf16 they hold as many bytes, and chunking is what helps.
    const PACKED = { prepack: true, "flash-attn": true, w8a8: false };
    const pk = (frames: number, w8a8 = false) => processPeakBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { prepack: true, w8a8 }, frames, 518, 350);
    expect(peak(8, true)).toBe(peak(8));
    // A limit between the int8 and the packed-fp32 peak of 8 frames.
    const total = ((pk(8) + pk(8, true)) / 2) / 0.8;
    const p = planRun(input(8, { flags: PACKED }), { ...ctx(0), totalMemoryBytes: total });
    expect(p.fitsMemory).toBe(false);
    expect(p.warnings[0]).toMatch(/needs about .* GiB of memory, more than 80% of this machine's/);
    expect(p.suggestion).toMatchObject({ flags: { w8a8: true }, summary: "int8 weights (w8a8)" });
    expect(p.suggestion!.chunk).toBeUndefined();
    expect(p.suggestion!.figures.peakBytes).toBe(pk(8, true));
    expect(p.suggestion!.figures.peakBytes).toBeLessThanOrEqual(0.8 * total);
  });

  it("far over the limit: int8 and the largest chunk that fits", () => {
    const total = 12 * GiB;
    const p = planRun(input(200), ctx(12));
    const c = p.suggestion!.chunk!;
    expect(p.suggestion!.flags.w8a8).toBe(true);
    expect(peak(c.size, true)).toBeLessThanOrEqual(0.8 * total);
    expect(peak(c.size + 1, true)).toBeGreaterThan(0.8 * total);
    expect(c.overlap).toBe(Math.max(2, Math.round(c.size / 5)));
    expect(p.suggestion!.figures.peakBytes).toBeLessThanOrEqual(0.8 * total);
    expect(p.suggestion!.summary).toMatch(new RegExp(`chunks of ${c.size} frames overlapping by ${c.overlap}`));
    expect(largestChunk(input(200), ctx(12), { ...ALL, w8a8: true }, 0.8 * total)).toEqual(c);
  });

  it("too long: suggests the many-frame toggles, and they shorten the plan", () => {
    const slow = { ...ctx(512), rates: [{ ...rates[0], gflops: 5 }, { ...rates[1], gflops: 5 }] };
    const p = planRun(input(60), slow);
    expect(p.fitsTime).toBe(false);
    expect(p.suggestion!.flags).toMatchObject({ "global-early-frame": true, "global-kv-subsample": true, "global-block-sparse": true });
    expect(p.suggestion!.figures.seconds).toBeLessThan(p.seconds * 0.7);
  });

  it("warns when the run fits the machine but not what is free now", () => {
    const p = planRun(input(2), { ...ctx(64), freeMemoryBytes: peak(2) / 2 });
    expect(p.warnings[0]).toMatch(/free now/);
    expect(p.suggestion).toBeNull();
  });
});

describe("framesThatFit (the default frame count of a video)", () => {
  const fit = (gib: number, gflops = 1e6, cap = 1000) =>
    framesThatFit({ dims: VGGT_1B_DIMS, params: VGGT_1B_PARAMS, flags: { bf16: true, prepack: true }, width: 1920, height: 1080, preprocess: "crop", hostMemoryBytes: gib * GiB, throughput: { gflops, basis: "t" }, cap });
  it("is the largest count within 80% of memory", () => {
    const n = fit(16);
    const pk = (k: number) => processPeakBytes(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true, prepack: true }, k, 518, 294);
    expect(pk(n)).toBeLessThanOrEqual(0.8 * 16 * GiB);
    expect(pk(n + 1)).toBeGreaterThan(0.8 * 16 * GiB);
  });
  it("respects the time budget, the cap, and never goes below 2", () => {
    expect(fit(64, 40)).toBeLessThan(fit(64));
    expect(fit(64, 1e6, 12)).toBe(12);
    expect(fit(1)).toBe(2);
  });
});

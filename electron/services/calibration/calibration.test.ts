// The per-machine default: the engine's calibration document checked, cached per machine key,
// measured once, re-measured on request, and turned into the default the app and the CLI use.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import type { DefaultOptions } from "../../ipc/types.js";
import { findEngineBinary } from "../engine/engine-launch.js";
import { CalibrationCache, calibrationId, DefaultChooser, engineMachineKey, engineMachineKeySync, parseCalibration, type Calibration, type MachineKey } from "./calibration.js";

const KEY: MachineKey = { cpu: "Intel(R) Xeon(R) Processor", isa: "avx512", engineVersion: "0.1.0", threads: 2 };

function chosenSeconds(seconds: { exact: number; all: number; int8: number; int8f32?: number }, chosen: string): number {
  const by: Record<string, number | undefined> = { all: seconds.all, "fastest-int8": seconds.int8, "int8-fp32": seconds.int8f32 };
  return by[chosen] ?? seconds.exact;
}

/** A calibration document as `vggt-engine calibrate --json` prints it (predicted seconds per frame). */
function doc(seconds: { exact: number; all: number; int8: number; int8f32?: number }, chosen: string, reason: string, over: Record<string, unknown> = {}) {
  const cand = (preset: string, path: string, s: number) => ({
    preset,
    path,
    predicted_seconds_per_frame: s,
    relative_time: s / seconds.exact,
    speedup_vs_exact: seconds.exact / s,
    inside_bound: true,
  });
  return {
    schema: "vggt-calibration/1",
    engine_version: KEY.engineVersion,
    cpu: KEY.cpu,
    isa: KEY.isa,
    threads: KEY.threads,
    seconds: 3.2,
    loadavg: "0.5 0.5 0.5 1/100 1",
    candidates: [
      cand("all", "bf16", seconds.all),
      cand("fastest-exact", "fp32", seconds.exact),
      cand("fastest-int8", "int8", seconds.int8),
      ...(seconds.int8f32 === undefined ? [] : [cand("int8-fp32", "int8+fp32", seconds.int8f32)]),
    ],
    chosen: { preset: chosen, speedup_vs_exact: seconds.exact / chosenSeconds(seconds, chosen), reason },
    ...over,
  };
}
// This Intel Xeon without AMX, as the 2-frame runs measured it: exact 21.2 s, `all` 29.2 s, int8 13.6 s.
const INTEL = doc({ exact: 10.6, all: 14.6, int8: 6.8 }, "fastest-int8", "fastest inside the official bf16 accuracy bound on this CPU: fastest-int8 is 1.56x faster than exact here");

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "vggt-calib-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("calibration document", () => {
  it("keeps the candidates, the choice and the machine it was measured on", () => {
    const c = parseCalibration(INTEL, "calibrate", "2026-11-30T09:00:00.000Z");
    expect(c.cpu).toBe(KEY.cpu);
    expect(c.threads).toBe(2);
    expect(c.candidates.map((x) => [x.preset, x.path])).toEqual([["all", "bf16"], ["fastest-exact", "fp32"], ["fastest-int8", "int8"]]);
    expect(c.candidates[0].relativeTime).toBeCloseTo(14.6 / 10.6, 12);
    expect(c.chosen.preset).toBe("fastest-int8");
    expect(c.chosen.speedupVsExact).toBeCloseTo(10.6 / 6.8, 12);
  });

  it("refuses a document it cannot trust, naming the source and the field", () => {
    expect(() => parseCalibration({ ...INTEL, schema: "other/2" }, "E calibrate")).toThrow(/^E calibrate: schema "other\/2", expected vggt-calibration\/1$/);
    expect(() => parseCalibration({ ...INTEL, threads: 0 }, "E")).toThrow(/'threads' is not a positive integer/);
    const bad = structuredClone(INTEL);
    bad.candidates[1].relative_time = -1;
    expect(() => parseCalibration(bad, "E")).toThrow(/candidates\[1\]\.relative_time is not a positive number/);
    const unknown = structuredClone(INTEL);
    unknown.candidates[0].preset = "turbo";
    expect(() => parseCalibration(unknown, "E")).toThrow(/candidates\[0\]\.preset "turbo" is not a known preset/);
    expect(() => parseCalibration({ ...INTEL, chosen: { ...INTEL.chosen, preset: "reference" } }, "E")).toThrow(/chosen preset "reference" is not one of the candidates that ran/);
    expect(() => parseCalibration(null, "E")).toThrow(/not a JSON object/);
  });

  it("leaves out a candidate whose kernels cannot run on this machine", () => {
    const d = structuredClone(INTEL) as Record<string, unknown> & { candidates: Record<string, unknown>[] };
    d.candidates[0] = { preset: "all", path: "bf16", available: false, error: "head_conv: could not create a primitive descriptor iterator" };
    expect(parseCalibration(d, "E").candidates.map((c) => c.preset)).toEqual(["fastest-exact", "fastest-int8"]);
    d.chosen = { ...INTEL.chosen, preset: "all" };
    expect(() => parseCalibration(d, "E")).toThrow(/chosen preset "all" is not one of the candidates that ran/);
  });
});

describe("calibration cache", () => {
  it("keeps one calibration per CPU, ISA, engine version and threads", () => {
    const cache = new CalibrationCache(tmp());
    const c = parseCalibration(INTEL, "calibrate");
    expect(cache.get(KEY)).toBeNull();
    cache.put(c);
    expect(cache.get(KEY)).toMatchObject({ chosen: c.chosen, measuredAt: c.measuredAt });
    for (const other of [{ ...KEY, threads: 4 }, { ...KEY, cpu: "AMD EPYC 9R14" }, { ...KEY, isa: "avx2" }, { ...KEY, engineVersion: "0.2.0" }]) expect(cache.get(other)).toBeNull();
    expect(calibrationId(KEY)).not.toBe(calibrationId({ ...KEY, threads: 4 }));
  });

  it("replaces a calibration of the same key, and treats an unreadable record as none", () => {
    const data = tmp();
    const cache = new CalibrationCache(data);
    cache.put(parseCalibration(INTEL, "a", "2026-11-30T09:00:00.000Z"));
    cache.put(parseCalibration(INTEL, "b", "2026-11-30T10:00:00.000Z"));
    expect(readdirSync(join(data, "calibration"))).toEqual([calibrationId(KEY)]);
    expect(cache.get(KEY)?.measuredAt).toBe("2026-11-30T10:00:00.000Z");
    writeFileSync(join(data, "calibration", calibrationId(KEY), "calibration.json"), "{ torn");
    expect(new CalibrationCache(data).get(KEY)).toBeNull();
  });
});

/** A chooser over a cache in `data` whose calibration returns `result` (counting calls). */
function chooser(data: string, result: () => Promise<Calibration>, key: () => Promise<MachineKey> = async () => KEY) {
  const calls = { calibrate: 0, changes: [] as DefaultOptions[] };
  const c = new DefaultChooser({
    cache: new CalibrationCache(data),
    key,
    calibrate: async (threads) => {
      expect(threads).toBe(KEY.threads);
      calls.calibrate++;
      return result();
    },
    onChange: (d) => calls.changes.push(d),
  });
  return { c, calls };
}

describe("the default per machine", () => {
  it("calibrates a fresh machine once, starting exact, then uses and explains the choice", async () => {
    const data = tmp();
    const { c, calls } = chooser(data, async () => parseCalibration(INTEL, "calibrate", "2026-11-30T09:05:00.000Z"));
    const first = c.get();
    expect(first).toMatchObject({ state: "measuring", preset: "fastest-exact", speedupVsExact: null });
    const d = await c.settled();
    expect(calls.calibrate).toBe(1);
    expect(d.state).toBe("ready");
    expect(d.preset).toBe("fastest-int8");
    expect(d.speedupVsExact).toBeCloseTo(1.5588, 3);
    expect(d.why).toBe("fastest inside the official bf16 accuracy bound on this CPU: fastest-int8 is 1.56x faster than exact here (calibrated 2026-11-30 09:05 UTC on Intel(R) Xeon(R) Processor, avx512, 2 threads).");
    expect(calls.changes.map((x) => x.state)).toEqual(["measuring", "ready"]);
    expect(c.get()).toBe(d);

    // The next start on the same machine reads the cache: no calibration.
    const again = chooser(data, async () => {
      throw new Error("must not calibrate again");
    });
    expect((await again.c.settled()).preset).toBe("fastest-int8");
    expect(again.calls.calibrate).toBe(0);
  });

  it("re-measures on request and replaces the cached choice", async () => {
    const data = tmp();
    let doc_ = INTEL;
    const { c, calls } = chooser(data, async () => parseCalibration(doc_, "calibrate"));
    expect((await c.settled()).preset).toBe("fastest-int8");
    // The same machine measured under other conditions: nothing beats exact now.
    doc_ = doc({ exact: 10, all: 14, int8: 11 }, "fastest-exact", "no set inside the official bf16 accuracy bound is at least 1.05x faster than the exact one on this CPU, so the default is exact");
    const d = await c.remeasure();
    // While it measured, the earlier choice stayed the default.
    expect(calls.changes.slice(-2).map((x) => [x.state, x.preset])).toEqual([["measuring", "fastest-int8"], ["ready", "fastest-exact"]]);
    expect(calls.calibrate).toBe(2);
    expect(d.preset).toBe("fastest-exact");
    expect(d.speedupVsExact).toBe(1);
    expect(new CalibrationCache(data).get(KEY)?.chosen.preset).toBe("fastest-exact");
  });

  it("a Zen 4-like result (bf16 fast, int8 faster) is taken as the engine chose it", async () => {
    const zen4 = doc({ exact: 13.85, all: 6.55, int8: 4.65 }, "fastest-int8", "fastest inside the official bf16 accuracy bound on this CPU: fastest-int8 is 2.98x faster than exact here");
    const { c } = chooser(tmp(), async () => parseCalibration(zen4, "calibrate"));
    expect((await c.settled()).preset).toBe("fastest-int8");
  });

  it("an Intel result with int8 Linears and fp32 attention fastest (bf16 slow) makes that set the default, named in words", async () => {
    // 2 kitchen frames on this Intel Xeon: fastest exact 17.2 s, `all` 29.4 s, `all,w8a8` 13.9 s, `all,-bf16,w8a8` 10.2 s.
    const intel = doc({ exact: 8.6, all: 14.7, int8: 6.95, int8f32: 5.1 }, "int8-fp32", "fastest inside the official bf16 accuracy bound on this CPU: int8-fp32 is 1.69x faster than exact here");
    const parsed = parseCalibration(intel, "calibrate", "2026-11-30T13:00:00.000Z");
    expect(parsed.candidates.map((x) => [x.preset, x.path])).toEqual([["all", "bf16"], ["fastest-exact", "fp32"], ["fastest-int8", "int8"], ["int8-fp32", "int8+fp32"]]);
    const { c } = chooser(tmp(), async () => parsed);
    const d = await c.settled();
    expect(d.preset).toBe("int8-fp32");
    expect(d.speedupVsExact).toBeCloseTo(8.6 / 5.1, 12);
    expect(d.why).toMatch(/^fastest inside the official bf16 accuracy bound on this CPU: int8-fp32 is 1\.69x faster than exact here \(calibrated 2026-11-30 13:00 UTC/);
  });

  it("a failed calibration leaves the exact set, says why, and is not cached", async () => {
    const data = tmp();
    const { c } = chooser(data, async () => {
      throw new Error("engine crashed");
    });
    const d = await c.settled();
    expect(d).toMatchObject({ state: "failed", preset: "fastest-exact", error: "engine crashed" });
    expect(d.why).toMatch(/^Calibration failed \(engine crashed\); new runs start from the exact set\.$/);
    expect(new CalibrationCache(data).get(KEY)).toBeNull();
    const noKey = chooser(data, async () => parseCalibration(INTEL, "c"), async () => {
      throw new Error("no engine binary to calibrate with");
    });
    expect(await noKey.c.settled()).toMatchObject({ state: "failed", preset: "fastest-exact" });
    expect(noKey.calls.calibrate).toBe(0);
  });

  it("asks once even when asked many times while measuring", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { c, calls } = chooser(tmp(), async () => {
      await gate;
      return parseCalibration(INTEL, "c");
    });
    c.get();
    c.get();
    const p = c.settled();
    c.get();
    release();
    await p;
    expect(calls.calibrate).toBe(1);
  });
});

describe("machine key from the real engine", () => {
  it("names the CPU, the kernel ISA level, the engine version and the threads", async () => {
    const bin = findEngineBinary();
    const k = await engineMachineKey(bin, 2);
    expect(k.cpu.length).toBeGreaterThan(0);
    expect(["generic", "avx2", "avx512"]).toContain(k.isa);
    expect(k.engineVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(k.threads).toBe(2);
    expect(engineMachineKeySync(bin, 2)).toEqual(k);
  });
});

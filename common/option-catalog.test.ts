import { describe, expect, it } from "vitest";

import { allSet, boundSentence, DEFAULT_BOUND, DEFAULT_CANDIDATES, UNCALIBRATED_PRESET, describeSet, enabledNames, isExact, MANY_FRAME_OPTIONS, matchPreset, normalizeSet, OPTION_NAMES, OPTIONS, parseCliList, presetSet, PRESETS, setFromNames, toCliList } from "./option-catalog.js";

describe("option catalogue", () => {
  it("reads the default candidates, their measured accuracy and the official bf16 bound from the engine", () => {
    expect(DEFAULT_CANDIDATES.map((c) => c.id)).toEqual(["all", "fastest-exact", "fastest-int8", "int8-fp32"]);
    const acc = Object.fromEntries(DEFAULT_CANDIDATES.map((c) => [c.id, c.accuracy.rotation_deg]));
    expect(acc).toEqual({ all: 0.211, "fastest-exact": 0, "fastest-int8": 0.171, "int8-fp32": 0.130 });
    expect([DEFAULT_BOUND.rotation_deg, DEFAULT_BOUND.points_rel_rms]).toEqual([1.42, 1.6e-2]);
    expect(boundSentence()).toMatch(/official VGGT release's own bf16 run against its fp32 run \(cameras 1\.42 deg, points 1\.6e-2 of their RMS\)/);
    expect(boundSentence()).toMatch(/All \(bf16\) 0\.211 deg.*All \+ int8 0\.171 deg.*Int8 \+ fp32 \(no bf16\) 0\.13 deg/);
  });

  it("lists the engine's switches in the write-up's order, each with an explanation and accuracy effect", () => {
    expect(OPTION_NAMES).toEqual(["sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln", "bf16", "w8a8", "prepack", "flash-attn", "global-early-frame", "global-kv-subsample", "global-block-sparse"]);
    for (const o of OPTIONS) {
      expect(o.what.length).toBeGreaterThan(20);
      expect(o.accuracy).toMatch(/^(Exact|Lossy)/);
    }
    expect(enabledNames(allSet())).toEqual(OPTION_NAMES.filter((n) => n !== "w8a8" && !MANY_FRAME_OPTIONS.includes(n)));
  });

  it("groups the many-frame toggles: lossy, off by default, with their parameters and defaults", () => {
    expect(MANY_FRAME_OPTIONS).toEqual(["global-early-frame", "global-kv-subsample", "global-block-sparse"]);
    for (const n of MANY_FRAME_OPTIONS) {
      const o = OPTIONS.find((x) => x.name === n)!;
      expect(o.group).toBe("many-frames");
      expect(o.accuracyClass).toBe("lossy");
      expect(o.defaultOn).toBe(false);
      for (const p of o.params ?? []) expect(p.default >= p.min && p.default <= p.max).toBe(true);
    }
    expect(OPTIONS.find((o) => o.name === "global-kv-subsample")!.params!.map((p) => `${p.name}=${p.default}`)).toEqual(["stride=4", "first=8", "last=21"]);
    expect(enabledNames(presetSet("many-frames"))).toEqual([...enabledNames(allSet()), ...MANY_FRAME_OPTIONS]);
    expect(isExact(presetSet("many-frames"))).toBe(false);
  });

  it("defines the presets: reference, write-up, `all`, fastest exact, int8, int8 with fp32 attention, many frames", () => {
    expect(PRESETS.map((p) => p.label)).toEqual(["Reference (fp32)", "Write-up (NPU recipe)", "All (bf16)", "Fastest exact", "All + int8", "Int8 + fp32 (no bf16)", "Many frames"]);
    // Before a machine is calibrated, new runs start exact: no lossy set without measuring it is faster.
    expect(UNCALIBRATED_PRESET).toBe("fastest-exact");
    expect(isExact(presetSet(UNCALIBRATED_PRESET))).toBe(true);
    expect(presetSet("all")).toEqual(parseCliList("all"));
    expect(presetSet("all")).toEqual(allSet());
    expect(isExact(presetSet("all"))).toBe(false);
    expect(enabledNames(presetSet("reference"))).toEqual([]);
    expect(enabledNames(presetSet("writeup"))).toEqual(["sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln", "bf16", "prepack"]);
    expect(enabledNames(presetSet("fastest-exact"))).toEqual(["sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln", "prepack", "flash-attn"]);
    expect(enabledNames(presetSet("fastest-int8"))).toEqual(OPTION_NAMES.filter((n) => !MANY_FRAME_OPTIONS.includes(n)));
    expect(enabledNames(presetSet("int8-fp32"))).toEqual(OPTION_NAMES.filter((n) => !MANY_FRAME_OPTIONS.includes(n) && n !== "bf16"));
    expect(isExact(presetSet("int8-fp32"))).toBe(false);
    expect(isExact(presetSet("fastest-exact"))).toBe(true);
    expect(isExact(presetSet("writeup"))).toBe(false);
  });

  it("recognises a preset from its set, and names a custom set by its options", () => {
    expect(matchPreset(setFromNames(["bf16", "prepack", "sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln"]))?.id).toBe("writeup");
    expect(matchPreset(setFromNames(["bf16"]))).toBeNull();
    expect(describeSet(setFromNames([]))).toBe("Reference (fp32)");
    expect(describeSet(setFromNames(["bf16", "flash-attn"]))).toBe("bf16, flash-attn");
  });

  it("writes explicit --options lists that round-trip through the engine's syntax", () => {
    for (const p of PRESETS) {
      const list = toCliList(presetSet(p.id));
      expect(list.startsWith("--")).toBe(false);
      expect(list.split(",")).toHaveLength(OPTION_NAMES.length);
      expect(parseCliList(list)).toEqual(presetSet(p.id));
    }
    expect(toCliList(setFromNames(["bf16"]))).toBe("bf16,-sincos-lowp,-rope-fused,-rope-cache,-dpt-pos-cache,-fused-add-ln,-w8a8,-prepack,-flash-attn,-global-early-frame,-global-kv-subsample,-global-block-sparse");
    expect(parseCliList("all")).toEqual(allSet());
    expect(parseCliList("all,-bf16,w8a8")).toEqual({ ...allSet(), bf16: false, w8a8: true });
  });

  it("rejects unknown options and non-boolean switches with the name", () => {
    expect(() => setFromNames(["turbo"])).toThrow(/unknown engine option "turbo"/);
    expect(() => normalizeSet({ bf16: "yes" }, "A")).toThrow(/A\.bf16: expected true or false/);
    expect(() => normalizeSet({ nope: true }, "B")).toThrow(/B: unknown engine option "nope"/);
    expect(() => normalizeSet(null)).toThrow(/expected an object/);
    expect(normalizeSet({ bf16: true })).toEqual(setFromNames(["bf16"]));
  });
});

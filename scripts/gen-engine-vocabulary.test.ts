// The app's copy of the engine's vocabulary is the engine's: the checked-in generated module
// matches what the built engine describes, and the TypeScript lists built on it (option catalog,
// presets, VGGT-1B config, parameter table and count) are exactly the engine's.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";

import { OPTION_NAMES, OPTION_TEXT, OPTIONS, PRESET_LABELS, PRESETS } from "../common/option-catalog.js";
import { VGGT_1B_CONFIG, vggtParamSpecs } from "../electron/services/model-manager/vggt-params.js";
import { VGGT_1B_PARAMS } from "../electron/services/runs/estimate.js";
import { describeEngine, renderVocabulary, VOCABULARY_FILE } from "./gen-engine-vocabulary.js";

let d: Awaited<ReturnType<typeof describeEngine>>;
beforeAll(async () => {
  d = await describeEngine();
});

type EngineOption = { name: string; kind: string; group: string; in_all: boolean; params: { name: string; min: number; max: number; default: number }[] };
type EnginePreset = { name: string; options: string; help: string };

describe("common/engine-vocabulary.ts", () => {
  it("is what the built engine's `describe --json` gives (else: npm run gen:vocabulary)", () => {
    expect(readFileSync(VOCABULARY_FILE, "utf8")).toBe(renderVocabulary(d));
  });
});

describe("the TypeScript side lists exactly the engine's vocabulary", () => {
  it("options: names in order, kinds, groups, the `all` rule and parameters; UI text for each and no other", () => {
    const opts = d.options as EngineOption[];
    expect(OPTION_NAMES).toEqual(opts.map((o) => o.name));
    expect(Object.keys(OPTION_TEXT).sort()).toEqual(opts.map((o) => o.name).sort());
    for (const o of opts) {
      const ts = OPTIONS.find((x) => x.name === o.name)!;
      expect({ kind: ts.accuracyClass, group: ts.group, in_all: ts.defaultOn }, o.name).toEqual({ kind: o.kind, group: o.group, in_all: o.in_all });
      expect((ts.params ?? []).map(({ name, min, max, default: def }) => ({ name, min, max, default: def })), o.name).toEqual(
        o.params.map(({ name, min, max, default: def }) => ({ name, min, max, default: def })),
      );
    }
    // The engine's `all`: everything but int8 and the many-frame toggles.
    expect(OPTIONS.filter((o) => !o.defaultOn).map((o) => o.name)).toEqual(["w8a8", "global-early-frame", "global-kv-subsample", "global-block-sparse"]);
  });

  it("presets: ids in order, the options each switches on, a label for each and no other", () => {
    const presets = d.presets as EnginePreset[];
    expect(PRESETS.map((p) => p.id)).toEqual(presets.map((p) => p.name));
    expect(Object.keys(PRESET_LABELS).sort()).toEqual(presets.map((p) => p.name).sort());
    const inAll = (d.options as EngineOption[]).filter((o) => o.in_all).map((o) => o.name);
    for (const p of presets) {
      const expected = p.options.split(",").filter(Boolean).flatMap((n) => (n === "all" ? inAll : [n]));
      expect([...PRESETS.find((x) => x.id === p.name)!.on].sort(), p.name).toEqual([...new Set(expected)].sort());
    }
  });

  it("the VGGT-1B config and its parameter table: every tensor name and shape in state-dict order, and the count", () => {
    expect(VGGT_1B_CONFIG).toEqual(d.configs["vggt-1b"]);
    const withTrack = d.parameters["vggt-1b-track"];
    expect(vggtParamSpecs(VGGT_1B_CONFIG)).toEqual(withTrack.tensors);
    expect(vggtParamSpecs({ ...VGGT_1B_CONFIG, track: { ...VGGT_1B_CONFIG.track!, enabled: false } })).toEqual(d.parameters["vggt-1b"].tensors);
    expect(VGGT_1B_PARAMS).toBe(withTrack.count);
    expect(withTrack.tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0)).toBe(withTrack.count);
  });
});

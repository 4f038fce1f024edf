// The generated parameter list against the official one (shared/goldens) and the golden tiny checkpoints.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readSafetensorsHeader } from "./validate.js";
import { VGGT_1B_CONFIG, countParams, vggtParamSpecs, type VggtConfig } from "./vggt-params.js";

const repoRoot = resolve(__dirname, "../../..");
const shared = process.env.VGGT_SHARED_DIR ?? resolve(repoRoot, "../shared");
const goldens = join(shared, "goldens");
const haveShared = existsSync(join(goldens, "vggt-1b-params.json"));
if (!haveShared) console.warn(`\n*** NOTICE: ${goldens} not found: the checks against the official parameter list are SKIPPED ***\n`);

describe("vggtParamSpecs", () => {
  it.skipIf(!haveShared)("matches vggt-1b-params.json exactly: names, shapes, order, counts", () => {
    const ref = JSON.parse(readFileSync(join(goldens, "vggt-1b-params.json"), "utf8"));
    const specs = vggtParamSpecs(VGGT_1B_CONFIG);
    expect(specs.map((s) => s.name)).toEqual(Object.keys(ref.tensors));
    for (const s of specs) expect(s.shape, s.name).toEqual(ref.tensors[s.name].shape);
    expect(specs.length).toBe(ref.num_tensors);
    expect(countParams(specs)).toBe(ref.num_params);
    for (const [part, n] of Object.entries(ref.params_by_part as Record<string, number>)) {
      // "aggregator" alone counts its own tokens only (the other aggregator.* parts are listed separately).
      const inPart = specs.filter((s) =>
        part === "aggregator" ? /^aggregator\.[^.]+$/.test(s.name) : s.name.startsWith(part + "."),
      );
      expect(countParams(inPart), part).toBe(n);
    }
  });

  it.skipIf(!haveShared)("the preset has every field of vggt-1b-config.json with its value", () => {
    const cfg = JSON.parse(readFileSync(join(goldens, "vggt-1b-config.json"), "utf8"));
    // The engine's description also states the track head's defaults (depth, hidden size, ...).
    expect(VGGT_1B_CONFIG).toMatchObject(cfg);
  });

  it.skipIf(!haveShared)("matches every golden tiny checkpoint for its config (no track head)", () => {
    const cases = readdirSync(goldens).filter((d) => d.startsWith("tiny-"));
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const cfg = JSON.parse(readFileSync(join(goldens, c, "config.json"), "utf8")) as VggtConfig;
      const h = readSafetensorsHeader(join(goldens, c, "weights.safetensors"));
      const specs = vggtParamSpecs(cfg);
      expect(h.tensors.map((t) => t.name).sort(), c).toEqual(specs.map((s) => s.name).sort());
      const byName = new Map(h.tensors.map((t) => [t.name, t.shape]));
      for (const s of specs) expect(byName.get(s.name), `${c}: ${s.name}`).toEqual(s.shape);
    }
  });

  it("rejects an inconsistent config", () => {
    expect(() => vggtParamSpecs({ ...VGGT_1B_CONFIG, img_size: 500 })).toThrow(/multiple of patch_size/);
    expect(() => vggtParamSpecs({ ...VGGT_1B_CONFIG, dpt: { ...VGGT_1B_CONFIG.dpt, out_channels: [1, 2] } })).toThrow(/4 entries/);
  });
});

// Config validation: every field's type and range, errors naming the file and the field.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkVggtConfig, ConfigError } from "./config-check.js";
import { VGGT_1B_CONFIG } from "./vggt-params.js";

const goldens = resolve(process.env.VGGT_SHARED_DIR ?? join(__dirname, "../../../../shared"), "goldens");
const tmp = mkdtempSync(join(tmpdir(), "vggt-cfg-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const with_ = (patch: (c: any) => void) => {
  const c = structuredClone(VGGT_1B_CONFIG) as any;
  patch(c);
  return c;
};

describe("checkVggtConfig", () => {
  it("accepts the VGGT-1B preset and every golden config", () => {
    expect(checkVggtConfig(VGGT_1B_CONFIG, "x")).toBe(VGGT_1B_CONFIG);
    const files = existsSync(goldens) ? readdirSync(goldens).map((d) => join(goldens, d, "config.json")).filter(existsSync) : [];
    for (const f of [...files, join(goldens, "vggt-1b-config.json")].filter(existsSync)) checkVggtConfig(JSON.parse(readFileSync(f, "utf8")), f);
  });

  it.each([
    ["num_heads", (c: any) => (c.num_heads = 0), "config field 'num_heads' must be an integer from 1 to 1024, got 0"],
    ["negative depth", (c: any) => (c.depth = -3), "'depth' must be an integer from 1 to 256, got -3"],
    ["a billion layers", (c: any) => (c.encoder.depth = 1e9), "'encoder.depth' must be an integer from 1 to 256, got 1000000000"],
    ["a string", (c: any) => (c.embed_dim = "1024"), `'embed_dim' must be an integer from 1 to 16384, got "1024"`],
    ["indivisible heads", (c: any) => (c.num_heads = 7), "'embed_dim' must be divisible by num_heads 7"],
    ["a missing object", (c: any) => delete c.dpt, "'dpt' must be an object, got undefined"],
    ["a bad layer index", (c: any) => (c.dpt.intermediate_layer_idx = [4, 11, 17, 24]), "'dpt.intermediate_layer_idx' must be 4 layer indices from 0 to 23"],
    ["NaN-like ratio", (c: any) => (c.mlp_ratio = null), "'mlp_ratio' must be a number above 0 and at most 64, got null"],
  ])("refuses %s, naming the file and the field", (_n, patch, msg) => {
    expect(() => checkVggtConfig(with_(patch), "/m/config.json")).toThrow(ConfigError);
    expect(() => checkVggtConfig(with_(patch), "/m/config.json")).toThrow(`/m/config.json: ${msg.startsWith("config") ? msg : `config field ${msg}`}`);
  });

  it("refuses JSON that is not an object", () => {
    for (const v of [null, [], 3, "x"]) expect(() => checkVggtConfig(v, "c.json")).toThrow(/c.json: config field '\(top level\)' must be an object/);
  });
});

// Validation of local checkpoints: structure, truncation, corruption, names and shapes.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ModelError } from "./errors.js";
import { MICRO_CONFIG, checkpointBytes, fakePtBytes, writeCheckpoint } from "./test-fixtures.js";
import { assertValidCheckpoint, compareWithArchitecture, engineCheckpointCheck, validateCheckpoint, type EngineCheckResult, type TensorListing } from "./validate.js";
import { VGGT_1B_CONFIG, vggtParamSpecs } from "./vggt-params.js";

const REPO = resolve(__dirname, "../../..");
const ENGINE = process.env.VGGT_ENGINE_BIN ?? join(REPO, "native-engine/build/vggt-engine");
const TINY = join(process.env.VGGT_SHARED_DIR ?? resolve(REPO, "../shared"), "goldens/tiny-2f");
if (!existsSync(ENGINE) || !existsSync(TINY)) console.warn(`\n*** NOTICE: ${ENGINE} or ${TINY} missing: the real-engine validate check is SKIPPED ***\n`);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vggt-val-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const v = (p: string, extra = {}) => validateCheckpoint(p, { config: MICRO_CONFIG, ...extra });

describe("validateCheckpoint (safetensors)", () => {
  it("accepts a complete checkpoint of the architecture", async () => {
    const p = join(dir, "model.safetensors");
    writeCheckpoint(p);
    const r = await v(p);
    expect(r.errors).toEqual([]);
    expect(r).toMatchObject({ ok: true, format: "safetensors", namesChecked: true, hasTrackHead: true, tensorCount: vggtParamSpecs(MICRO_CONFIG).length });
    expect(r.dtypes).toEqual({ F32: r.tensorCount });
    expect(r.metadata.format).toBe("pt");
  });

  it("accepts bf16/f16 tensors and a checkpoint without track head (warning only)", async () => {
    const p = join(dir, "ft.safetensors");
    writeCheckpoint(p, { ...MICRO_CONFIG, track: undefined }, (t) => {
      const w = t["aggregator.camera_token"];
      t["aggregator.camera_token"] = { dtype: "BF16", shape: w.shape, data: new Uint16Array(w.shape.reduce((a, b) => a * b, 1)) };
    });
    const r = await v(p);
    expect(r.ok).toBe(true);
    expect(r.hasTrackHead).toBe(false);
    expect(r.warnings.join()).toMatch(/no track head/);
    expect((await v(p, { requireTrackHead: true })).ok).toBe(false);
  });

  it("rejects a truncated file, naming it", async () => {
    const p = join(dir, "cut.safetensors");
    const b = checkpointBytes();
    writeFileSync(p, b.subarray(0, Math.floor(b.length * 0.6)));
    const r = await v(p);
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toContain(p);
    expect(r.errors[0]).toMatch(/truncated/);
    // Cut inside the header, and a file shorter than the length prefix.
    writeFileSync(p, b.subarray(0, 100));
    expect((await v(p)).errors[0]).toMatch(/truncated: the header needs/);
    writeFileSync(p, b.subarray(0, 5));
    expect((await v(p)).errors[0]).toMatch(/only 5 bytes/);
  });

  it("rejects corrupt headers, garbage, trailing bytes, holes", async () => {
    const p = join(dir, "bad.safetensors");
    const b = Buffer.from(checkpointBytes());
    const c1 = Buffer.from(b);
    c1[8] = 0x78; // "x" instead of the opening brace
    writeFileSync(p, c1);
    expect((await v(p)).errors[0]).toMatch(/corrupt safetensors header/);
    writeFileSync(p, Buffer.alloc(4096, 0xab));
    expect((await v(p)).errors[0]).toMatch(/header length .* implausible/);
    writeFileSync(p, Buffer.concat([b, Buffer.alloc(10)]));
    expect((await v(p)).errors[0]).toMatch(/10 unexpected trailing bytes/);
    const tampered = b.toString("latin1").replace('"data_offsets":[0,', '"data_offsets":[4,');
    writeFileSync(p, Buffer.from(tampered, "latin1"));
    expect((await v(p)).errors[0]).toMatch(/needs \d+ bytes but its offsets span|hole|overlap/);
    for (const e of [(await v(p)).errors[0]]) expect(e.startsWith(p)).toBe(true);
  });

  it("reports missing, unexpected, mis-shaped and non-float tensors by name", async () => {
    const p = join(dir, "other.safetensors");
    writeCheckpoint(p, MICRO_CONFIG, (t) => {
      delete t["camera_head.pose_branch.fc2.bias"];
      t["some_other_model.weight"] = { dtype: "F32", shape: [2], data: new Float32Array(2) };
      t["depth_head.norm.weight"] = { dtype: "F32", shape: [31], data: new Float32Array(31) };
      t["point_head.norm.bias"] = { dtype: "I32", shape: [32], data: new Int32Array(32) };
    });
    const r = await v(p);
    expect(r.ok).toBe(false);
    expect(r.missing).toEqual(["camera_head.pose_branch.fc2.bias"]);
    expect(r.unexpected).toEqual(["some_other_model.weight"]);
    expect(r.misshaped).toEqual([{ name: "depth_head.norm.weight", expected: [32], actual: [31] }]);
    expect(r.badDtype).toEqual([{ name: "point_head.norm.bias", dtype: "I32" }]);
    const all = r.errors.join("\n");
    for (const n of ["camera_head.pose_branch.fc2.bias", "some_other_model.weight", "depth_head.norm.weight is [31], expected [32]", "point_head.norm.bias (I32)"])
      expect(all).toContain(n);
    await expect(assertValidCheckpoint(p, { config: MICRO_CONFIG })).rejects.toThrow(/not a usable VGGT checkpoint/);
  });

  it("a VGGT-1B-sized listing with a wrong-size checkpoint (e.g. a smaller VGGT) is rejected by shape", () => {
    const listing: TensorListing[] = vggtParamSpecs({ ...VGGT_1B_CONFIG, embed_dim: 768, num_heads: 12 }).map((s) => ({ ...s, dtype: "F32" }));
    const cmp = compareWithArchitecture(listing, VGGT_1B_CONFIG);
    expect(cmp.misshaped.length).toBeGreaterThan(1000);
    expect(cmp.misshaped[0].name).toBe("aggregator.camera_token");
  });

  it("missing file and directories give readable errors", async () => {
    expect((await v(join(dir, "nope.safetensors"))).errors[0]).toMatch(/nope.safetensors: cannot read \(ENOENT\)/);
    expect((await v(dir)).errors[0]).toMatch(/not a regular file/);
  });
});

describe("validateCheckpoint (.pt)", () => {
  it("checks the zip directory (ZIP64 too) and warns that names need the engine", async () => {
    for (const zip64 of [false, true]) {
      const p = join(dir, `model${zip64 ? "64" : ""}.pt`);
      writeFileSync(p, fakePtBytes({ zip64 }));
      const r = await v(p);
      expect(r.errors).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.format).toBe("pt");
      expect(r.namesChecked).toBe(false);
      expect(r.warnings.join()).toMatch(/vggt-engine validate/);
    }
  });

  it("uses the engine's name/shape check", async () => {
    const p = join(dir, "model.pt");
    writeFileSync(p, fakePtBytes());
    const clean: EngineCheckResult = { tensorCount: 381, missing: [], unexpected: [], misshaped: [], badDtype: [] };
    const r0 = await v(p, { engineCheck: async () => clean });
    expect(r0).toMatchObject({ ok: true, namesChecked: true, tensorCount: 381 });
    const r = await v(p, { engineCheck: async () => ({ ...clean, misshaped: [{ name: "depth_head.norm.weight", expected: [32], actual: [31] }] }) });
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toContain("depth_head.norm.weight is [31], expected [32]");
  });

  it("rejects truncated zips and zips that are not checkpoints", async () => {
    const p = join(dir, "model.pt");
    const b = fakePtBytes();
    writeFileSync(p, b.subarray(0, b.length - 30));
    const r = await v(p);
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toContain(p);
    expect(r.errors[0]).toMatch(/truncated|corrupt zip/);
    writeFileSync(p, fakePtBytes({ withPickle: false }));
    expect((await v(p)).errors[0]).toMatch(/no data.pkl/);
  });

  it("engineCheckpointCheck with a stand-in engine: parses its report, null without engine, error when it rejects the file", async () => {
    const fake = join(dir, "fake-engine");
    const report = {
      path: "x",
      ok: false,
      tensors: 380,
      missing: ["camera_head.pose_branch.fc2.bias"],
      unexpected: ["foo"],
      mis_shaped: ["depth_head.norm.weight: got [31], expected [32]", "point_head.norm.bias: dtype I32 is not floating point"],
      ignored: 0,
    };
    writeFileSync(join(dir, "out.json"), JSON.stringify(report));
    // Same argument order and exit codes as the real `vggt-engine validate --weights W --config C`.
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$@" > "${join(dir, "args.txt")}"\ncase "$3" in\n  *bad*) echo "vggt-engine validate: error: data.pkl: unexpected opcode" >&2; exit 1;;\n  *) cat "${join(dir, "out.json")}"; exit 3;;\nesac\n`,
    );
    chmodSync(fake, 0o755);
    const check = engineCheckpointCheck(fake);
    const r = await check(join(dir, "good.pt"), VGGT_1B_CONFIG);
    expect(readFileSync(join(dir, "args.txt"), "utf8").trim()).toBe(`validate --weights ${join(dir, "good.pt")} --config vggt-1b`);
    expect(r).toEqual({
      tensorCount: 380,
      missing: ["camera_head.pose_branch.fc2.bias"],
      unexpected: ["foo"],
      misshaped: [{ name: "depth_head.norm.weight", actual: [31], expected: [32] }],
      badDtype: [{ name: "point_head.norm.bias", dtype: "I32" }],
    });
    await check(join(dir, "good.pt"), MICRO_CONFIG); // a non-preset config goes through a temporary JSON file
    expect(readFileSync(join(dir, "args.txt"), "utf8")).toMatch(/--config \S*vggt-validate-\S*config\.json/);
    await expect(check(join(dir, "bad.pt"), VGGT_1B_CONFIG)).rejects.toThrow(/bad.pt: rejected by vggt-engine validate: data.pkl: unexpected opcode/);
    expect(await engineCheckpointCheck(join(dir, "no-such-engine"))(join(dir, "x.pt"), VGGT_1B_CONFIG)).toBeNull();
    const p = join(dir, "bad.pt");
    writeFileSync(p, fakePtBytes());
    const rep = await v(p, { engineCheck: check });
    expect(rep.ok).toBe(false);
    expect(rep.errors[0]).toMatch(/unexpected opcode/);
  });

  it.skipIf(!existsSync(ENGINE) || !existsSync(TINY))("engineCheckpointCheck with the real engine on a golden tiny checkpoint", async () => {
    const check = engineCheckpointCheck(ENGINE);
    const cfg = JSON.parse(readFileSync(join(TINY, "config.json"), "utf8"));
    expect(await check(join(TINY, "weights.safetensors"), cfg)).toMatchObject({ tensorCount: 361, missing: [], unexpected: [], misshaped: [] });
    const against1b = (await check(join(TINY, "weights.safetensors"), VGGT_1B_CONFIG))!;
    expect(against1b.misshaped.find((m) => m.name === "aggregator.camera_token")).toEqual({ name: "aggregator.camera_token", actual: [1, 2, 1, 128], expected: [1, 2, 1, 1024] });
  });
});

describe("ModelError", () => {
  it("carries a code", async () => {
    const p = join(dir, "x.safetensors");
    writeFileSync(p, "nope");
    try {
      await assertValidCheckpoint(p);
      throw new Error("should have thrown");
    } catch (e) {
      expect((e as ModelError).code).toBe("INVALID_CHECKPOINT");
    }
  });
});

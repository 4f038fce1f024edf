// The converted-weights cache with the REAL engine conversion (vggt-engine convert) on the tiny
// golden checkpoint: the cached bf16/int8 files are smaller, typed as the engine expects, and reused.
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findEngineBinary } from "../engine/engine-launch.js";
import { readSafetensors } from "../tensors/safetensors.js";
import { DEFAULT_INT8, convertCached, engineConverter } from "./convert-cache.js";

const shared = process.env.VGGT_SHARED_DIR ?? resolve(import.meta.dirname, "../../../../shared");
const golden = join(shared, "goldens", "tiny-2f");
const have = existsSync(join(golden, "weights.safetensors"));
if (!have) console.warn(`*** ${golden} not found: real-engine conversion test SKIPPED ***`);

describe.skipIf(!have)("convertCached with the real engine", () => {
  const dir = mkdtempSync(join(tmpdir(), "vggt-conv-real-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes bf16 and int8 caches once and reuses them", async () => {
    const src = join(dir, "model.safetensors");
    copyFileSync(join(golden, "weights.safetensors"), src);
    const converter = engineConverter(findEngineBinary(), join(golden, "config.json"));
    const cacheDir = join(dir, "converted");
    for (const target of ["bf16", "int8"] as const) {
      const { entry: first, reused } = await convertCached({ source: src, target, engineVersion: "0.1.0", converter, cacheDir });
      expect(reused).toBe(false);
      expect(statSync(first.path).size).toBeLessThan(statSync(src).size);
      const f = readSafetensors(first.path);
      expect(f.metadata.vggt_converted).toBe(target);
      if (target === "int8") {
        expect(f.metadata.vggt_int8_scope).toBe(DEFAULT_INT8.scope);
        expect(f.metadata.vggt_int8_rotation).toBe(DEFAULT_INT8.rotation);
        expect(f.metadata.vggt_int8_residual).toBe(DEFAULT_INT8.residual);
        expect(f.tensors.get("aggregator.frame_blocks.0.mlp.fc2.weight_residual")?.dtype).toBe("I8");
      }
      expect(f.tensors.get("aggregator.frame_blocks.0.mlp.fc2.weight")?.dtype).toBe(target === "bf16" ? "BF16" : "I8");
      // int8 with scope fc2 keeps the other Linears in bf16.
      if (target === "int8") expect(f.tensors.get("aggregator.frame_blocks.0.mlp.fc1.weight")?.dtype).toBe(DEFAULT_INT8.scope === "fc2" ? "BF16" : "I8");
      let called = false;
      const { entry: again, reused: reusedAgain } = await convertCached({
        source: src, target, engineVersion: "0.1.0", cacheDir,
        converter: async () => { called = true; },
      });
      expect(called).toBe(false);
      expect(reusedAgain).toBe(true);
      expect(again.path).toBe(first.path);
    }
  }, 120_000);
});

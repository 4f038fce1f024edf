// The run estimate's memory figure against the engine's own measurement: each case starts a fresh
// `vggt-engine serve`, runs one job, and compares the job's process peak RSS (VmHWM, reset at the
// job's start) with processPeakBytes for the same model, switches and frames.
//
// By default the tiny golden model (tiny-track-2f, 6M parameters) runs, exact and `all`: cheap
// enough for every CI run. It checks the whole model (base + weights as held for the switches +
// activations) at a size where the base and the activations weigh most. The full-size VGGT-1B
// (random weights, 1 frame; ~4 GiB and ~45 s on 2 cores) runs with VGGT_MEMORY_FULL=1: there
// the weights as held dominate; docs/MEMORY.md lists both with their measured figures.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { EngineSupervisor } from "../engine/engine-supervisor.js";
import { engineBinary } from "../engine/test-fixtures.js";
import { dimsFromConfig, ENGINE_BASE_BYTES, heldWeightBytes, processPeakBytes, VGGT_1B_DIMS, VGGT_1B_PARAMS, type ModelDims, type WeightFlags } from "./estimate.js";
import { countParams } from "./workbench.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(import.meta.dirname, "../../../../shared"));
const tiny = join(shared, "goldens", "tiny-track-2f");
const haveTiny = existsSync(join(tiny, "weights.safetensors"));
if (!haveTiny) console.warn("*** ../shared/goldens/tiny-track-2f missing: memory-estimate test SKIPPED ***");
const full = process.env.VGGT_MEMORY_FULL === "1";
const images = ["view-1.png", "view-2.png"].map((f) => resolve(import.meta.dirname, "../../../assets/sample", f));
const tmp = mkdtempSync(join(tmpdir(), "vggt-mem-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ALL = { "sincos-lowp": true, "rope-fused": true, "rope-cache": true, "dpt-pos-cache": true, "fused-add-ln": true, bf16: true, prepack: true, "flash-attn": true, w8a8: false };
const EXACT = Object.fromEntries(Object.keys(ALL).map((k) => [k, false]));

async function measuredPeak(load: { weights?: string; random?: { seed: number }; config?: string }, flags: Record<string, boolean>, frames: string[]): Promise<{ peak: number; scope: string; idle: number; start: number }> {
  const sup = new EngineSupervisor({ client: { binary: engineBinary(), threads: 2 } });
  try {
    const client = await sup.start();
    await sup.load({ ...load, options: { flags: EXACT } });
    const r = await sup.infer({ images: frames, preprocess: "crop", output: join(tmp, "out.safetensors"), options: { flags } }).done;
    const idle = (await sup.status()).memory.rss_bytes;
    return { peak: r.memory.peak_rss_bytes, scope: r.memory.peak_rss_scope, idle, start: client.hello.memory!.rss_bytes };
  } finally {
    await sup.stop();
  }
}

function check(dims: ModelDims, params: number, flags: WeightFlags, frames: number, measured: { peak: number; scope: string; idle: number; start: number }) {
  const est = processPeakBytes(dims, params, flags, frames, 518, 350);
  const held = ENGINE_BASE_BYTES + heldWeightBytes(dims, params, flags);
  console.log(
    `estimate ${(est / 2 ** 20).toFixed(0)} MiB, measured ${(measured.peak / 2 ** 20).toFixed(0)} MiB (${measured.scope} peak): ${((est / measured.peak - 1) * 100).toFixed(1)}%; ` +
      `idle after the job ${(measured.idle / 2 ** 20).toFixed(0)} MiB (weights as held + base: ${(held / 2 ** 20).toFixed(0)} MiB); at start ${(measured.start / 2 ** 20).toFixed(0)} MiB`,
  );
  expect(measured.scope).toBe("job");
  expect(Math.abs(est / measured.peak - 1)).toBeLessThan(0.15);
  // Between jobs the engine holds its weights, not the job's activations (released and trimmed).
  expect(measured.start).toBeGreaterThan(0);
  expect(measured.idle).toBeLessThan(held + 0.25 * (measured.peak - held));
}

describe.skipIf(!haveTiny)("run estimate vs the engine's process peak RSS (within 15%); resident size between jobs", () => {
  const dims = dimsFromConfig(JSON.parse(readFileSync(join(tiny, "config.json"), "utf8")));
  const params = countParams(join(tiny, "weights.safetensors"))!;
  const load = { weights: join(tiny, "weights.safetensors"), config: join(tiny, "config.json") };

  it("tiny model, 2 frames, exact", async () => {
    check(dims, params, {}, 2, await measuredPeak(load, EXACT, images));
  }, 120_000);

  it("tiny model, 2 frames, all (Linears held only as their bf16/packed copies)", async () => {
    check(dims, params, { bf16: true, prepack: true }, 2, await measuredPeak(load, ALL, images));
  }, 120_000);

  it.skipIf(!full)("VGGT-1B (random weights), 1 frame, all", async () => {
    check(VGGT_1B_DIMS, VGGT_1B_PARAMS, { bf16: true, prepack: true }, 1, await measuredPeak({ random: { seed: 0 } }, ALL, images.slice(0, 1)));
  }, 600_000);
});

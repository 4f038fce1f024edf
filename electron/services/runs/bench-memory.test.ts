// Never two full models: a benchmark runs in its own `vggt-engine bench` process, so the app's
// engine gives its model back first (observed here through the engine's own status: model state and
// resident size), and a benchmark whose estimated peak does not fit in the memory then available is
// refused before its process starts.
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { BenchRequest } from "../../ipc/perf-types.js";
import { normalizeSet } from "../../../common/option-catalog.js";
import { SupervisedEngine } from "./engine-adapter.js";
import { Workbench } from "./workbench.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(import.meta.dirname, "../../../../shared"));
const model = join(shared, "goldens", "tiny-2f");
const ready = existsSync(join(model, "weights.safetensors"));
if (!ready) console.warn("*** ../shared/goldens/tiny-2f missing: benchmark memory test SKIPPED ***");
const images = ["view-1.png", "view-2.png"].map((f) => resolve(import.meta.dirname, "../../../assets/sample", f));

interface Status {
  model: unknown;
  memory: { rss_bytes: number };
}

describe.skipIf(!ready)("benchmarks and the app's engine: one model at a time", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vggt-bench-mem-"));
  const engine = new SupervisedEngine({ eager: false, threads: 2 });
  let available = Number.POSITIVE_INFINITY;
  const wb = new Workbench({ mode: "electron", dataDir: join(tmp, "data"), engine, modelDir: model, availableMemory: () => available });
  const status = () => (engine as unknown as { supervisor: { status(): Promise<Status> } }).supervisor.status();
  const exact = normalizeSet({});
  const bench: BenchRequest = { kind: "ab", a: { label: "exact", options: exact }, b: { label: "exact again", options: exact }, images: [], frames: 1, repeats: 1, warmup: 0, threads: 2, randomWeights: false, parallel: { mode: "none", degree: 1 } };
  afterAll(async () => {
    await wb.dispose();
    await engine.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("the app's engine releases its model (and the memory) before the benchmark's process loads one", async () => {
    const run = await wb.startRun({ images, options: { preprocess: "crop", randomWeights: false, seed: 0, engineOptions: exact } });
    await wb.idle();
    expect(wb.getRun(run.id).status, wb.getRun(run.id).error).toBe("done");
    const loaded = await status();
    expect(loaded.model).not.toBeNull();
    const summary = await wb.startBenchmark(bench);
    // Sampled while the benchmark's process runs: the app's engine holds no model meanwhile.
    const during: Status[] = [];
    while (wb.getBenchmark(summary.id).status === "running") {
      if (wb.getBenchmark(summary.id).command.length) during.push(await status());
      await new Promise((r) => setTimeout(r, 20));
    }
    const rec = wb.getBenchmark(summary.id);
    expect(rec.status, rec.error).toBe("done");
    expect(during.length).toBeGreaterThan(0);
    for (const s of during) expect(s.model).toBeNull();
    const after = await status();
    expect(after.model).toBeNull();
    // The fp32 weights (20 MB) are given back to the system, not just dropped from the model.
    const weights = statSync(join(model, "weights.safetensors")).size;
    console.info(`app engine resident: ${(loaded.memory.rss_bytes / 2 ** 20).toFixed(1)} MiB with the model, ${(after.memory.rss_bytes / 2 ** 20).toFixed(1)} MiB after the benchmark (weights file ${(weights / 2 ** 20).toFixed(1)} MiB; ${during.length} samples during it, none with a model)`);
    expect(loaded.memory.rss_bytes - after.memory.rss_bytes).toBeGreaterThan(0.8 * weights);
  }, 300_000);

  it("a benchmark that would not fit in the memory available is refused before its process starts", async () => {
    available = 64 * 2 ** 20; // 64 MiB: less than the estimate for any VGGT process
    try {
      const summary = await wb.startBenchmark(bench);
      await wb.perf.idle();
      const rec = wb.getBenchmark(summary.id);
      expect(rec.status).toBe("failed");
      expect(rec.error).toMatch(/^not enough memory for the benchmark's engine process: it needs about \d+\.\d GiB \(estimated peak for 1 frame\), 0\.1 GiB is available after the app's engine released its model\./);
      expect(rec.command).toEqual([]); // no engine process was started
    } finally {
      available = Number.POSITIVE_INFINITY;
    }
  }, 120_000);
});

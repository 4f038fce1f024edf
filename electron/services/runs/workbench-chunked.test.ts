// The app's chunked runs (RunOptions.chunk) through the Workbench: one engine job per chunk with the
// run's options, chunk reports on the run as they come, one merged output; cancel keeps nothing.
// The engine here stands in with the golden output of the tiny model (2 frames per pass); the real
// engine runs in e2e/chunked.e2e.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { AppEvent, EngineState } from "../../ipc/types.js";
import { encodeSafetensors, readSafetensors, type TensorToWrite } from "../tensors/safetensors.js";
import { CancelledError, type EngineJob, type EngineRunner } from "./engine-runner.js";
import { pngBytes } from "../testing/images.js";
import { Workbench } from "./workbench.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(__dirname, "../../../../shared"));
const golden = join(shared, "goldens", "tiny-2f");
const have = existsSync(join(golden, "expected.safetensors"));
if (!have) console.warn(`\n*** SKIPPING chunked workbench tests: ${golden} not found ***\n`);

/** The golden 2-frame output without its debug tensors: what `vggt-engine infer` writes. */
function passOutput(): Buffer {
  const f = readSafetensors(join(golden, "expected.safetensors"));
  const t: Record<string, TensorToWrite> = {};
  for (const [name, e] of f.tensors) if (!name.startsWith("debug.")) t[name] = { dtype: e.dtype, shape: e.shape, data: Uint8Array.from(e.bytes) };
  return encodeSafetensors(t, { format: "vggt-engine-output/1" });
}

class ChunkEngine implements EngineRunner {
  jobs: EngineJob[] = [];
  hangAt = -1;
  private readonly bytes = have ? passOutput() : Buffer.alloc(0);
  state(): EngineState {
    return { state: "ready", binary: "fake", restarts: 0 };
  }
  onState() {
    return () => {};
  }
  async infer(job: EngineJob, onProgress: (p: { stage: string; step: number; total: number; elapsedMs: number }) => void, signal: AbortSignal) {
    this.jobs.push(job);
    onProgress({ stage: "aggregator", step: 1, total: 2, elapsedMs: 1 });
    if (this.jobs.length - 1 === this.hangAt)
      await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new CancelledError()), { once: true }));
    writeFileSync(job.output, this.bytes);
    return { stages: [{ stage: "aggregator", ms: 5 }], ...(job.flags ? { flags: job.flags } : {}) };
  }
  async dispose() {}
}

const root = mkdtempSync(join(tmpdir(), "vggt-wb-chunked-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function setup() {
  const dataDir = mkdtempSync(join(root, "data-"));
  const images = mkdtempSync(join(root, "images-"));
  for (const n of ["a", "b", "c"]) writeFileSync(join(images, `${n}.png`), pngBytes(28, 14));
  mkdirSync(images, { recursive: true });
  const engine = new ChunkEngine();
  const wb = new Workbench({ mode: "web", dataDir, engine, modelDir: golden, restrictToRoots: [root] });
  const events: AppEvent[] = [];
  wb.subscribe((e) => events.push(e));
  return { wb, engine, events, paths: ["a", "b", "c"].map((n) => join(images, `${n}.png`)) };
}

describe.skipIf(!have)("Workbench chunked runs", () => {
  it("runs one engine job per chunk with the run's options, reports each chunk, and merges into one output", async () => {
    const { wb, engine, events, paths } = setup();
    const run = await wb.startRun({ images: paths, options: { preprocess: "pad", randomWeights: false, seed: 0, engineOptions: { bf16: true }, parallel: { mode: "ulysses", degree: 2 }, chunk: { size: 2, overlap: 1 } } });
    await wb.idle();
    const done = wb.getRun(run.id);
    expect(done.status, done.error).toBe("done");
    expect(engine.jobs.map((j) => j.images.map((p) => p.split("/").pop()))).toEqual([
      ["a.png", "b.png"],
      ["b.png", "c.png"],
    ]);
    // Every chunk is a normal pass with the run's switches and its sequence parallelism.
    expect(engine.jobs.every((j) => j.preprocess === "pad" && j.flags?.bf16 === true && j.parallel?.mode === "ulysses" && j.parallel.degree === 2 && !j.trackCache)).toBe(true);
    expect(done.chunks!.map((c) => c.frames)).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(done.chunks![1].residual).toBeGreaterThan(0);
    expect(done.stages).toEqual([{ stage: "aggregator", ms: 10 }]);
    const out = readSafetensors(wb.store.outputPath(run.id));
    expect(out.tensors.get("world_points")!.shape[0]).toBe(3);
    expect(JSON.parse(out.metadata.chunks).chunks).toHaveLength(2);
    expect(readdirSync(wb.store.runDir(run.id)).sort()).toEqual(["output.safetensors", "run.json"]);
    // Progress names the chunk and only moves forward.
    const prog = events.flatMap((e) => (e.type === "run-progress" && e.progress.runId === run.id ? [e.progress] : []));
    expect(prog.some((p) => /^chunk 2\/2 \(frames 2-3\)/.test(p.message ?? ""))).toBe(true);
    const fr = prog.map((p) => p.fraction);
    expect(fr.every((f, k) => k === 0 || f >= fr[k - 1])).toBe(true);
    // The cloud of the merged output serves like any run's.
    expect(wb.getPointCloud({ runId: run.id, branch: "depth", maxPoints: 1e6 }).cameras).toHaveLength(3);
  });

  it("cancel during the second chunk: the run is cancelled, no output and no chunk files remain", async () => {
    const { wb, engine, paths } = setup();
    engine.hangAt = 1;
    const run = await wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0, chunk: { size: 2, overlap: 1 } } });
    while (engine.jobs.length < 2) await new Promise((r) => setTimeout(r, 5));
    wb.cancelRun(run.id);
    await wb.idle();
    expect(wb.getRun(run.id).status).toBe("cancelled");
    expect(readdirSync(wb.store.runDir(run.id))).toEqual(["run.json"]);
  });

  it("refuses an overlap that is not smaller than the chunk", async () => {
    const { wb, paths } = setup();
    await expect(wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0, chunk: { size: 2, overlap: 2 } } })).rejects.toThrow(/overlap an integer from 1 to size - 1/);
  });
});

import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { AppEvent, EngineState } from "../../ipc/types.js";
import { CancelledError, type EngineJob, type EngineRunner } from "./engine-runner.js";
import { getFloat32, readSafetensors } from "../tensors/safetensors.js";
import { pngBytes } from "../testing/images.js";
import { cumulativeFixture } from "../../../common/bench-fixtures.js";
import { readModelDir, Workbench } from "./workbench.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(__dirname, "../../../../shared"));
const golden = join(shared, "goldens", "tiny-2f");
const haveGolden = existsSync(join(golden, "expected.safetensors"));
if (!haveGolden) console.warn(`\n*** SKIPPING workbench run tests: ${golden} not found (set VGGT_SHARED_DIR) ***\n`);

/** Stands in for the engine: "computes" by copying the golden output, or fails / waits for cancel. */
class FakeEngine implements EngineRunner {
  mode: "ok" | "fail" | "hang" = "ok";
  reportFlags = true;
  jobs: EngineJob[] = [];
  /** What the perf lab spawns for a benchmark ("fake": the real engine binary). */
  binary = "fake";
  /** Set on release(): whether the benchmark's process had started by then. */
  releases: { benchStarted: boolean }[] = [];
  benchLog = "";
  state(): EngineState {
    return { state: "ready", binary: this.binary, restarts: 0 };
  }
  async release() {
    this.releases.push({ benchStarted: existsSync(this.benchLog) });
  }
  onState() {
    return () => {};
  }
  async infer(job: EngineJob, onProgress: (p: { stage: string; step: number; total: number; elapsedMs: number }) => void, signal: AbortSignal) {
    this.jobs.push(job);
    onProgress({ stage: "encoder", step: 1, total: 2, elapsedMs: 1 });
    if (this.mode === "fail") throw new Error("bad_input: view.png: cannot decode");
    if (this.mode === "hang")
      await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new CancelledError()), { once: true }));
    copyFileSync(join(golden, "expected.safetensors"), job.output);
    onProgress({ stage: "write_output", step: 1, total: 1, elapsedMs: 2 });
    // Like the engine: the result states the switches the job ran with.
    return { stages: [{ stage: "encoder", ms: 1 }], ...(this.reportFlags && job.flags ? { flags: job.flags } : {}) };
  }
  async dispose() {}
}

const root = mkdtempSync(join(tmpdir(), "vggt-wb-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function setup(restrict = false) {
  const dataDir = mkdtempSync(join(root, "data-"));
  const images = join(root, "images");
  mkdirSync(images, { recursive: true });
  writeFileSync(join(images, "a.png"), pngBytes(28, 14));
  writeFileSync(join(images, "b.png"), pngBytes(28, 14));
  writeFileSync(join(images, "c.txt"), "text");
  const engine = new FakeEngine();
  // The benchmarks here run a stand-in engine script, not a VGGT model: the memory check (see
  // bench-memory.test.ts) is given room so that it does not depend on this machine's load.
  const wb = new Workbench({ mode: restrict ? "web" : "electron", dataDir, engine, modelDir: haveGolden ? golden : undefined, restrictToRoots: restrict ? [] : undefined, availableMemory: () => Number.POSITIVE_INFINITY });
  const events: AppEvent[] = [];
  wb.subscribe((e) => events.push(e));
  return { wb, engine, events, images };
}

describe.skipIf(!haveGolden)("Workbench", () => {
  it("queues a benchmark behind a running reconstruction, says so, and frees the app engine's model before the benchmark's process starts", async () => {
    const { wb, engine, events, images } = setup();
    // A stand-in `vggt-engine bench`: notes that it ran and prints a benchmark result.
    const dir = mkdtempSync(join(root, "bench-"));
    engine.benchLog = join(dir, "bench-ran");
    writeFileSync(join(dir, "result.json"), JSON.stringify(cumulativeFixture()));
    const script = join(dir, "fake-engine.mjs");
    writeFileSync(
      script,
      `#!${process.execPath}\nimport { readFileSync, writeFileSync } from "node:fs";\nif (process.argv[2] === "version") { console.log("vggt-engine 0.1.0"); process.exit(0); }\nwriteFileSync(${JSON.stringify(engine.benchLog)}, "1");\nprocess.stdout.write(readFileSync(${JSON.stringify(join(dir, "result.json"))}, "utf8"));\n`,
    );
    chmodSync(script, 0o755);
    engine.binary = script;
    engine.mode = "hang";
    const run = await wb.startRun({ images: [join(images, "a.png")], options: { preprocess: "crop", randomWeights: false, seed: 0 } });
    await new Promise((r) => setTimeout(r, 20));
    expect(wb.jobs.running()?.label).toBe(`run '${run.name}'`);
    const bench = await wb.startBenchmark({ kind: "cumulative", images: [], frames: 1, repeats: 1, threads: 1, randomWeights: true, parallel: { mode: "none", degree: 1 } });
    const waiting = events.find((e) => e.type === "bench-progress" && e.progress.benchId === bench.id);
    expect(waiting).toMatchObject({ progress: { phase: "waiting", line: `waiting for run '${run.name}' to finish (one engine job at a time)` } });
    await new Promise((r) => setTimeout(r, 200));
    // Still waiting: no benchmark process while the run holds the engine.
    expect(existsSync(engine.benchLog)).toBe(false);
    expect(wb.getBenchmark(bench.id).status).toBe("running");
    wb.cancelRun(run.id);
    await wb.idle();
    await wb.perf.idle();
    expect(wb.getRun(run.id).status).toBe("cancelled");
    expect(wb.getBenchmark(bench.id).status, wb.getBenchmark(bench.id).error).toBe("done");
    expect(engine.releases).toEqual([{ benchStarted: false }]);
    expect(existsSync(engine.benchLog)).toBe(true);
  });

  it("runs, records, and serves the point cloud of a run again later", async () => {
    const { wb, engine, events, images } = setup();
    expect(wb.appInfo().model).toMatchObject({ state: "ready", name: "tiny-2f" });
    const scan = await wb.scanPaths([images]);
    expect(scan.images.map((i) => i.name)).toEqual(["a.png", "b.png"]);
    expect(scan.rejected.map((r) => r.name)).toEqual(["c.txt"]);
    const run = await wb.startRun({ images: scan.images.map((i) => i.path), options: { preprocess: "crop", randomWeights: false, seed: 0 } });
    await wb.idle();
    expect(engine.jobs[0].model).toMatchObject({ kind: "weights", config: join(golden, "config.json") });
    expect(wb.getRun(run.id)).toMatchObject({ status: "done", frames: 2 });
    const progress = events.filter((e) => e.type === "run-progress");
    expect(progress.length).toBeGreaterThanOrEqual(3);
    const statuses = events.filter((e) => e.type === "run-updated").map((e) => (e as { run: { status: string } }).run.status);
    expect(statuses).toEqual(["queued", "running", "done"]);
    const pc = wb.getPointCloud({ runId: run.id, branch: "pointmap", maxPoints: 1e6 });
    // Every pixel of the golden output is finite: all S*H*W points are valid.
    const [S, H, W] = readSafetensors(join(golden, "expected.safetensors")).tensors.get("world_points")!.shape;
    expect(pc.totalPoints).toBe(S * H * W);
    expect(pc.count).toBe(pc.totalPoints);
    expect(pc.cameras).toHaveLength(2);
    expect(pc.cameras[0].thumb.length).toBe(pc.cameras[0].thumbWidth * pc.cameras[0].thumbHeight * 4);
    const small = wb.getPointCloud({ runId: run.id, branch: "depth", maxPoints: 10000 });
    // Bernoulli sampling at p = 10000/total: within 5 sigma (5*sqrt(10000*(1-p)) <= 500) of the budget.
    expect(Math.abs(small.count - 10000)).toBeLessThan(500);
    // Kept points are the engine's values, unchanged.
    const wp = getFloat32(readSafetensors(join(golden, "expected.safetensors")), "world_points").data;
    expect(Array.from(pc.positions.subarray(0, 6))).toEqual(Array.from(wp.subarray(0, 6)));
    // A new Workbench over the same folder still has the run (no recomputation).
    const again = new Workbench({ mode: "electron", dataDir: wb.store.dataDir, engine, modelDir: golden });
    expect(again.listRuns()[0]).toMatchObject({ id: run.id, status: "done" });
    expect(again.getPointCloud({ runId: run.id, branch: "pointmap", maxPoints: 1e6 }).count).toBe(pc.count);
  });

  it("records failures and cancellations with their reason", async () => {
    const { wb, engine, images } = setup();
    const paths = [join(images, "a.png")];
    engine.mode = "fail";
    const failed = await wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0 } });
    await wb.idle();
    expect(wb.getRun(failed.id)).toMatchObject({ status: "failed", error: "bad_input: view.png: cannot decode" });
    engine.mode = "hang";
    const hung = await wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0 } });
    await new Promise((r) => setTimeout(r, 20));
    wb.cancelRun(hung.id);
    await wb.idle();
    expect(wb.getRun(hung.id)).toMatchObject({ status: "cancelled" });
    expect(() => wb.getPointCloud({ runId: hung.id, branch: "pointmap", maxPoints: 1000 })).toThrow(/no result/);
    // Same images, same default name: the second and third runs are told apart.
    expect([failed.name, hung.name]).toEqual(["1 frame — a.png", "1 frame — a.png (2)"]);
  });

  it("refuses unusable input before starting the engine", async () => {
    const { wb, engine, images } = setup();
    await expect(wb.startRun({ images: [join(images, "c.txt")], options: { preprocess: "crop", randomWeights: false, seed: 0 } })).rejects.toThrow(/c.txt: not an image/);
    await expect(wb.startRun({ images: [], options: { preprocess: "crop", randomWeights: false, seed: 0 } })).rejects.toThrow(/at least one image/);
    expect(engine.jobs).toHaveLength(0);
  });

  it("passes the option set to the engine and records what the engine reports", async () => {
    const { wb, engine, images } = setup();
    const paths = [join(images, "a.png")];
    const flags = { bf16: true, "flash-attn": true };
    const run = await wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0, engineOptions: flags } });
    // Every known switch is stated explicitly, so the engine's defaults never decide.
    expect(run.engineOptions).toMatchObject({ source: "requested", parallel: { mode: "none", degree: 1 } });
    await wb.idle();
    expect(engine.jobs[0].flags).toEqual({ "sincos-lowp": false, "rope-fused": false, "rope-cache": false, "dpt-pos-cache": false, "fused-add-ln": false, bf16: true, w8a8: false, prepack: false, "flash-attn": true, "global-early-frame": false, "global-kv-subsample": false, "global-block-sparse": false });
    const done = wb.getRun(run.id);
    expect(done.engineOptions?.source).toBe("engine");
    expect(Object.entries(done.engineOptions!.flags).filter(([, v]) => v).map(([k]) => k)).toEqual(["bf16", "flash-attn"]);
    expect(wb.listRuns()[0].engineOptions?.flags.bf16).toBe(true);
    // An engine that does not report them: the requested set is recorded as such.
    engine.reportFlags = false;
    const r2 = await wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0, engineOptions: {} } });
    await wb.idle();
    expect(wb.getRun(r2.id).engineOptions).toMatchObject({ source: "requested", flags: { bf16: false } });
    await expect(wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0, engineOptions: { turbo: true } } })).rejects.toThrow(/unknown engine option "turbo"/);
    // A parallel run reaches the engine runner with its mode and degree.
    await wb.startRun({ images: paths, options: { preprocess: "crop", randomWeights: false, seed: 0, parallel: { mode: "ring", degree: 2 } } });
    await wb.idle();
    expect(engine.jobs.at(-1)!.parallel).toEqual({ mode: "ring", degree: 2 });
  });

  it("web mode reads only uploads", async () => {
    const { wb, images } = setup(true);
    await expect(wb.scanPaths([images])).rejects.toThrow(/not accessible in web mode/);
    expect(() => wb.readImage("/etc/passwd")).toThrow(/not accessible/);
    const { uploadId } = wb.createUpload();
    const dir = wb.store.uploadDir(uploadId);
    writeFileSync(join(dir, "x.png"), pngBytes());
    expect((await wb.scanPaths([dir])).images).toHaveLength(1);
  });
});

describe("Workbench without a model", () => {
  // The model manager's places are looked in: point them at empty folders for these tests.
  const saved = { cache: process.env.HF_HUB_CACHE, data: process.env.VGGT_WORKBENCH_DATA };
  beforeAll(() => {
    process.env.HF_HUB_CACHE = mkdtempSync(join(root, "hf-"));
    process.env.VGGT_WORKBENCH_DATA = mkdtempSync(join(root, "appdata-"));
  });
  afterAll(() => {
    for (const [k, v] of [["HF_HUB_CACHE", saved.cache], ["VGGT_WORKBENCH_DATA", saved.data]] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  it("finds VGGT-1B weights that the model manager put in the Hugging Face cache", async () => {
    const snap = join(process.env.HF_HUB_CACHE!, "models--facebook--VGGT-1B", "snapshots", "0123456789abcdef0123456789abcdef01234567");
    mkdirSync(snap, { recursive: true });
    mkdirSync(join(process.env.HF_HUB_CACHE!, "models--facebook--VGGT-1B", "refs"), { recursive: true });
    writeFileSync(join(process.env.HF_HUB_CACHE!, "models--facebook--VGGT-1B", "refs", "main"), "0123456789abcdef0123456789abcdef01234567");
    const file = join(snap, "model.safetensors");
    writeFileSync(file, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{}")]));
    const info = readModelDir(undefined);
    expect(info.status).toMatchObject({ state: "ready", dir: file });
    expect(info).toMatchObject({ weights: file, config: "vggt-1b" });
    rmSync(join(process.env.HF_HUB_CACHE!, "models--facebook--VGGT-1B"), { recursive: true });
    expect(readModelDir(undefined).status.state).toBe("none");
  });

  it("takes the official release's single file, or a folder holding it, and names what is wrong otherwise", () => {
    const dir = mkdtempSync(join(root, "official-"));
    const file = join(dir, "model.safetensors");
    writeFileSync(file, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{}")]));
    expect(readModelDir(file)).toMatchObject({ status: { state: "ready", dir: file }, weights: file, config: "vggt-1b" });
    expect(readModelDir(dir)).toMatchObject({ status: { state: "ready", dir: file, name: `${basename(dir)}/model.safetensors` }, weights: file });
    const empty = mkdtempSync(join(root, "empty-model-"));
    expect(readModelDir(empty).status).toEqual({ state: "none", hint: expect.stringMatching(/holds no checkpoint: expected model\.safetensors or model\.pt/) });
    expect(readModelDir(join(root, "missing")).status).toEqual({ state: "none", hint: `${join(root, "missing")}: no such file or folder.` });
  });

  it("says so and allows only benchmark runs", async () => {
    const dataDir = mkdtempSync(join(root, "nomodel-"));
    const wb = new Workbench({ mode: "electron", dataDir, engine: new FakeEngine() });
    expect(wb.appInfo().model.state).toBe("none");
    writeFileSync(join(dataDir, "a.png"), pngBytes());
    await expect(wb.startRun({ images: [join(dataDir, "a.png")], options: { preprocess: "crop", randomWeights: false, seed: 0 } })).rejects.toThrow(/no model is installed/);
    const r = await wb.startRun({ images: [join(dataDir, "a.png")], options: { preprocess: "crop", randomWeights: true, seed: 3 } });
    expect(r).toMatchObject({ randomWeights: true, model: "random weights (seed 3)" });
    return wb.idle();
  });
});

// Click-to-track with the real engine: a query on another frame than 0 needs a forward pass, and
// it runs in the app's own engine process (no second process, no second model); the tracks equal
// those of a separate `vggt-engine infer --query-points` process on the same frames. Then the
// app engine lets go of its model when asked (before a benchmark's process loads one).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { engineTrackPredictor } from "../refine/engine-tracks.js";
import { SupervisedEngine } from "./engine-adapter.js";
import { Workbench } from "./workbench.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(import.meta.dirname, "../../../../shared"));
const model = join(shared, "goldens", "tiny-track-2f");
const ready = existsSync(join(model, "weights.safetensors"));
if (!ready) console.warn("*** ../shared/goldens/tiny-track-2f missing: shared-engine click-to-track test SKIPPED ***");
const images = ["view-1.png", "view-2.png"].map((f) => resolve(import.meta.dirname, "../../../assets/sample", f));

describe.skipIf(!ready)("Workbench on one engine process", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vggt-wb-shared-"));
  const engine = new SupervisedEngine({ eager: false, threads: 2 });
  const wb = new Workbench({ mode: "electron", dataDir: join(tmp, "data"), engine, modelDir: model });
  afterAll(async () => {
    await wb.dispose();
    await engine.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("tracks from frame 1 with a forward pass in the app's engine, matching a separate engine process", async () => {
    const run = await wb.startRun({ images, options: { preprocess: "crop", randomWeights: false, seed: 0 } });
    await wb.idle();
    expect(wb.getRun(run.id).status, wb.getRun(run.id).error).toBe("done");
    const pid = (await statusPid(engine))!;
    const jobsBefore = (await status(engine)).jobs_completed;
    const points: [number, number][] = [[120, 60], [300, 200]];
    const viaApp = await wb.trackPoints({ runId: run.id, frame: 1, points, space: "model" });
    expect(viaApp.via).toBe("forward-pass");
    // In the run's process (the model was not loaded a second time elsewhere): its infer (with
    // the track cache) and track jobs are counted there.
    expect(await statusPid(engine)).toBe(pid);
    expect((await status(engine)).jobs_completed - jobsBefore).toBe(2);
    const cli = await engineTrackPredictor({ binary: engine.state().binary!, model: { weights: join(model, "weights.safetensors"), config: join(model, "config.json") }, images, preprocess: "crop" })(1, points);
    // Both are the engine's forward pass on the same frames in the same order with the same
    // switches: equal to 4 decimals (the rows of frames 0 and 1 differ, so a row put back in the
    // wrong frame order fails).
    for (let s = 0; s < 2; s++)
      for (let n = 0; n < points.length; n++) {
        expect(viaApp.vis[s][n]).toBeCloseTo(cli.vis[s][n], 4);
        expect(viaApp.conf[s][n]).toBeCloseTo(cli.conf[s][n], 4);
      }
    // Frame 1's tracks at frame 1 are the queries themselves (the official track[0] = queries).
    expect(cli.track[1]).toEqual(points);
  }, 300_000);

  it("frees its model when asked; the next run loads it again", async () => {
    await engine.release();
    expect((await status(engine)).model).toBeNull();
    const run = await wb.startRun({ images, options: { preprocess: "crop", randomWeights: false, seed: 0 } });
    await wb.idle();
    expect(wb.getRun(run.id).status, wb.getRun(run.id).error).toBe("done");
  }, 300_000);

  it("unloads the model after the idle time and says so; the next job loads it again", async () => {
    const idle = new SupervisedEngine({ eager: false, threads: 2, idleReleaseMs: 300 });
    try {
      const job = { model: { kind: "weights" as const, weights: join(model, "weights.safetensors"), config: join(model, "config.json") }, images, preprocess: "crop" as const, output: join(tmp, "idle.safetensors") };
      await idle.infer(job, () => undefined, new AbortController().signal);
      expect((await status(idle)).model).not.toBeNull();
      await new Promise((r) => setTimeout(r, 1500));
      expect((await status(idle)).model).toBeNull();
      expect(idle.state().message).toMatch(/model released after <1 min idle/);
      await idle.infer(job, () => undefined, new AbortController().signal);
      expect((await status(idle)).model).not.toBeNull();
    } finally {
      await idle.dispose();
    }
  }, 120_000);
});

async function statusPid(engine: SupervisedEngine): Promise<number | undefined> {
  return (engine as unknown as { supervisor: { current: { pid?: number } | null } }).supervisor.current?.pid;
}

function status(engine: SupervisedEngine): Promise<{ model: unknown; jobs_completed: number }> {
  return (engine as unknown as { supervisor: { status(): Promise<{ model: unknown; jobs_completed: number }> } }).supervisor.status();
}

// The app's engine runner and the track cache, with the real engine: a run with a track-head model
// leaves its features for `track`; a checkpoint without track-head tensors (tiny-2f's weights under
// tiny-track-2f's config) still runs, without a cache.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SupervisedEngine } from "./engine-adapter.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(import.meta.dirname, "../../../../shared"));
const track = join(shared, "goldens", "tiny-track-2f");
const plain = join(shared, "goldens", "tiny-2f");
const ready = existsSync(join(track, "weights.safetensors")) && existsSync(join(plain, "weights.safetensors"));
if (!ready) console.warn("*** ../shared/goldens tiny-track-2f / tiny-2f missing: track-cache engine-runner test SKIPPED ***");
const images = ["view-1.png", "view-2.png"].map((f) => resolve(import.meta.dirname, "../../../assets/sample", f));

describe.skipIf(!ready)("SupervisedEngine track cache", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vggt-track-run-"));
  const engine = new SupervisedEngine({ eager: false, threads: 2 });
  afterAll(async () => {
    await engine.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("a run with trackCache leaves features that track answers from (track[0] = the queries)", async () => {
    const model = { kind: "weights" as const, weights: join(track, "weights.safetensors"), config: join(track, "config.json") };
    const r = await engine.infer({ model, images, preprocess: "crop", output: join(tmp, "a.safetensors"), trackCache: true }, () => undefined, new AbortController().signal);
    expect(r.trackCacheRun).toBeTruthy();
    const t = await engine.track({ run: r.trackCacheRun!, query_points: [[100, 50], [300.5, 200]], query_space: "model" });
    expect(t.track.length).toBe(2);
    expect(t.track[0]).toEqual([[100, 50], [300.5, 200]]);
    expect(t.vis[1].every((v) => v > 0 && v < 1)).toBe(true);
  }, 180_000);

  it("a checkpoint without the track head runs without a cache instead of failing", async () => {
    const model = { kind: "weights" as const, weights: join(plain, "weights.safetensors"), config: join(track, "config.json") };
    const out = join(tmp, "b.safetensors");
    const r = await engine.infer({ model, images, preprocess: "crop", output: out, trackCache: true }, () => undefined, new AbortController().signal);
    expect(r.trackCacheRun).toBeUndefined();
    expect(existsSync(out)).toBe(true);
  }, 180_000);
});

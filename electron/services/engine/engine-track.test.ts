// Point tracking through the TypeScript client against the real engine: infer with a track
// cache, then `track` on the cached run reproduces the official golden case tiny-track-2f.
// Tolerance (goldens README, track section): vis/conf max|o-e| <= 1e-3 rms(e), rms(o-e) <=
// 1e-4 rms(e); track the same numbers relative to the rms displacement from the queries.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFloat32, readSafetensors } from "../tensors/safetensors.js";
import { EngineClient } from "./engine-client.js";
import { EngineError } from "./engine-errors.js";
import type { ProgressEvent } from "./protocol.js";
import { HAVE_SHARED, SHARED_DIR, engineBinary } from "./test-fixtures.js";

const TRACK = join(SHARED_DIR, "goldens/tiny-track-2f");
const tmp = mkdtempSync(join(tmpdir(), "vggt-engine-track-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** max and rms of |o - e| divided by `scale`. */
function deviation(o: ArrayLike<number>, e: ArrayLike<number>, scale: number): { max: number; rms: number } {
  let max = 0;
  let ss = 0;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(o[i] - e[i]);
    if (!(d <= max)) max = d; // NaN propagates and fails
    ss += d * d;
  }
  return { max: max / scale, rms: Math.sqrt(ss / e.length) / scale };
}
const rms = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0) / v.length);

describe.skipIf(!HAVE_SHARED)("EngineClient.track with the real engine", () => {
  let client: EngineClient;
  beforeAll(async () => {
    client = await EngineClient.start({ binary: engineBinary() });
    await client.load({ weights: join(TRACK, "weights.safetensors"), config: join(TRACK, "config.json") });
  });
  afterAll(async () => {
    expect((await client?.shutdown())?.exitCode).toBe(0);
  });

  it("announces the track requests", () => {
    expect(client.hello.requests).toEqual(expect.arrayContaining(["track", "release_track_cache"]));
  });

  it("tracks the golden queries on a cached run, without re-running the aggregator", async () => {
    const input = join(TRACK, "input.safetensors");
    const run = client.infer({ input_tensor: input, output: join(tmp, "run.safetensors"), track_cache: true });
    const ran = await run.done;
    expect(ran.track_cache).toMatchObject({ run: run.id, frames: 2, feature_height: 63, feature_width: 91, channels: 32 });
    expect(ran.track_cache!.bytes).toBe(2 * (63 * 91 + 31 * 45 + 15 * 22 + 7 * 11) * 32 * 4);
    expect((await client.status()).track_cache).toEqual({ run: run.id, bytes: ran.track_cache!.bytes });

    const q = getFloat32(readSafetensors(input), "query_points", input);
    const queries: [number, number][] = [];
    for (let i = 0; i < q.shape[0]; i++) queries.push([q.data[2 * i], q.data[2 * i + 1]]);
    const stages = new Set<string>();
    const job = client.track({ run: run.id, query_points: queries, output: join(tmp, "tracks.safetensors") });
    for await (const ev of job as AsyncIterable<ProgressEvent>) stages.add(ev.stage);
    const res = await job.done;
    expect([...stages]).toEqual(["track"]);
    expect([res.frames, res.points, res.iterations]).toEqual([2, 16, 4]);
    expect(res.track[0]).toEqual(queries.map(([x, y]) => [Math.fround(x), Math.fround(y)]));

    const exp = readSafetensors(join(TRACK, "expected.safetensors"));
    const et = getFloat32(exp, "track", "expected");
    const flat = res.track.flat(2);
    let disp = 0;
    for (let i = 0; i < et.data.length; i++) disp += (et.data[i] - q.data[i % q.data.length]) ** 2;
    const dTrack = deviation(flat, et.data, Math.sqrt(disp / et.data.length));
    expect(dTrack.max).toBeLessThanOrEqual(1e-3);
    expect(dTrack.rms).toBeLessThanOrEqual(1e-4);
    for (const [name, got] of [
      ["vis", res.vis],
      ["conf", res.conf!],
    ] as const) {
      const e = getFloat32(exp, name, "expected").data;
      const d = deviation(got.flat(), e, rms(e));
      expect(d.max, name).toBeLessThanOrEqual(1e-3);
      expect(d.rms, name).toBeLessThanOrEqual(1e-4);
    }
    // The same numbers in the optional output file.
    const file = readSafetensors(join(tmp, "tracks.safetensors"));
    expect(Array.from(getFloat32(file, "track", "tracks").data)).toEqual(flat.map(Math.fround));
  });

  it("reports a released or unknown cache as no_track_cache, and bad points as bad_request", async () => {
    const bad = await client.track({ run: "nope", grid: 2 }).done.catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(EngineError);
    expect((bad as EngineError).code).toBe("no_track_cache");

    const run = client.infer({ input_tensor: join(TRACK, "input.safetensors"), output: join(tmp, "r2.safetensors"), track_cache: true });
    await run.done;
    const outside = await client.track({ run: run.id, query_points: [[1000, 1]] }).done.catch((e: unknown) => e);
    expect((outside as EngineError).code).toBe("bad_request");
    const grid = await client.track({ run: run.id, grid: 3 }).done;
    expect(grid.points).toBe(9);
    const rel = await client.releaseTrackCache();
    expect(rel).toMatchObject({ released: true, run: run.id });
    const gone = await client.track({ run: run.id, grid: 1 }).done.catch((e: unknown) => e);
    expect((gone as EngineError).code).toBe("no_track_cache");
  });
});

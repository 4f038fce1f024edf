// A sequence-parallel engine launched the way the app does it: `mpirun -np N ... vggt-engine serve
// --parallel MODE --degree N` (oversubscribed on this 2-core machine, one thread per rank).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EngineClient } from "./engine-client.js";
import { EngineError } from "./engine-errors.js";
import type { MpiLauncher } from "./engine-launch.js";
import type { ParallelMode } from "./protocol.js";
import { HAVE_SHARED, SHARED_DIR, TINY, engineBinary, expectMatchesGolden, kitchenFrames, tinyLoad } from "./test-fixtures.js";

const HAVE_MPIRUN = spawnSync("sh", ["-c", "command -v mpirun"]).status === 0;
if (!HAVE_MPIRUN) console.warn("\n*** SKIPPING parallel engine tests: mpirun not found ***\n");

const tmp = mkdtempSync(join(tmpdir(), "vggt-engine-parallel-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;

function start(np: number, mode: ParallelMode, extra: Partial<MpiLauncher> = {}): Promise<EngineClient> {
  return EngineClient.start({
    binary: engineBinary(),
    threads: 1,
    launcher: { kind: "mpirun", np, mode, oversubscribe: true, threadsPerRank: 1, allowRunAsRoot: isRoot, ...extra },
    // Open MPI also wants these two when run as root.
    env: { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" },
    startupTimeoutMs: 60_000,
  });
}

async function errorOf(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(e, "expected a rejection").toBeInstanceOf(EngineError);
  return e as EngineError;
}

describe.skipIf(!HAVE_SHARED || !HAVE_MPIRUN)("parallel engine under mpirun", () => {
  it("ring on 2 ranks from a hostfile: hello, golden outputs, progress, a cancel that stops every rank", async () => {
    const hostfile = join(tmp, "hosts");
    writeFileSync(hostfile, "localhost slots=2\n");
    const client = await start(2, "ring", { hostfile });
    try {
      expect(client.hello.parallel).toEqual({ mode: "ring", degree: 2, rank: 0, size: 2 });
      await client.load({ ...tinyLoad(), options: { threads: 1 } });

      const out = join(tmp, "ring.safetensors");
      const stages = new Set<string>();
      await client.infer({ input_tensor: join(TINY, "input.safetensors"), output: out }, { onProgress: (p) => stages.add(p.stage) }).done;
      expectMatchesGolden(out, join(TINY, "expected.safetensors"));
      for (const s of ["encoder", "aggregator", "camera_head", "depth_head", "geometry", "write_output"]) expect(stages).toContain(s);

      // Cancel mid-forward: rank 0 shares the flag at the next layer boundary, all ranks stop
      // there. If a follower were left behind in a collective, the next job would hang.
      const cancelled = join(tmp, "cancelled.safetensors");
      const job = client.infer({ images: kitchenFrames(4), output: cancelled });
      for await (const ev of job) if (ev.stage === "aggregator") break;
      expect((await job.cancel()).state).toBe("running");
      expect((await errorOf(job.done)).code).toBe("cancelled");
      expect(existsSync(cancelled)).toBe(false);
      expect((await client.status()).state).toBe("idle");

      const again = join(tmp, "again.safetensors");
      await client.infer({ input_tensor: join(TINY, "input.safetensors"), output: again }, { timeoutMs: 60_000 }).done;
      expectMatchesGolden(again, join(TINY, "expected.safetensors"));
    } finally {
      const exit = await client.shutdown(30_000);
      expect(exit.exitCode).toBe(0);
    }
  }, 180_000);

  it("ulysses with a head count the ranks do not divide: the load fails clearly, the engine keeps serving", async () => {
    const client = await start(3, "ulysses");
    try {
      expect(client.hello.parallel).toEqual({ mode: "ulysses", degree: 3, rank: 0, size: 3 });
      const err = await errorOf(client.load(tinyLoad()));
      expect(err.code).toBe("unsupported");
      expect(err.message).toMatch(/4 attention heads.*divisible by the rank count \(got 3 ranks\)/);
      expect((await client.status()).model).toBeNull();
    } finally {
      expect((await client.shutdown(30_000)).exitCode).toBe(0);
    }
  }, 120_000);

  it("ulysses on 2 ranks matches the golden case", async () => {
    const client = await start(2, "ulysses");
    try {
      await client.load({ ...tinyLoad(), options: { threads: 1 } });
      // A second load replaces the model on every rank (3 frames: 2 + 1, uneven).
      const g = join(SHARED_DIR, "goldens/tiny-3f-portrait");
      await client.load({ weights: join(g, "weights.safetensors"), config: join(g, "config.json"), options: { threads: 1 } });
      const out = join(tmp, "ulysses.safetensors");
      const r = await client.infer({ input_tensor: join(g, "input.safetensors"), output: out }).done;
      expect(r.frames).toBe(3);
      expectMatchesGolden(out, join(g, "expected.safetensors"));
    } finally {
      expect((await client.shutdown(30_000)).exitCode).toBe(0);
    }
  }, 120_000);
});

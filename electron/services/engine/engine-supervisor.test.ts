import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EngineError, EngineExitError } from "./engine-errors.js";
import { EngineSupervisor, type CrashInfo } from "./engine-supervisor.js";
import { HAVE_SHARED, TINY, engineBinary, expectMatchesGolden, kitchenFrames, tinyLoad } from "./test-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-engine-sup-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("EngineSupervisor", () => {
  it("backs off exponentially and gives up on an engine that never starts", async () => {
    const fake = join(tmp, "broken-engine");
    writeFileSync(fake, "#!/bin/sh\necho 'libdnnl.so: cannot open shared object file' >&2\nexit 127\n");
    chmodSync(fake, 0o755);
    const sup = new EngineSupervisor({ client: { binary: fake }, backoff: { initialMs: 20, factor: 3, maxConsecutiveFailures: 3 } });
    const crashes: CrashInfo[] = [];
    sup.on("crash", (c) => crashes.push(c));
    const gaveUp = new Promise<Error>((r) => sup.on("gave-up", r));
    const job = sup.infer({ input_tensor: "/x", output: "/y" });
    const err = await job.done.then(
      () => null,
      (e: unknown) => e as EngineError,
    );
    expect(err?.code).toBe("engine_unavailable");
    expect((await gaveUp).message).toMatch(/3 times in a row[\s\S]*cannot open shared object/);
    expect(crashes.map((c) => c.restartInMs)).toEqual([20, 60, null]);
    // Later requests fail fast instead of hanging.
    await expect(sup.status()).rejects.toThrow(/gave up restarting/);
  });

  it.skipIf(!HAVE_SHARED)(
    "kill -9 mid-job: the job rejects with a crash error, the engine restarts with the model, the next job succeeds",
    async () => {
      const sup = new EngineSupervisor({ client: { binary: engineBinary() }, backoff: { initialMs: 50 } });
      try {
        const first = await sup.start();
        await sup.load(tinyLoad());
        const crashes: CrashInfo[] = [];
        sup.on("crash", (c) => crashes.push(c));
        const readyAgain = new Promise<{ restarts: number }>((r) => sup.once("ready", r));

        const job = sup.infer({ images: kitchenFrames(6), output: join(tmp, "killed.safetensors") });
        for await (const ev of job) if (ev.stage === "encoder") break;
        process.kill(first.pid, "SIGKILL"); // from outside, as an OOM killer would

        const err = await job.done.then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(EngineExitError);
        expect((err as EngineExitError).code).toBe("engine_crashed");
        expect((err as EngineExitError).message).toMatch(/^engine crashed \(signal SIGKILL\) while infer/);
        expect((err as EngineExitError).signal).toBe("SIGKILL");

        expect((await readyAgain).restarts).toBe(1);
        expect(crashes).toHaveLength(1);
        expect(crashes[0].restartInMs).toBe(50);
        expect(sup.current?.pid).not.toBe(first.pid);
        // The last model came back without being asked.
        expect((await sup.status()).model?.source).toBe(tinyLoad().weights);

        const out = join(tmp, "after-restart.safetensors");
        const res = await sup.infer({ input_tensor: join(TINY, "input.safetensors"), output: out }).done;
        expect(res.output).toBe(out);
        expectMatchesGolden(out, join(TINY, "expected.safetensors"));
      } finally {
        await sup.stop();
      }
      expect(sup.current).toBeNull();
    },
  );
});

// Against the real `vggt-engine serve` binary and the golden tiny model.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSafetensors } from "../tensors/safetensors.js";
import { EngineClient } from "./engine-client.js";
import { EngineError } from "./engine-errors.js";
import type { ErrorEvent, ProgressEvent } from "./protocol.js";
import { HAVE_SHARED, TINY, engineBinary, expectMatchesGolden, kitchenFrames, tinyLoad } from "./test-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-engine-client-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Rejection of `p` as an EngineError (fails if it resolves). */
async function engineErrorOf(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(e, "expected a rejection").toBeInstanceOf(EngineError);
  return e as EngineError;
}

const STAGE_ORDER = ["read_input", "encoder", "aggregator", "camera_head", "depth_head", "point_head", "geometry", "write_output"];

describe("EngineClient start-up", () => {
  it("refuses an engine that speaks another protocol version, and kills it", async () => {
    const fake = join(tmp, "fake-engine");
    writeFileSync(fake, `#!/bin/sh\necho '{"type":"hello","protocol":99}'\nexec sleep 30\n`);
    chmodSync(fake, 0o755);
    const err = await engineErrorOf(EngineClient.start({ binary: fake }));
    expect(err.code).toBe("protocol_mismatch");
    expect(err.message).toMatch(/protocol 99/);
  });

  it("reports an engine that dies before saying hello, with its stderr", async () => {
    const fake = join(tmp, "dying-engine");
    writeFileSync(fake, `#!/bin/sh\necho "cannot map weights: boom" >&2\nexit 3\n`);
    chmodSync(fake, 0o755);
    const err = await engineErrorOf(EngineClient.start({ binary: fake }));
    expect(err.code).toBe("spawn_failed");
    expect(err.message).toMatch(/exit code 3[\s\S]*boom/);
  });
});

describe.skipIf(!HAVE_SHARED)("EngineClient with the real engine", () => {
  let client: EngineClient;
  const warnings: string[] = [];
  const unmatched: ErrorEvent[] = [];

  beforeAll(async () => {
    client = await EngineClient.start({ binary: engineBinary() });
    client.on("protocol-warning", (w) => warnings.push(w));
    client.on("unmatched-error", (e) => unmatched.push(e));
  });
  afterAll(async () => {
    const exit = await client?.shutdown();
    expect(exit?.exitCode).toBe(0);
    // stdout carried nothing but protocol messages the whole time.
    expect(warnings).toEqual([]);
  });

  it("says hello with protocol and engine versions, ISA and threads", () => {
    const h = client.hello;
    expect(h.protocol).toBe(1);
    expect(h.engine_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(h.isa).toMatch(/\S/); // the engine's own summary (format owned by the kernels)
    expect(h.flags).toContain("bf16");
    expect(h.threads).toBeGreaterThan(0);
    expect(h.pid).toBe(client.pid);
    expect(h.parallel).toBeNull();
  });

  it("rejects infer before any load with no_model", async () => {
    const err = await engineErrorOf(
      client.infer({ input_tensor: join(TINY, "input.safetensors"), output: join(tmp, "x.safetensors") }).done,
    );
    expect(err.code).toBe("no_model");
  });

  it("loads the golden tiny model and reproduces expected.safetensors, with ordered progress", async () => {
    const load = await client.load(tinyLoad());
    expect(load.model.source).toBe(tinyLoad().weights);
    expect(load.model.random_weights).toBe(false);

    const out = join(tmp, "tiny-2f.safetensors");
    const job = client.infer({ input_tensor: join(TINY, "input.safetensors"), output: out });
    const seen: ProgressEvent[] = [];
    for await (const ev of job) seen.push(ev); // the iterator ends when the job does
    const res = await job.done;

    expect(res.output).toBe(out);
    expect([res.frames, res.height, res.width]).toEqual([2, 126, 182]);
    expect(res.memory.peak_rss_bytes).toBeGreaterThan(1 << 20);
    expect(res.timings.map((t) => t.stage)).toEqual(expect.arrayContaining(["read_input", "encoder", "aggregator", "write_output"]));
    expectMatchesGolden(out, join(TINY, "expected.safetensors"));
    const meta = readSafetensors(out).metadata;
    expect(meta.format).toBe("vggt-engine-output/1");
    expect(meta.preprocess).toBe("tensor");
    expect(meta.model).toBe(tinyLoad().weights);

    // Stages in pipeline order, steps counting up within a stage, time never going back.
    expect(seen.every((e) => e.id === job.id)).toBe(true);
    expect(seen[0].stage).toBe("read_input");
    expect(seen.at(-1)!.stage).toBe("write_output");
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1], seen[i]];
      expect(STAGE_ORDER.indexOf(b.stage), `${a.stage} -> ${b.stage}`).toBeGreaterThanOrEqual(STAGE_ORDER.indexOf(a.stage));
      if (a.stage === b.stage) expect(b.step).toBe(a.step + 1);
      expect(b.elapsed_ms).toBeGreaterThanOrEqual(a.elapsed_ms);
      expect(b.step).toBeLessThanOrEqual(b.total);
    }
    expect(new Set(seen.map((e) => e.stage))).toEqual(new Set(STAGE_ORDER));
  });

  it.each(["tiny-1f-518x350", "tiny-3f-portrait"])("reproduces golden case %s (model reloaded in the same engine)", async (name) => {
    const dir = join(TINY, "..", name);
    await client.load({ weights: join(dir, "weights.safetensors"), config: join(dir, "config.json") });
    const out = join(tmp, `${name}.safetensors`);
    await client.infer({ input_tensor: join(dir, "input.safetensors"), output: out }).done;
    expectMatchesGolden(out, join(dir, "expected.safetensors"));
    await client.load(tinyLoad()); // later tests expect tiny-2f
  });

  it("cancels a running job; no output is written and the engine keeps serving", async () => {
    const out = join(tmp, "cancelled.safetensors");
    const job = client.infer({ images: kitchenFrames(6), output: out });
    for await (const ev of job) if (ev.stage === "encoder") break; // the forward pass is under way
    const c = await job.cancel();
    expect(c.state).toBe("running");
    const err = await engineErrorOf(job.done);
    expect(err.code).toBe("cancelled");
    expect(existsSync(out)).toBe(false);
    const st = await client.status();
    expect(st.state).toBe("idle");
    expect(st.model?.source).toBe(tinyLoad().weights);
  });

  it("reports missing and corrupt images, a truncated checkpoint and a malformed line, and keeps serving", async () => {
    const out = join(tmp, "bad.safetensors");
    const missing = join(tmp, "missing.png");
    let err = await engineErrorOf(client.infer({ images: [missing], output: out }).done);
    expect(err.code).toBe("not_found");
    expect(err.message).toContain(missing);

    const corrupt = join(tmp, "corrupt.png");
    writeFileSync(corrupt, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("garbage")]));
    err = await engineErrorOf(client.infer({ images: [corrupt], output: out }).done);
    expect(err.code).toBe("bad_input");
    expect(err.message).toContain(corrupt);
    expect(existsSync(out)).toBe(false);

    const malformed = new Promise<ErrorEvent>((resolve) => client.once("unmatched-error", resolve));
    client.sendRaw('{"type":"infer","id":');
    const m = await malformed;
    expect(m.code).toBe("bad_request");
    expect(m.message).toMatch(/malformed JSON/);

    const truncated = join(tmp, "truncated.safetensors");
    const weights = readFileSync(tinyLoad().weights);
    writeFileSync(truncated, weights.subarray(0, weights.length >> 1));
    err = await engineErrorOf(client.load({ weights: truncated, config: tinyLoad().config }));
    expect(err.code).toBe("bad_checkpoint");
    expect(err.message).toContain(truncated);

    // A failed load leaves no model (the old one is released before loading); reload and run.
    expect((await client.status()).model).toBeNull();
    await client.load(tinyLoad());
    const ok = client.infer({ input_tensor: join(TINY, "input.safetensors"), output: out });
    expect((await ok.done).output).toBe(out);
    expect(unmatched).toHaveLength(1);
  });

  it("a timed-out job rejects with timeout and is cancelled in the engine", async () => {
    const job = client.infer({ images: kitchenFrames(6), output: join(tmp, "timeout.safetensors") }, { timeoutMs: 300 });
    const err = await engineErrorOf(job.done);
    expect(err.code).toBe("timeout");
    const deadline = Date.now() + 30_000;
    let st = await client.status();
    while (st.state !== "idle" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      st = await client.status();
    }
    expect(st.state).toBe("idle");
    expect(existsSync(join(tmp, "timeout.safetensors"))).toBe(false);
  });
});

// `vggt-workbench model ...` in process, against the local test hub.
import { chmodSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "./registry.js";
import { HubTestServer } from "../model-manager/hub-test-server.js";
import { modelCommand } from "./model-command.js";
import { MICRO_CONFIG, checkpointBytes } from "../model-manager/test-fixtures.js";
import { VGGT_1B_CONFIG } from "../model-manager/vggt-params.js";

const ckpt = checkpointBytes();
let server: HubTestServer;
let dir: string;
let cfgPath: string;

async function run(args: string[], extraEnv: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: (t: string) => void (stdout += t),
    stderr: (t: string) => void (stderr += t),
    isTTY: false,
    env: {
      HF_ENDPOINT: server.hubUrl,
      HF_HUB_CACHE: join(dir, "hub"),
      VGGT_WORKBENCH_CACHE: join(dir, "app-cache"),
      VGGT_WORKBENCH_DATA: join(dir, "app-data"),
      ...extraEnv,
    },
  };
  const code = await modelCommand.run(args, io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  server = new HubTestServer();
  await server.start();
  dir = mkdtempSync(join(tmpdir(), "vggt-cli-model-"));
  cfgPath = join(dir, "micro-config.json");
  writeFileSync(cfgPath, JSON.stringify(MICRO_CONFIG));
  server.addFile("facebook/VGGT-1B", "main", "model.safetensors", { data: ckpt, commit: "f".repeat(40) });
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  server.behaviour = { hashVia: "x-linked-etag", chunkSize: 16384, chunkDelayMs: 2 };
});

describe("vggt-workbench model", () => {
  it("offline before anything is downloaded: exit 1, says where to put the file", async () => {
    const r = await run(["download"], { HF_HUB_OFFLINE: "1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(dir, "app-data", "models", "model.safetensors"));
    const p = await run(["path", "--config", cfgPath]);
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/not on this computer yet/);
  });

  it("download shows progress lines, prints the path; path/list/verify then work", async () => {
    const r = await run(["download", "--config", cfgPath]);
    expect(r.code, r.stderr).toBe(0);
    const path = join(dir, "hub", "models--facebook--VGGT-1B", "snapshots", "f".repeat(40), "model.safetensors");
    expect(r.stdout.split("\n")[0]).toBe(path);
    expect(r.stderr).toMatch(/downloading model\.safetensors .*100\.0% .* ETA/);
    const p = await run(["path", "--config", cfgPath, "--json"]);
    expect(JSON.parse(p.stdout)).toMatchObject({ path, origin: "hf-cache", hashVerified: true });
    const l = await run(["list"]);
    expect(l.stdout).toContain(`facebook/VGGT-1B@main model.safetensors  ${(ckpt.length / 1000).toFixed(0)} KB`);
    expect(l.stdout).toMatch(/Total on disk: /);
    const v = await run(["verify"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^OK /);
    // Damage the blob: verify reports it.
    const fd = openSync(join(dir, "hub", "models--facebook--VGGT-1B", "blobs", HubTestServer.sha256(ckpt)), "r+");
    writeSync(fd, Buffer.from([0x42]), 0, 1, 5000);
    closeSync(fd);
    const v2 = await run(["verify"]);
    expect(v2.code).toBe(1);
    expect(v2.stdout).toMatch(/^BAD .*delete it and download again/);
  });

  it("validate: OK report for a good file, named errors for a truncated one", async () => {
    const good = join(dir, "good.safetensors");
    writeFileSync(good, ckpt);
    const ok = await run(["validate", good, "--config", cfgPath]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^${good}: OK \\(safetensors, .*, 381 tensors`));
    const cut = join(dir, "cut.safetensors");
    writeFileSync(cut, ckpt.subarray(0, 1000));
    const bad = await run(["validate", cut]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${cut}: INVALID`);
    expect(bad.stdout).toMatch(/error: .*cut\.safetensors: truncated/);
  });

  it("convert through the engine (a stand-in script here), reused the second time; rm-converted", async () => {
    const good = join(dir, "good2.safetensors");
    writeFileSync(good, ckpt);
    const fake = join(dir, "vggt-engine");
    writeFileSync(fake, `#!/bin/sh\nif [ "$1" = "version" ]; then echo "vggt-engine 9.9.9"; exit 0; fi\nprintf 'bf16-bytes' > "$7"\n`);
    chmodSync(fake, 0o755);
    const a = await run(["convert", "--to", "bf16", "--weights", good, "--config", cfgPath, "--engine", fake]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/converted: bf16, 10 B/);
    const b = await run(["convert", "--to", "bf16", "--weights", good, "--config", cfgPath, "--engine", fake]);
    expect(b.stdout).toMatch(/reused: bf16/);
    expect((await run(["list"])).stdout).toMatch(/bf16 \(engine 9\.9\.9\)/);
    const rm = await run(["rm-converted", "--all"]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toMatch(/^deleted /);
    expect((await run(["rm-converted", "nokey"])).code).toBe(1);
  });

  it("usage errors", async () => {
    await expect(run([])).rejects.toBeInstanceOf(UsageError);
    await expect(run(["frob"])).rejects.toThrow(/unknown action 'frob'/);
    await expect(run(["convert", "--to", "fp8"])).rejects.toThrow(/--to must be one of bf16, int8/);
    await expect(run(["validate"])).rejects.toThrow(/one file/);
    await expect(run(["list", "--bogus"])).rejects.toBeInstanceOf(UsageError);
  });
});

describe("model validate --config", () => {
  it("names the file on bad JSON and on bad fields", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "vggt-cfg-"));
    try {
      const bad = join(tmp, "bad.json");
      writeFileSync(bad, JSON.stringify({ ...VGGT_1B_CONFIG, num_heads: 0 }));
      const io = { stdout: () => {}, stderr: () => {} };
      await expect(modelCommand.run(["validate", "x.safetensors", "--config", bad], io)).rejects.toThrow(UsageError);
      await expect(modelCommand.run(["validate", "x.safetensors", "--config", bad], io)).rejects.toThrow(`${bad}: config field 'num_heads'`);
      writeFileSync(bad, "{ not json");
      await expect(modelCommand.run(["validate", "x.safetensors", "--config", bad], io)).rejects.toThrow(`--config: ${bad} is not valid JSON`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

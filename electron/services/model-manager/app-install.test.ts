// The Model panel's download against a local hub + CDN: progress, pause and resume with a Range
// request, the SHA-256 and architecture checks, install; a corrupted download installs nothing.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import type { ModelInstallState } from "../../ipc/model-install-types.js";
import { ModelInstaller, checkHubUrl, convertTargetFor, siblingConfig } from "./app-install.js";
import { HubTestServer } from "./hub-test-server.js";
import { MICRO_CONFIG, checkpointBytes } from "./test-fixtures.js";

const REPO = "facebook/VGGT-1B";
const COMMIT = "c".repeat(40);
const weights = checkpointBytes(MICRO_CONFIG);
const config = Buffer.from(JSON.stringify(MICRO_CONFIG));

let server: HubTestServer;
let dir: string;

beforeAll(async () => {
  server = new HubTestServer();
  await server.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vggt-install-"));
  server.files.clear();
  server.log.length = 0;
  server.behaviour = { hashVia: "x-linked-etag" };
  server.addFile(REPO, "main", "model.safetensors", { data: weights, commit: COMMIT });
  server.addFile(REPO, "main", "config.json", { data: config, commit: COMMIT });
  return () => rmSync(dir, { recursive: true, force: true });
});

function installer(states: ModelInstallState[], installed: string[]): ModelInstaller {
  return new ModelInstaller({
    endpoint: server.hubUrl,
    env: { HF_HUB_CACHE: join(dir, "hub"), VGGT_WORKBENCH_CACHE: join(dir, "cache"), VGGT_WORKBENCH_DATA: join(dir, "data") },
    engineBinary: () => null,
    emit: (s) => states.push(s),
    install: (w) => void installed.push(w),
    download: { retryDelayMs: 5, token: null },
  });
}

const EXACT = { w8a8: false, bf16: false };

describe("Model panel download", () => {
  it("downloads with progress, checks names and shapes against the repository's config, installs", async () => {
    const states: ModelInstallState[] = [];
    const installed: string[] = [];
    const inst = installer(states, installed);
    expect(inst.state().phase).toBe("idle");
    expect(inst.state().endpoint).toBe(server.hubUrl);
    inst.start({ engineOptions: EXACT });
    await inst.idle();
    expect(inst.state().phase, inst.state().error).toBe("done");
    expect(installed).toHaveLength(1);
    expect(installed[0]).toMatch(/snapshots\/c{40}\/model\.safetensors$/);
    // The architecture came from the repository's config.json, downloaded beside the weights.
    expect(siblingConfig(installed[0])?.config.embed_dim).toBe(MICRO_CONFIG.embed_dim);
    const dl = states.filter((s) => s.phase === "download" && s.total);
    expect(dl.length).toBeGreaterThan(0);
    expect(dl.at(-1)!.total).toBe(weights.length);
    expect(states.some((s) => s.phase === "verify" && /SHA-256 [0-9a-f]{12}… matches/.test(s.message))).toBe(true);
    expect(inst.state().convertTarget).toBeNull(); // fp32 options: nothing to convert
  });

  it("pauses keeping the partial file, and resumes from it with a Range request", async () => {
    server.behaviour = { hashVia: "x-linked-etag", chunkSize: 8192, chunkDelayMs: 15 };
    const states: ModelInstallState[] = [];
    const installed: string[] = [];
    const inst = installer(states, installed);
    inst.start({ engineOptions: EXACT });
    await expect.poll(() => inst.state().bytes, { timeout: 10_000, interval: 10 }).toBeGreaterThan(3 * 8192);
    inst.pause();
    await inst.idle();
    const paused = inst.state();
    expect(paused.phase).toBe("paused");
    expect(paused.bytes).toBeGreaterThan(0);
    expect(paused.bytes).toBeLessThan(weights.length);
    expect(paused.message).toBe("paused: the part downloaded so far is kept; Resume download continues from there");
    expect(installed).toHaveLength(0);
    server.behaviour = { hashVia: "x-linked-etag" };
    inst.start({ engineOptions: EXACT });
    await inst.idle();
    expect(inst.state().phase, inst.state().error).toBe("done");
    const ranges = server.log.filter((r) => r.server === "cdn" && r.method === "GET" && r.range);
    expect(ranges.map((r) => r.range)).toContain(`bytes=${paused.bytes}-`);
    expect(installed).toHaveLength(1);
  });

  it("a corrupted download fails verification with a clear message and installs nothing", async () => {
    server.addFile(REPO, "main", "model.safetensors", { data: weights, commit: COMMIT, publishedSha256: "0".repeat(64) });
    const states: ModelInstallState[] = [];
    const installed: string[] = [];
    const inst = installer(states, installed);
    inst.start({ engineOptions: EXACT });
    await inst.idle();
    const s = inst.state();
    expect(s.phase).toBe("failed");
    expect(s.error).toMatch(/facebook\/VGGT-1B\/model\.safetensors does not match the published SHA-256 \(expected 0{64}, got [0-9a-f]{64}\); the file was deleted/);
    expect(s.message).toBe("download failed; nothing was installed");
    expect(installed).toHaveLength(0);
    const repoDir = join(dir, "hub", "models--facebook--VGGT-1B");
    expect(readdirSync(join(repoDir, "blobs"))).toEqual([]);
    expect(existsSync(join(repoDir, "snapshots"))).toBe(false);
  });

  it("a file that is no VGGT checkpoint of the published architecture is not installed", async () => {
    server.addFile(REPO, "main", "model.safetensors", { data: checkpointBytes({ ...MICRO_CONFIG, embed_dim: 8 }), commit: COMMIT });
    const installed: string[] = [];
    const inst = installer([], installed);
    inst.start({ engineOptions: EXACT });
    await inst.idle();
    expect(inst.state().phase).toBe("failed");
    expect(inst.state().error).toMatch(/model\.safetensors \(from http:\/\/127\.0\.0\.1:\d+\/facebook\/VGGT-1B\/resolve\/main\/model\.safetensors\) is not a usable VGGT checkpoint: .*tensors with the wrong shape: aggregator.camera_token is \[1,2,1,8\], expected \[1,2,1,16\]/);
    expect(installed).toHaveLength(0);
  });

  it("pausing when nothing downloads is refused", () => {
    expect(() => installer([], []).pause()).toThrow("no download is running to pause");
  });
});

describe("helpers", () => {
  it("converted copy per option set", () => {
    expect(convertTargetFor({ w8a8: true, bf16: true })).toBe("int8");
    expect(convertTargetFor({ w8a8: false, bf16: true })).toBe("bf16");
    expect(convertTargetFor(EXACT)).toBeNull();
  });

  it("hub URLs: http(s) only", () => {
    expect(checkHubUrl("http://127.0.0.1:8080/")).toBe("http://127.0.0.1:8080");
    expect(() => checkHubUrl("file:///etc/passwd")).toThrow("only http and https are allowed, not file:");
    expect(() => checkHubUrl("ftp://x")).toThrow("not ftp:");
    expect(() => checkHubUrl("hub")).toThrow("is not a URL");
  });

  it("a config.json beside a checkpoint: used when it describes the architecture, ignored otherwise, an error when invalid", () => {
    const d = mkdtempSync(join(tmpdir(), "vggt-sib-"));
    try {
      const ckpt = join(d, "model.safetensors");
      expect(siblingConfig(ckpt)).toBeNull();
      writeFileSync(join(d, "config.json"), JSON.stringify({ img_size: 518, patch_size: 14, embed_dim: 1024 })); // no depth: a hub mixin's arguments
      expect(siblingConfig(ckpt)).toBeNull();
      writeFileSync(join(d, "config.json"), JSON.stringify(MICRO_CONFIG));
      expect(siblingConfig(ckpt)?.config.depth).toBe(MICRO_CONFIG.depth);
      writeFileSync(join(d, "config.json"), JSON.stringify({ ...MICRO_CONFIG, num_heads: 0 }));
      expect(() => siblingConfig(ckpt)).toThrow(`${join(d, "config.json")}: config field 'num_heads' must be an integer from 1 to 1024, got 0`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

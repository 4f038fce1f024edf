// resolveModel / listCached: hub (download on first use, then cache), local files, manual folder, random.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { convertCached } from "./convert-cache.js";
import { ModelError } from "./errors.js";
import { HubTestServer } from "./hub-test-server.js";
import { RANDOM_WEIGHTS_LABEL, findLocalModel, listCached, resolveModel, type ResolveOptions } from "./resolve.js";
import { MICRO_CONFIG, checkpointBytes, fakePtBytes } from "./test-fixtures.js";

const REPO = "facebook/VGGT-1B";
const COMMIT = "e".repeat(40);
const ckpt = checkpointBytes();
let server: HubTestServer;
let dir: string;

const opts = (extra: ResolveOptions = {}): ResolveOptions => ({
  endpoint: server.hubUrl,
  cacheDir: join(dir, "hub"),
  manualDir: join(dir, "manual"),
  env: {},
  retryDelayMs: 5,
  validate: { config: MICRO_CONFIG },
  ...extra,
});

beforeAll(async () => {
  server = new HubTestServer();
  await server.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vggt-res-"));
  server.files.clear();
  server.log.length = 0;
  server.behaviour = { hashVia: "x-linked-etag" };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveModel", () => {
  it("random weights: labelled benchmark mode, no file", async () => {
    const m = await resolveModel({ kind: "random", seed: 7, config: "vggt-1b" });
    expect(m).toMatchObject({ origin: "random", path: null, randomWeights: true, engineModelSpec: "random:7" });
    expect(m.label).toBe(`${RANDOM_WEIGHTS_LABEL} (seed 7)`);
    expect(m.label).toContain("geometry is meaningless");
    await expect(resolveModel({ kind: "random", seed: 1.5, config: "vggt-1b" })).rejects.toThrow(/integer seed/);
  });

  it("hub: downloads on first use, then uses the cache without the network", async () => {
    server.addFile(REPO, "main", "model.safetensors", { data: ckpt, commit: COMMIT });
    const events: string[] = [];
    const a = await resolveModel({ kind: "hub" }, opts(), (e) => events.push(e.phase));
    expect(a).toMatchObject({ origin: "downloaded", hashVerified: true, sha256: HubTestServer.sha256(ckpt), randomWeights: false });
    expect(a.validation!.ok).toBe(true);
    expect(a.label).toBe("facebook/VGGT-1B (model.safetensors, verified)");
    expect(events).toContain("download");
    const n = server.log.length;
    const b = await resolveModel({ kind: "hub" }, opts());
    expect(b.origin).toBe("hf-cache");
    expect(b.path).toBe(a.path);
    expect(server.log.length).toBe(n);
  });

  it("hub: falls back on model.pt when the repo has no model.safetensors", async () => {
    server.addFile(REPO, "main", "model.pt", { data: fakePtBytes(), commit: COMMIT });
    const m = await resolveModel({ kind: "hub" }, opts());
    expect(m.path!.endsWith("model.pt")).toBe(true);
    expect(m.validation!.format).toBe("pt");
  });

  it("hub: a downloaded file that is not a VGGT checkpoint is refused by name", async () => {
    server.addFile(REPO, "main", "model.safetensors", { data: checkpointBytes(MICRO_CONFIG, (t) => delete t["point_head.norm.bias"]), commit: COMMIT });
    const e = (await resolveModel({ kind: "hub" }, opts()).catch((x) => x)) as ModelError;
    expect(e.code).toBe("INVALID_CHECKPOINT");
    expect(e.message).toContain("point_head.norm.bias");
    expect(e.message).toContain("model.safetensors");
  });

  it("a file placed by hand in the manual folder is used offline, labelled unverified", async () => {
    mkdirSync(join(dir, "manual"));
    writeFileSync(join(dir, "manual", "model.safetensors"), ckpt);
    const m = await resolveModel({ kind: "hub" }, opts({ env: { HF_HUB_OFFLINE: "1" } }));
    expect(m).toMatchObject({ origin: "manual-dir", hashVerified: false, sha256: null });
    expect(m.label).toMatch(/placed by hand, not hash-verified/);
    expect(server.log.length).toBe(0);
  });

  it("nothing on disk and no download allowed: OFFLINE error naming the manual path", async () => {
    const e = (await resolveModel({ kind: "hub" }, opts({ allowDownload: false })).catch((x) => x)) as ModelError;
    expect(e.code).toBe("OFFLINE");
    expect(e.message).toContain(join(dir, "manual", "model.safetensors"));
    expect(findLocalModel({}, opts())).toBeNull();
  });

  it("local file: validated; missing, truncated and corrupt files are rejected naming the file", async () => {
    const good = join(dir, "finetune.safetensors");
    writeFileSync(good, ckpt);
    const m = await resolveModel({ kind: "file", path: good }, opts());
    expect(m).toMatchObject({ origin: "local-file", path: good, engineModelSpec: good });
    const cut = join(dir, "cut.safetensors");
    writeFileSync(cut, ckpt.subarray(0, ckpt.length - 1000));
    await expect(resolveModel({ kind: "file", path: cut }, opts())).rejects.toThrow(new RegExp(`${cut}: truncated`));
    const junk = join(dir, "junk.pt");
    writeFileSync(junk, "PK\x03\x04 not really a zip");
    await expect(resolveModel({ kind: "file", path: junk }, opts())).rejects.toThrow(new RegExp(`${junk}: not a complete zip`));
    await expect(resolveModel({ kind: "file", path: join(dir, "nope.pt") }, opts())).rejects.toThrow(/nope.pt: cannot use as weights \(ENOENT\)/);
    // The default architecture is VGGT-1B: a tiny checkpoint is refused by shape.
    await expect(resolveModel({ kind: "file", path: good }, { ...opts(), validate: {} })).rejects.toThrow(/wrong shape/);
  });
});

describe("listCached", () => {
  it("lists hub files, hand-placed files and converted caches with sizes", async () => {
    server.addFile(REPO, "main", "model.safetensors", { data: ckpt, commit: COMMIT });
    const m = await resolveModel({ kind: "hub" }, opts());
    mkdirSync(join(dir, "manual"));
    writeFileSync(join(dir, "manual", "model.pt"), fakePtBytes());
    const convertedDir = join(dir, "app", "converted");
    await convertCached({
      source: m.path!,
      sourceSha256: m.sha256!,
      target: "bf16",
      engineVersion: "0.1.0",
      cacheDir: convertedDir,
      converter: async ({ out }) => writeFileSync(out, Buffer.alloc(1234)),
    });
    const l = listCached({ ...opts(), convertedDir });
    expect(l.hub).toHaveLength(1);
    expect(l.hub[0]).toMatchObject({ repo: REPO, filename: "model.safetensors", revision: "main", commit: COMMIT, size: ckpt.length });
    expect(l.manual).toEqual([{ path: join(dir, "manual", "model.pt"), size: fakePtBytes().length }]);
    expect(l.converted.entries[0]).toMatchObject({ target: "bf16", size: 1234, sourceSha256: m.sha256 });
    expect(l.totalSize).toBe(ckpt.length + fakePtBytes().length + 1234);
  });
});

describe("resolveModel with an expected SHA-256 (--sha256)", () => {
  it("verifies a cached hub file by its bytes, not its name, and refuses a mismatch", async () => {
    server.addFile(REPO, "main", "model.safetensors", { data: ckpt, commit: COMMIT });
    const real = HubTestServer.sha256(ckpt);
    await resolveModel({ kind: "hub" }, opts());
    const n = server.log.length;
    // The right hash: verified from the bytes (the cache is trusted for nothing), no network.
    const ok = await resolveModel({ kind: "hub" }, opts({ expectedSha256: real.toUpperCase() }));
    expect(ok).toMatchObject({ origin: "hf-cache", hashVerified: true, sha256: real });
    // Another hash: refused, even though the file is cached and valid.
    const other = "0".repeat(64);
    const e = await resolveModel({ kind: "hub" }, opts({ expectedSha256: other, offline: true })).catch((x) => x);
    expect(e).toBeInstanceOf(ModelError);
    expect(e.code).toBe("HASH_MISMATCH");
    expect(e.message).toContain(`expected ${other}, got ${real}`);
    expect(e.message).toContain("model.safetensors");
    // A blob whose content no longer matches its name (damaged on disk) is caught too.
    const blob = join(dir, "hub", "models--facebook--VGGT-1B", "blobs", real);
    const damaged = Buffer.from(ckpt);
    damaged[damaged.length - 1] ^= 1;
    writeFileSync(blob, damaged);
    const d = await resolveModel({ kind: "hub" }, opts({ expectedSha256: real, offline: true })).catch((x) => x);
    expect(d.code).toBe("HASH_MISMATCH");
    expect(server.log.length).toBe(n);
  });

  it("verifies a file placed by hand too", async () => {
    mkdirSync(join(dir, "manual"), { recursive: true });
    writeFileSync(join(dir, "manual", "model.safetensors"), ckpt);
    const m = await resolveModel({ kind: "hub" }, opts({ expectedSha256: HubTestServer.sha256(ckpt), offline: true }));
    expect(m).toMatchObject({ origin: "manual-dir", hashVerified: true, label: "model.safetensors (placed by hand, verified against the given SHA-256)" });
    const e = await resolveModel({ kind: "hub" }, opts({ expectedSha256: "1".repeat(64), offline: true })).catch((x) => x);
    expect(e.code).toBe("HASH_MISMATCH");
  });
});

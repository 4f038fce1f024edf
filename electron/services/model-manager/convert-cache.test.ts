// Cache management around the engine's conversion, with an injected fake converter (the real numeric
// conversion is the engine's and is tested there).
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  cleanConvertedOrphans,
  convertCached,
  convertedKey,
  deleteConverted,
  engineConverter,
  engineVersion,
  listConverted,
  sourceSha256,
  DEFAULT_INT8,
  type Converter,
  type Int8Format,
} from "./convert-cache.js";
import { ModelError } from "./errors.js";

let dir: string;
let src: string;
let srcSha: string;
const cache = () => join(dir, "cache", "converted");

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vggt-conv-"));
  src = join(dir, "model.safetensors");
  const data = Buffer.alloc(100_000, 7);
  writeFileSync(src, data);
  srcSha = createHash("sha256").update(data).digest("hex");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeConverter(calls: string[], bytes = 1000): Converter {
  return async ({ source, target, out }) => {
    calls.push(`${target}:${source}`);
    writeFileSync(out, Buffer.alloc(bytes, target === "bf16" ? 1 : 2));
  };
}

describe("convertCached", () => {
  it("converts once, then reuses; the key is source hash + dtype + engine version", async () => {
    const calls: string[] = [];
    const a = await convertCached({ source: src, target: "bf16", engineVersion: "0.1.0", converter: fakeConverter(calls), cacheDir: cache() });
    expect(a.reused).toBe(false);
    expect(a.entry.key).toBe(`${srcSha}-bf16-engine0.1.0`);
    expect(a.entry.size).toBe(1000);
    expect(readFileSync(a.entry.path).length).toBe(1000);
    const b = await convertCached({ source: src, target: "bf16", engineVersion: "0.1.0", converter: fakeConverter(calls), cacheDir: cache() });
    expect(b.reused).toBe(true);
    expect(b.entry.path).toBe(a.entry.path);
    expect(calls.length).toBe(1);
    // Another dtype, another engine version, or other source bytes: new entries.
    await convertCached({ source: src, target: "int8", engineVersion: "0.1.0", converter: fakeConverter(calls), cacheDir: cache() });
    await convertCached({ source: src, target: "bf16", engineVersion: "0.2.0", converter: fakeConverter(calls), cacheDir: cache() });
    writeFileSync(src, Buffer.alloc(100_000, 8));
    await convertCached({ source: src, target: "bf16", engineVersion: "0.1.0", converter: fakeConverter(calls), cacheDir: cache() });
    expect(calls.length).toBe(4);
    const l = listConverted(cache());
    expect(l.entries.map((e) => `${e.target}/${e.engineVersion}`).sort()).toEqual(["bf16/0.1.0", "bf16/0.1.0", "bf16/0.2.0", "int8/0.1.0"]);
    expect(l.totalSize).toBe(4000);
    expect(l.orphans).toEqual([]);
  });

  it("a failing converter leaves no entry, no partial file, and the previous entry intact", async () => {
    const calls: string[] = [];
    const ok = await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() });
    const failing: Converter = async ({ out }) => {
      writeFileSync(out, "half");
      throw new Error("engine crashed");
    };
    await expect(convertCached({ source: src, target: "int8", engineVersion: "1", converter: failing, cacheDir: cache() })).rejects.toThrow(/int8 failed: engine crashed/);
    expect(readdirSync(cache()).sort()).toEqual([`${ok.entry.key}.json`, `${ok.entry.key}.safetensors`]);
    const again = await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: failing, cacheDir: cache() });
    expect(again.reused).toBe(true);
  });

  it("a converter that writes nothing is an error", async () => {
    const silent: Converter = async () => {};
    const e = await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: silent, cacheDir: cache() }).catch((x) => x);
    expect((e as ModelError).code).toBe("ENGINE");
    expect(listConverted(cache()).entries).toEqual([]);
  });

  it("an entry whose file was truncated or lost its manifest is not reused", async () => {
    const calls: string[] = [];
    const a = await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() });
    writeFileSync(a.entry.path, "short");
    expect((await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() })).reused).toBe(false);
    rmSync(a.entry.manifestPath);
    expect(listConverted(cache()).orphans.map((o) => o.path)).toEqual([a.entry.path]);
    expect((await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() })).reused).toBe(false);
    expect(calls.length).toBe(3);
  });

  it("cancellation maps to ABORTED and cleans up", async () => {
    const ac = new AbortController();
    const slow: Converter = ({ out, signal }) =>
      new Promise((_, reject) => {
        writeFileSync(out, "x");
        signal!.addEventListener("abort", () => reject(new Error("killed")));
        setTimeout(() => ac.abort(), 10);
      });
    const e = await convertCached({ source: src, target: "int8", engineVersion: "1", converter: slow, cacheDir: cache(), signal: ac.signal }).catch((x) => x);
    expect((e as ModelError).code).toBe("ABORTED");
    expect(readdirSync(cache())).toEqual([]);
  });

  it("deleteConverted and cleanConvertedOrphans", async () => {
    const a = await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: fakeConverter([]), cacheDir: cache() });
    const stale = join(cache(), "x.partial-1-1");
    writeFileSync(stale, "junk");
    utimesSync(stale, new Date(0), new Date(0));
    writeFileSync(join(cache(), "y.partial-2-2"), "fresh"); // maybe a conversion running now
    expect(cleanConvertedOrphans(cache())).toBe(1);
    expect(existsSync(stale)).toBe(false);
    expect(deleteConverted(a.entry.key, cache())).toBe(true);
    expect(deleteConverted(a.entry.key, cache())).toBe(false);
    expect(listConverted(cache()).entries).toEqual([]);
  });

  it("uses the known hash of hub blobs and remembers computed hashes", async () => {
    const blobs = join(dir, "hub", "blobs");
    mkdirSync(blobs, { recursive: true });
    const fakeSha = "d".repeat(64);
    writeFileSync(join(blobs, fakeSha), "x");
    symlinkSync(join(blobs, fakeSha), join(dir, "snap.safetensors"));
    expect(await sourceSha256(join(dir, "snap.safetensors"), join(dir, "idx.json"))).toBe(fakeSha); // named by its verified hash
    const events: string[] = [];
    expect(await sourceSha256(src, join(dir, "idx.json"), (e) => events.push(e.phase))).toBe(srcSha);
    expect(events.length).toBeGreaterThan(0);
    events.length = 0;
    expect(await sourceSha256(src, join(dir, "idx.json"), (e) => events.push(e.phase))).toBe(srcSha);
    expect(events.length).toBe(0); // from the index, no re-read
    expect(JSON.parse(readFileSync(join(dir, "idx.json"), "utf8"))[src].sha256).toBe(srcSha);
    writeFileSync(src, "changed");
    expect(await sourceSha256(src, join(dir, "idx.json"))).toBe(createHash("sha256").update("changed").digest("hex"));
  });

  it("key sanitises odd engine versions", () => {
    expect(convertedKey("a".repeat(64), "bf16", "1.2.3+g/abc")).toBe(`${"a".repeat(64)}-bf16-engine1.2.3_g_abc`);
  });

  it("int8 entries are keyed and recorded by scope, rotation and residual; the default is DEFAULT_INT8", async () => {
    const seen: (Int8Format | undefined)[] = [];
    const conv: Converter = async ({ out, int8 }) => {
      seen.push(int8);
      writeFileSync(out, Buffer.alloc(10, 2));
    };
    const a = await convertCached({ source: src, target: "int8", engineVersion: "1", converter: conv, cacheDir: cache() });
    expect(DEFAULT_INT8.residual).toBe("special+mean");
    expect(a.entry.key).toBe(`${srcSha}-int8-${DEFAULT_INT8.scope}-${DEFAULT_INT8.rotation}-residual-engine1`);
    expect(a.entry.int8).toEqual(DEFAULT_INT8);
    expect(JSON.parse(readFileSync(a.entry.manifestPath, "utf8")).int8).toEqual(DEFAULT_INT8);
    const fc2: Int8Format = { scope: "fc2", rotation: "none" };
    const b = await convertCached({ source: src, target: "int8", int8: fc2, engineVersion: "1", converter: conv, cacheDir: cache() });
    expect(b.reused).toBe(false);
    expect(b.entry.key).toBe(`${srcSha}-int8-fc2-none-engine1`);
    expect(seen).toEqual([DEFAULT_INT8, fc2]);
    expect((await convertCached({ source: src, target: "int8", int8: fc2, engineVersion: "1", converter: conv, cacheDir: cache() })).reused).toBe(true);
    // The default's format without residual weights: its own key (the one before residuals existed).
    const plain: Int8Format = { ...DEFAULT_INT8, residual: "none" };
    const p = await convertCached({ source: src, target: "int8", int8: plain, engineVersion: "1", converter: conv, cacheDir: cache() });
    expect(p.reused).toBe(false);
    expect(p.entry.key).toBe(`${srcSha}-int8-${DEFAULT_INT8.scope}-${DEFAULT_INT8.rotation}-engine1`);
    expect(seen.length).toBe(3);
    seen.pop();
    // bf16 entries carry no int8 format.
    const c = await convertCached({ source: src, target: "bf16", engineVersion: "1", converter: conv, cacheDir: cache() });
    expect(c.entry.int8).toBeUndefined();
    expect(seen[2]).toBeUndefined();
  });

  it("an int8 entry from before scope/rotation existed is rebuilt, never reused", async () => {
    // What the previous version wrote: key without the format, manifest without `int8`.
    mkdirSync(cache(), { recursive: true });
    const oldKey = `${srcSha}-int8-engine1`;
    writeFileSync(join(cache(), `${oldKey}.safetensors`), Buffer.alloc(10, 9));
    const old = { key: oldKey, path: "", manifestPath: "", sourceSha256: srcSha, target: "int8", engineVersion: "1", size: 10, sourcePath: src, createdAt: "2026-01-01T00:00:00.000Z" };
    writeFileSync(join(cache(), `${oldKey}.json`), JSON.stringify(old));
    // The same legacy manifest under the new key (e.g. copied by hand) is refused too.
    const newKey = convertedKey(srcSha, "int8", "1", DEFAULT_INT8);
    writeFileSync(join(cache(), `${newKey}.safetensors`), Buffer.alloc(10, 9));
    writeFileSync(join(cache(), `${newKey}.json`), JSON.stringify({ ...old, key: newKey }));
    const calls: string[] = [];
    const r = await convertCached({ source: src, target: "int8", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() });
    expect(r.reused).toBe(false);
    expect(calls).toEqual([`int8:${src}`]);
    expect(r.entry.key).toBe(newKey);
    expect(readFileSync(r.entry.path)[0]).toBe(2); // the new conversion, not the legacy bytes
    expect(r.entry.int8).toEqual(DEFAULT_INT8);
    // A manifest recording another format under this key is not taken for this one either.
    writeFileSync(r.entry.manifestPath, JSON.stringify({ ...r.entry, int8: { scope: "fc2", rotation: "none" } }));
    expect((await convertCached({ source: src, target: "int8", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() })).reused).toBe(false);
    expect(calls.length).toBe(2);
  });

  it("an int8 entry made before residual weights existed is not taken for the residual default", async () => {
    const calls: string[] = [];
    const r = await convertCached({ source: src, target: "int8", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() });
    // The manifest such an entry had: scope and rotation only.
    writeFileSync(r.entry.manifestPath, JSON.stringify({ ...r.entry, int8: { scope: DEFAULT_INT8.scope, rotation: DEFAULT_INT8.rotation } }));
    const again = await convertCached({ source: src, target: "int8", engineVersion: "1", converter: fakeConverter(calls), cacheDir: cache() });
    expect(again.reused).toBe(false);
    expect(calls.length).toBe(2);
    expect(again.entry.int8).toEqual(DEFAULT_INT8);
  });
});

describe("engine wrappers (fake engine script)", () => {
  it("engineConverter passes the documented arguments; engineVersion parses `version`", async () => {
    const fake = join(dir, "vggt-engine");
    writeFileSync(
      fake,
      `#!/bin/sh\nif [ "$1" = "version" ]; then echo "vggt-engine 0.1.0"; exit 0; fi\necho "$@" > "${join(dir, "args.txt")}"\nif [ "$5" = "int8" ]; then echo "int8 kernels missing" >&2; exit 3; fi\nprintf 'converted' > "$7"\n`,
    );
    chmodSync(fake, 0o755);
    expect(await engineVersion(fake)).toBe("0.1.0");
    const r = await convertCached({ source: src, target: "bf16", engineVersion: "0.1.0", converter: engineConverter(fake), cacheDir: cache() });
    expect(readFileSync(r.entry.path, "utf8")).toBe("converted");
    expect(readFileSync(join(dir, "args.txt"), "utf8").trim()).toMatch(new RegExp(`^convert --weights ${src} --to bf16 --out .*partial`));
    await expect(convertCached({ source: src, target: "int8", engineVersion: "0.1.0", converter: engineConverter(fake), cacheDir: cache() })).rejects.toThrow(
      /convert failed \(exit 3\): int8 kernels missing/,
    );
    // int8: the format travels as the w8a8 option's parameters.
    expect(readFileSync(join(dir, "args.txt"), "utf8").trim()).toMatch(
      new RegExp(`^convert --weights ${src} --to int8 --out \\S+ --options w8a8=${DEFAULT_INT8.scope},w8a8.outliers=${DEFAULT_INT8.rotation},w8a8.residual=${DEFAULT_INT8.residual?.replace("+", "\\+")}$`),
    );
    await expect(engineVersion(join(dir, "none"))).rejects.toThrow(/not found/);
  });
});

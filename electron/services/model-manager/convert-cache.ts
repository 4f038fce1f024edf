// Engine-ready converted weights (bf16, int8 W8A8), made once and reused: keyed by the source file's
// SHA-256, the target dtype and the engine version; placed atomically; listed with their disk size.
// The numeric conversion itself is the engine's (`vggt-engine convert`); this file manages the cache.
import { lastLines, ProcessStartError, spawnEngine, type ProcessExit } from "../engine/engine-process.js";
import { mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, statfsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "../tensors/safetensors.js";
import { ModelError, formatBytes, isDiskFullError } from "./errors.js";
import { SHA256_RE, acquireLock } from "./hub-cache.js";
import { hashFile } from "./hub-download.js";
import { appCacheDir, convertedCacheDir } from "./paths.js";
import { ProgressMeter, type ProgressCallback } from "./progress.js";

export type ConvertTarget = "bf16" | "int8";
export const CONVERT_TARGETS: ConvertTarget[] = ["bf16", "int8"];

/** How an int8 cache's weights are made: the engine's w8a8 scope, weight rotation and residual weights
 * (recorded in the file's metadata as vggt_int8_scope / vggt_int8_rotation / vggt_int8_residual, and
 * in the manifest). A cache made with other settings, or before they existed, is never reused for
 * these: it is converted anew. A manifest without `residual` predates it and holds none. */
export interface Int8Format {
  scope: "fc2" | "all-linears";
  rotation: "hadamard" | "none";
  residual?: "special+mean" | "none";
}
/** The engine's w8a8 defaults (scope, outliers and residual in `vggt-engine describe`; docs/INT8.md). */
export const DEFAULT_INT8: Int8Format = { scope: "all-linears", rotation: "none", residual: "special+mean" };
const residualOf = (f: Int8Format) => f.residual ?? "none";

export interface ConverterArgs {
  source: string;
  target: ConvertTarget;
  /** Temporary output path; the cache renames it into place once the converter has succeeded. */
  out: string;
  /** int8 only: the format to write. */
  int8?: Int8Format;
  signal?: AbortSignal;
}
export type Converter = (a: ConverterArgs) => Promise<void>;

export interface ConvertedEntry {
  key: string;
  path: string;
  manifestPath: string;
  sourceSha256: string;
  target: ConvertTarget;
  engineVersion: string;
  /** int8 entries: how the weights were made (absent in entries older than the format). */
  int8?: Int8Format;
  /** Bytes on disk. */
  size: number;
  /** Source file at conversion time (informational: the key is the hash). */
  sourcePath: string;
  createdAt: string;
}

export interface ConvertOptions {
  source: string;
  /** Known hash of the source (hub blobs are named by it); computed and remembered otherwise. */
  sourceSha256?: string;
  target: ConvertTarget;
  engineVersion: string;
  /** int8 only; default DEFAULT_INT8. */
  int8?: Int8Format;
  converter: Converter;
  /** Default: convertedCacheDir() (<app cache>/converted). */
  cacheDir?: string;
  /** Where computed source hashes are remembered (default <app cache>/hash-index.json). */
  hashIndexPath?: string;
  /** Refuse to start without room for the estimated output (default true). */
  checkFreeSpace?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");

export function convertedKey(sourceSha256: string, target: ConvertTarget, engineVersion: string, int8: Int8Format = DEFAULT_INT8): string {
  // Residual weights add a key segment (keys of formats without them stay as they were).
  const fmt = target === "int8" ? `-${int8.scope}-${int8.rotation}${residualOf(int8) === "none" ? "" : "-residual"}` : "";
  return `${sourceSha256}-${target}${fmt}-engine${safe(engineVersion)}`;
}

const sameInt8 = (a: Int8Format | undefined, b: Int8Format) =>
  !!a && a.scope === b.scope && a.rotation === b.rotation && residualOf(a) === residualOf(b);

/** Estimated output size for an fp32 source: bf16 halves it; int8 is a quarter plus scales and the
 * layers kept in higher precision (norms, embeddings, heads). */
export function estimateConvertedSize(sourceBytes: number, target: ConvertTarget): number {
  return Math.ceil(sourceBytes * (target === "bf16" ? 0.5 : 0.3));
}

function readManifest(path: string): ConvertedEntry | null {
  try {
    const m = JSON.parse(readFileSync(path, "utf8")) as ConvertedEntry;
    return m && typeof m.key === "string" && typeof m.size === "number" ? m : null;
  } catch {
    return null;
  }
}

/** A usable cached conversion, or null (missing, or its file does not have the recorded size). With
 * `int8`, an int8 entry must also record exactly that format (older entries record none). */
export function findConverted(cacheDir: string, key: string, int8?: Int8Format): ConvertedEntry | null {
  const m = readManifest(join(cacheDir, `${key}.json`));
  if (!m) return null;
  if (int8 && m.target === "int8" && !sameInt8(m.int8, int8)) return null;
  const path = join(cacheDir, `${key}.safetensors`);
  try {
    if (statSync(path).size !== m.size) return null;
  } catch {
    return null;
  }
  return { ...m, path, manifestPath: join(cacheDir, `${key}.json`) };
}

// ---- source hashes ------------------------------------------------------------------------------

interface HashIndexEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

/** SHA-256 of a weights file without re-reading 5 GB on every start: hub blobs are named by their
 * verified hash; other files are hashed once and remembered by (path, size, mtime, inode). */
export async function sourceSha256(
  path: string,
  indexPath = join(appCacheDir(), "hash-index.json"),
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<string> {
  const real = realpathSync(path);
  const name = basename(real);
  if (SHA256_RE.test(name) && basename(dirname(real)) === "blobs") return name;
  const st = statSync(real);
  let index: Record<string, HashIndexEntry> = {};
  try {
    index = JSON.parse(readFileSync(indexPath, "utf8"));
  } catch {
    /* first use or unreadable: rebuilt */
  }
  const hit = index[real];
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino) return hit.sha256;
  const sha = await hashFile(real, onProgress, signal, basename(path));
  index[real] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256: sha };
  try {
    mkdirSync(dirname(indexPath), { recursive: true });
    writeFileAtomic(indexPath, JSON.stringify(index, null, 1));
  } catch {
    /* a cache: failing to remember only costs a re-hash */
  }
  return sha;
}

// ---- conversion ---------------------------------------------------------------------------------

/** Returns the cached conversion, converting first if needed. A failed or cancelled conversion leaves
 * the cache as it was. */
export async function convertCached(opts: ConvertOptions): Promise<{ entry: ConvertedEntry; reused: boolean }> {
  const cacheDir = opts.cacheDir ?? convertedCacheDir();
  if (!CONVERT_TARGETS.includes(opts.target)) throw new ModelError("ENGINE", `unknown conversion target '${opts.target}' (bf16 or int8)`);
  const sha = opts.sourceSha256 ?? (await sourceSha256(opts.source, opts.hashIndexPath ?? join(dirname(cacheDir), "hash-index.json"), opts.onProgress, opts.signal));
  const int8 = opts.target === "int8" ? (opts.int8 ?? DEFAULT_INT8) : undefined;
  const key = convertedKey(sha, opts.target, opts.engineVersion, int8);
  const existing = findConverted(cacheDir, key, int8);
  if (existing) return { entry: existing, reused: true };

  mkdirSync(cacheDir, { recursive: true });
  const release = acquireLock(join(cacheDir, `${key}.lock`), `converting ${basename(opts.source)} to ${opts.target}`);
  const final = join(cacheDir, `${key}.safetensors`);
  const tmp = join(cacheDir, `${key}.partial-${process.pid}-${Date.now()}`);
  let poll: NodeJS.Timeout | undefined;
  try {
    const sourceSize = statSync(opts.source).size;
    const estimate = estimateConvertedSize(sourceSize, opts.target);
    if (opts.checkFreeSpace !== false) {
      try {
        const st = statfsSync(cacheDir);
        const free = Number(st.bavail) * Number(st.bsize);
        if (free < estimate)
          throw new ModelError(
            "DISK_FULL",
            `not enough disk space to convert to ${opts.target}: about ${formatBytes(estimate)} needed, ${formatBytes(free)} free in ${cacheDir}`,
            { needed: estimate, free, dir: cacheDir },
          );
      } catch (e) {
        if (e instanceof ModelError) throw e;
      }
    }
    // Progress: the engine reports nothing yet, so watch the output grow towards the estimate.
    const meter = new ProgressMeter("convert", basename(opts.source), estimate, 0, opts.onProgress);
    let last = 0;
    poll = setInterval(() => {
      try {
        const n = statSync(tmp).size;
        if (n > last) meter.add(n - last);
        last = n;
      } catch {
        /* not created yet */
      }
    }, 250);
    try {
      await opts.converter({ source: opts.source, target: opts.target, out: tmp, int8, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw new ModelError("ABORTED", `conversion of ${opts.source} to ${opts.target} cancelled`, {}, e);
      if (isDiskFullError(e)) throw new ModelError("DISK_FULL", `disk full while converting ${opts.source} to ${opts.target} in ${cacheDir}`, {}, e);
      if (e instanceof ModelError) throw e;
      throw new ModelError("ENGINE", `conversion of ${opts.source} to ${opts.target} failed: ${(e as Error).message}`, {}, e);
    }
    clearInterval(poll);
    let size: number;
    try {
      size = statSync(tmp).size;
    } catch {
      throw new ModelError("ENGINE", `the converter reported success but wrote no file (${tmp})`);
    }
    if (size === 0) throw new ModelError("ENGINE", `the converter wrote an empty file for ${opts.source} (${opts.target})`);
    renameSync(tmp, final);
    const entry: ConvertedEntry = {
      key,
      path: final,
      manifestPath: join(cacheDir, `${key}.json`),
      sourceSha256: sha,
      target: opts.target,
      engineVersion: opts.engineVersion,
      ...(int8 ? { int8 } : {}),
      size,
      sourcePath: opts.source,
      createdAt: new Date().toISOString(),
    };
    // The manifest is written last: an entry without one is incomplete and never used.
    writeFileAtomic(entry.manifestPath, JSON.stringify(entry, null, 1));
    meter.finish();
    return { entry, reused: false };
  } finally {
    if (poll) clearInterval(poll);
    rmSync(tmp, { force: true });
    release();
  }
}

export interface ConvertedListing {
  entries: ConvertedEntry[];
  totalSize: number;
  /** Leftovers of interrupted conversions (no manifest, size mismatch, stale partial files). */
  orphans: { path: string; size: number }[];
}

export function listConverted(cacheDir = convertedCacheDir()): ConvertedListing {
  const out: ConvertedListing = { entries: [], totalSize: 0, orphans: [] };
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return out;
  }
  const used = new Set<string>();
  for (const n of names.filter((n) => n.endsWith(".json"))) {
    const e = findConverted(cacheDir, n.slice(0, -5));
    if (e) {
      out.entries.push(e);
      used.add(basename(e.path)).add(n);
    }
  }
  for (const n of names) {
    if (used.has(n) || n.endsWith(".lock")) continue;
    try {
      out.orphans.push({ path: join(cacheDir, n), size: statSync(join(cacheDir, n)).size });
    } catch {
      /* raced */
    }
  }
  out.totalSize = out.entries.reduce((a, e) => a + e.size, 0);
  out.entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return out;
}

/** Deletes one entry by key; returns false when there was none. */
export function deleteConverted(key: string, cacheDir = convertedCacheDir()): boolean {
  const had = findConverted(cacheDir, key) !== null;
  // Manifest first, so a half-deleted entry is never taken for a valid one.
  rmSync(join(cacheDir, `${key}.json`), { force: true });
  rmSync(join(cacheDir, `${key}.safetensors`), { force: true });
  return had;
}

/** Removes leftovers of interrupted conversions (not those of a conversion running now: partial
 * files younger than `minAgeMs`). */
export function cleanConvertedOrphans(cacheDir = convertedCacheDir(), minAgeMs = 24 * 3600 * 1000): number {
  let n = 0;
  for (const o of listConverted(cacheDir).orphans) {
    try {
      if (Date.now() - statSync(o.path).mtimeMs < minAgeMs) continue;
      rmSync(o.path, { force: true });
      n++;
    } catch {
      /* raced */
    }
  }
  return n;
}

// ---- the engine as converter --------------------------------------------------------------------

async function runEngine(engineBin: string, args: string[], signal?: AbortSignal): Promise<{ stdout: string; stderr: string }> {
  let r: ProcessExit;
  try {
    r = await spawnEngine({ command: engineBin, args }, { signal });
  } catch (e) {
    if (e instanceof ProcessStartError && e.code === "ENOENT")
      throw new ModelError("ENGINE", `the engine binary ${engineBin} was not found (build it with npm run build:engine or set VGGT_ENGINE_BIN)`, {}, e);
    throw e;
  }
  if (r.code !== 0) throw new ModelError("ENGINE", `${basename(engineBin)} ${args[0]} failed (exit ${r.code}): ${lastLines(r.stderrTail, 5).split("\n").join(" | ")}`);
  return { stdout: r.stdout, stderr: r.stderrTail };
}

/** `vggt-engine convert --weights W [--config C] --to bf16|int8 --out F [--options w8a8=SCOPE,w8a8.outliers=R,w8a8.residual=X]`;
 * config defaults to the vggt-1b preset. */
export function engineConverter(engineBin: string, config?: string): Converter {
  return async ({ source, target, out, int8, signal }) => {
    const cfg = config ? ["--config", config] : [];
    const fmt = target === "int8" ? (int8 ?? DEFAULT_INT8) : undefined;
    const opts = fmt ? ["--options", `w8a8=${fmt.scope},w8a8.outliers=${fmt.rotation},w8a8.residual=${residualOf(fmt)}`] : [];
    await runEngine(engineBin, ["convert", "--weights", source, ...cfg, "--to", target, "--out", out, ...opts], signal);
  };
}

/** The engine's version from `vggt-engine version` ("vggt-engine 0.1.0": the first x.y.z-looking token). */
export async function engineVersion(engineBin: string): Promise<string> {
  const { stdout } = await runEngine(engineBin, ["version"]);
  const m = /\d+\.\d+\.\d+[0-9A-Za-z.+-]*/.exec(stdout);
  if (!m) throw new ModelError("ENGINE", `cannot read a version from '${engineBin} version': ${JSON.stringify(stdout.slice(0, 200))}`);
  return m[0];
}

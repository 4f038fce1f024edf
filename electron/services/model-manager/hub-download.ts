// Downloading one file from a Hugging Face hub (or a mirror) into the shared HF cache: resumable,
// SHA-256-verified against the hub's published hash, atomic, cancellable, with progress.
import { createHash, type Hash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  statfsSync,
} from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { ModelError, formatBytes, isDiskFullError, isNetworkError } from "./errors.js";
import { SHA256_RE, acquireLock, findCachedFile, linkSnapshot, type CachedFile } from "./hub-cache.js";
import { header, sendRequest, type RawResponse } from "./http-client.js";
import { currentPlatform, hfHubCacheDir, isTruthyEnv, manualModelsDir, repoCachePaths, type Env } from "./paths.js";
import { ProgressMeter, type ProgressCallback } from "./progress.js";

export const DEFAULT_REPO = "facebook/VGGT-1B";
export const DEFAULT_FILENAME = "model.safetensors";
export const DEFAULT_ENDPOINT = "https://huggingface.co";
/** Approximate size of facebook/VGGT-1B's fp32 weights, for messages shown before any network access. */
export const VGGT_1B_APPROX_BYTES = 5_030_000_000;

export interface DownloadOptions {
  /** Hub repository, default facebook/VGGT-1B (facebook/VGGT-1B-Commercial is gated: needs HF_TOKEN). */
  repo?: string;
  /** File in the repository, default model.safetensors (model.pt also exists). */
  filename?: string;
  /** Branch, tag or commit, default main. */
  revision?: string;
  /** Hub or mirror base URL; default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** HF cache root; default $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Bearer token; default $HF_TOKEN, else the token file written by `huggingface-cli login`. null: none. */
  token?: string | null;
  /** Never touch the network (default: $HF_HUB_OFFLINE). */
  offline?: boolean;
  /** Environment to read HF_* variables from (default process.env). */
  env?: Env;
  /** Expected SHA-256 (hex) overriding what the server publishes. */
  expectedSha256?: string;
  /** Accept a file for which the server publishes no SHA-256 (it is then named by its computed hash). */
  allowUnverified?: boolean;
  /** Automatic resumes after a dropped connection or a 5xx, per call (default 3). */
  retries?: number;
  /** Base delay between retries, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Give up on a connection that sends nothing for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Refuse to start when the disk has less free space than the bytes still to fetch (default true). */
  checkFreeSpace?: boolean;
  /** Ask the hub whether `revision` moved even when it is cached (default false: a cached revision
   * is used without any network access). */
  checkForUpdates?: boolean;
  /** Re-hash a blob already in the cache instead of trusting its name and size (default false). */
  rehashExisting?: boolean;
  /** Where the offline message tells the user to put a file by hand (default: manualModelsDir()). */
  manualDir?: string;
  /** Test hook: how the partial file is opened for writing. */
  openWrite?: (path: string, flags: "a" | "w") => Writable;
}

export interface HubSettings {
  repo: string;
  filename: string;
  revision: string;
  endpoint: string;
  cacheDir: string;
  token: string | null;
  offline: boolean;
  manualDir: string;
}

export interface DownloadResult extends CachedFile {
  sha256: string;
  /** The resolve URL the file came from (or would have come from). */
  url: string;
  /** True when nothing was downloaded (already cached, or offline fallback). */
  fromCache: boolean;
  /** True when the hub could not be reached and the cached copy was used. */
  offlineFallback: boolean;
  /** Bytes of an earlier partial download that were reused (0 for a fresh download). */
  resumedFrom: number;
}

export function resolveHubSettings(opts: DownloadOptions = {}): HubSettings {
  const env = opts.env ?? process.env;
  const pi = { ...currentPlatform(), env };
  const cacheDir = opts.cacheDir ?? hfHubCacheDir(pi);
  return {
    repo: opts.repo ?? DEFAULT_REPO,
    filename: opts.filename ?? DEFAULT_FILENAME,
    revision: opts.revision ?? "main",
    endpoint: (opts.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    cacheDir,
    token: opts.token !== undefined ? opts.token : readToken(env, pi),
    offline: opts.offline ?? isTruthyEnv(env.HF_HUB_OFFLINE),
    manualDir: opts.manualDir ?? manualModelsDir(pi),
  };
}

function readToken(env: Env, pi: ReturnType<typeof currentPlatform>): string | null {
  const t = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (t) return t.trim();
  const file = env.HF_TOKEN_PATH ?? join(env.HF_HOME ?? join(pi.home, ".cache", "huggingface"), "token");
  try {
    return readFileSync(file, "utf8").trim() || null;
  } catch {
    return null;
  }
}

export function resolveUrl(s: Pick<HubSettings, "endpoint" | "repo" | "revision" | "filename">): string {
  const file = s.filename.split("/").map(encodeURIComponent).join("/");
  return `${s.endpoint}/${s.repo}/resolve/${encodeURIComponent(s.revision)}/${file}`;
}

/** The message shown when the file cannot be fetched: says exactly where to put it by hand. */
export function offlineMessage(s: HubSettings, reason: string): string {
  const other = s.filename.endsWith(".pt") ? s.filename.replace(/\.pt$/, ".safetensors") : s.filename.replace(/\.safetensors$/, ".pt");
  return [
    `Cannot download ${s.repo}/${s.filename}: ${reason}.`,
    `To work without network access, put the weights file there by hand:`,
    `  ${join(s.manualDir, s.filename)}   (or ${other} in the same folder)`,
    `or choose any VGGT checkpoint file explicitly (app: the Model panel, opened with the Model… button: "Use a checkpoint file…" on the desktop, its path field in web mode; CLI: --weights /path/to/${s.filename}).`,
    `Get the file on a connected machine from ${resolveUrl(s)} (about ${formatBytes(VGGT_1B_APPROX_BYTES)});`,
    `copying the Hugging Face cache folder ${repoCachePaths(s.cacheDir, s.repo).root} from another machine works too.`,
  ].join("\n");
}

interface RemoteMeta {
  commit: string;
  sha256: string | null;
  size: number;
}

function authHeaders(s: HubSettings, url: URL): Record<string, string> {
  const h: Record<string, string> = { "user-agent": "vggt-workbench/0.1 (node)", "accept-encoding": "identity" };
  // The token goes to the hub only, never to the CDN a download is redirected to.
  if (s.token && url.origin === new URL(s.endpoint).origin) h.authorization = `Bearer ${s.token}`;
  return h;
}

function statusError(status: number, url: URL, s: HubSettings): ModelError {
  const where = url.href;
  if (status === 401 || status === 403)
    return new ModelError(
      "AUTH",
      `access to ${s.repo}/${s.filename} was refused (HTTP ${status} from ${where}). If the repository is gated, accept its licence on ${s.endpoint}/${s.repo} and set HF_TOKEN to a token with read access.`,
      { status, url: where },
    );
  if (status === 404)
    return new ModelError("NOT_FOUND", `${s.repo}/${s.filename} at revision '${s.revision}' was not found (HTTP 404 from ${where})`, {
      status,
      url: where,
    });
  return new ModelError("HTTP", `server error: HTTP ${status} from ${where}`, { status, url: where });
}

/** Hub API answers (revision info, tree listings) are small; this bounds a broken or hostile one. */
const MAX_JSON_BYTES = 32 * 2 ** 20;

const normalizeEtag = (e: string | undefined) => (e ? e.replace(/^W\//, "").replace(/^"|"$/g, "") : "");

async function getJson(s: HubSettings, path: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<unknown> {
  let url = new URL(s.endpoint + path);
  for (let hop = 0; hop < 10; hop++) {
    const r = await sendRequest(url, "GET", authHeaders(s, url), signal, timeoutMs);
    if (r.status >= 300 && r.status < 400 && r.headers.location) {
      r.body.resume();
      url = new URL(r.headers.location, url);
      continue;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of r.body) {
      n += (c as Buffer).length;
      if (n > MAX_JSON_BYTES) {
        r.body.destroy();
        throw new ModelError("TOO_LONG", `${url.href} sent more than ${formatBytes(MAX_JSON_BYTES)} of JSON; refused`, { url: url.href });
      }
      chunks.push(c as Buffer);
    }
    if (r.status !== 200) throw statusError(r.status, url, s);
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  }
  throw new ModelError("HTTP", `too many redirects from ${s.endpoint}${path}`);
}

/** HEAD on the resolve URL, like huggingface_hub: the LFS file's SHA-256 is its ETag, published as
 * X-Linked-Etag on the redirect to the CDN; the commit is X-Repo-Commit. */
async function fetchRemoteMeta(s: HubSettings, signal: AbortSignal | undefined, timeoutMs: number): Promise<RemoteMeta> {
  let url = new URL(resolveUrl(s));
  let r: RawResponse | null = null;
  for (let hop = 0; hop < 10; hop++) {
    r = await sendRequest(url, "HEAD", authHeaders(s, url), signal, timeoutMs);
    r.body.resume();
    const isRedirect = r.status >= 300 && r.status < 400 && !!r.headers.location;
    if (!isRedirect) break;
    const next = new URL(r.headers.location!, url);
    // Stop at the CDN redirect, whose response carries the file's metadata; follow same-site ones (renamed repos).
    if (header(r.headers, "x-linked-etag") || next.origin !== url.origin) break;
    url = next;
  }
  if (!r) throw new ModelError("HTTP", `no response from ${url.href}`);
  if (!(r.status >= 200 && r.status < 400)) throw statusError(r.status, url, s);
  const etag = normalizeEtag(header(r.headers, "x-linked-etag") ?? header(r.headers, "etag"));
  const sizeText = header(r.headers, "x-linked-size") ?? (r.status === 200 ? header(r.headers, "content-length") : undefined);
  let commit = header(r.headers, "x-repo-commit") ?? "";
  if (!/^[0-9a-f]{40}$/.test(commit)) {
    if (/^[0-9a-f]{40}$/.test(s.revision)) commit = s.revision;
    else {
      const info = (await getJson(s, `/api/models/${s.repo}/revision/${encodeURIComponent(s.revision)}`, signal, timeoutMs)) as { sha?: string };
      if (!info?.sha || !/^[0-9a-f]{40}$/.test(info.sha))
        throw new ModelError("HTTP", `${s.endpoint} did not say which commit '${s.revision}' is (no X-Repo-Commit header); is it a Hugging Face hub or mirror?`);
      commit = info.sha;
    }
  }
  let sha256: string | null = SHA256_RE.test(etag) ? etag : null;
  let size = sizeText !== undefined ? Number(sizeText) : NaN;
  if (!sha256 || !Number.isFinite(size)) {
    // Fall back on the tree listing, which gives LFS files' oid (= SHA-256) and size.
    try {
      const tree = (await getJson(s, `/api/models/${s.repo}/tree/${encodeURIComponent(s.revision)}`, signal, timeoutMs)) as Array<{
        path: string;
        size?: number;
        lfs?: { oid?: string; sha256?: string; size?: number };
      }>;
      const entry = Array.isArray(tree) ? tree.find((e) => e.path === s.filename) : undefined;
      const oid = (entry?.lfs?.oid ?? entry?.lfs?.sha256 ?? "").replace(/^sha256:/, "");
      if (!sha256 && SHA256_RE.test(oid)) sha256 = oid;
      if (!Number.isFinite(size)) size = entry?.lfs?.size ?? entry?.size ?? NaN;
    } catch (e) {
      if ((e as Error).name === "AbortError") throw e;
      /* the listing is optional */
    }
  }
  if (!Number.isFinite(size)) throw new ModelError("HTTP", `${url.href} did not give the size of ${s.filename}`);
  return { commit, sha256, size };
}

function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason ?? new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function hashFilePrefix(path: string, length: number, file: string, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<Hash> {
  const hash = createHash("sha256");
  if (length === 0) return hash;
  const meter = new ProgressMeter("hash-partial", file, length, 0, onProgress);
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20, signal })) {
    hash.update(chunk as Buffer);
    meter.add((chunk as Buffer).length);
  }
  meter.finish();
  return hash;
}

export async function hashFile(path: string, onProgress?: ProgressCallback, signal?: AbortSignal, label = path): Promise<string> {
  const size = statSync(path).size;
  const hash = createHash("sha256");
  const meter = new ProgressMeter("verify", label, size, 0, onProgress);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal })) {
    hash.update(chunk as Buffer);
    meter.add((chunk as Buffer).length);
  }
  meter.finish();
  return hash.digest("hex");
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes with backpressure; rejects with the stream's error (e.g. ENOSPC). */
function writeChunk(ws: Writable, chunk: Buffer, state: { err: Error | null }): Promise<void> | void {
  if (state.err) throw state.err;
  if (ws.write(chunk)) return;
  return new Promise((resolve, reject) => {
    const done = (e?: Error) => {
      ws.off("drain", onDrain);
      ws.off("error", onError);
      ws.off("close", onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (e: Error) => done(e);
    const onClose = () => done(state.err ?? new Error("the output file was closed"));
    ws.on("drain", onDrain);
    ws.on("error", onError);
    ws.on("close", onClose);
  });
}

function closeStream(ws: Writable, state: { err: Error | null }): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.destroyed || ws.closed) {
      if (state.err) reject(state.err);
      else resolve();
      return;
    }
    ws.once("error", reject);
    ws.once("close", () => (state.err ? reject(state.err) : resolve()));
    ws.end();
  });
}

function destroyStream(ws: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (ws.closed) return resolve();
    ws.once("close", () => resolve());
    ws.destroy();
  });
}

class Restart extends Error {}

/**
 * Makes `repo/filename@revision` available in the HF cache and returns its snapshot path.
 * Already cached: no download (and no network access when `revision` is cached, unless the cache
 * entry is missing). Interrupted downloads resume from `blobs/<sha256>.incomplete`.
 */
export async function downloadModel(opts: DownloadOptions = {}, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<DownloadResult> {
  const s = resolveHubSettings(opts);
  const url = resolveUrl(s);
  const idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  const cached = findCachedFile(s.cacheDir, s.repo, s.filename, s.revision);
  const fromCacheResult = (c: CachedFile, offlineFallback: boolean): DownloadResult | null =>
    c.sha256 ? { ...c, sha256: c.sha256, url, fromCache: true, offlineFallback, resumedFrom: 0 } : null;

  if (s.offline) {
    const r = cached && fromCacheResult(cached, false);
    if (r) return r;
    throw new ModelError("OFFLINE", offlineMessage(s, "offline mode is on (HF_HUB_OFFLINE) and the file is not in the cache"), {
      manualPath: join(s.manualDir, s.filename),
      url,
    });
  }

  if (cached && !opts.checkForUpdates && !opts.rehashExisting) {
    // An explicit expected hash is checked against the bytes, never just the blob's name.
    const expected = opts.expectedSha256?.toLowerCase();
    if (!expected || (expected === cached.sha256 && (await hashFile(cached.blobPath, onProgress, signal, s.filename)) === expected)) {
      const r = fromCacheResult(cached, false);
      if (r) return r;
    }
  }

  let meta: RemoteMeta;
  try {
    meta = await fetchRemoteMeta(s, signal, idleTimeoutMs);
  } catch (e) {
    if (signal?.aborted) throw new ModelError("ABORTED", `download of ${s.repo}/${s.filename} cancelled`, {}, e);
    if (e instanceof ModelError) throw e;
    if (isNetworkError(e)) {
      const r = cached && fromCacheResult(cached, true);
      if (r) return r;
      const code = (e as NodeJS.ErrnoException).code;
      throw new ModelError("OFFLINE", offlineMessage(s, `${new URL(s.endpoint).host} cannot be reached (${code})`), {
        manualPath: join(s.manualDir, s.filename),
        url,
      }, e);
    }
    throw new ModelError("HTTP", `cannot get ${url}: ${(e as Error).message}`, { url }, e);
  }

  const sha256 = (opts.expectedSha256?.toLowerCase() ?? meta.sha256) || null;
  if (!sha256 && !opts.allowUnverified)
    throw new ModelError(
      "NO_HASH",
      `${s.endpoint} publishes no SHA-256 for ${s.repo}/${s.filename} (no X-Linked-Etag/ETag hash, no lfs.oid in the tree listing), so the download could not be verified. Pass the expected hash (--sha256) or allow unverified downloads explicitly.`,
      { url },
    );
  if (sha256 && !SHA256_RE.test(sha256)) throw new ModelError("NO_HASH", `expected SHA-256 '${sha256}' is not 64 hex digits`);

  const paths = repoCachePaths(s.cacheDir, s.repo);
  mkdirSync(paths.blobs, { recursive: true });
  const total = meta.size;
  const lockName = sha256 ?? `unverified-${meta.commit}-${s.filename.replace(/[\\/]/g, "_")}`;

  // Already have the blob (maybe from another revision or another HF tool): just link it.
  if (sha256) {
    const blob = join(paths.blobs, sha256);
    const have = fileSize(blob);
    if (have === total && (!opts.rehashExisting || (await hashFile(blob, onProgress, signal, s.filename)) === sha256)) {
      const path = linkSnapshot(s.cacheDir, s.repo, s.revision, meta.commit, s.filename, blob);
      return { ...findCachedFileOrThrow(s, meta.commit, path), sha256, url, fromCache: true, offlineFallback: false, resumedFrom: 0 };
    }
    if (have > 0) rmSync(blob, { force: true }); // wrong size = damaged; the name promises the content
  }

  const release = acquireLock(join(paths.locks, `${lockName}.vggt-workbench.lock`), `downloading ${s.repo}/${s.filename}`);
  const incomplete = join(paths.blobs, `${lockName}.incomplete`);
  try {
    const retries = opts.retries ?? 3;
    const retryDelayMs = opts.retryDelayMs ?? 1000;
    let attempt = 0;
    let hashState: { hash: Hash; bytes: number } | null = null;
    let resumedFrom = 0;
    let restartedAfterMismatch = false;
    for (;;) {
      if (signal?.aborted) throw abortedError(s, incomplete);
      try {
        let have = fileSize(incomplete);
        if (have > total) {
          rmSync(incomplete, { force: true });
          have = 0;
        }
        if (opts.checkFreeSpace !== false) checkFreeSpace(paths.blobs, total - have, s, incomplete);
        if (!hashState || hashState.bytes !== have)
          hashState = { hash: await hashFilePrefix(incomplete, have, s.filename, onProgress, signal), bytes: have };
        if (have > 0 && resumedFrom === 0) resumedFrom = have;
        if (have < total) await fetchBody(s, url, total, hashState, incomplete, opts, onProgress, signal, idleTimeoutMs);
        const digest = hashState.hash.copy().digest("hex");
        if (sha256 && digest !== sha256) {
          rmSync(incomplete, { force: true });
          hashState = null;
          // A partial file from an earlier run may be what is wrong: retry once from scratch.
          if (resumedFrom > 0 && !restartedAfterMismatch) {
            restartedAfterMismatch = true;
            resumedFrom = 0;
            continue;
          }
          throw new ModelError(
            "HASH_MISMATCH",
            `downloaded ${s.repo}/${s.filename} does not match the published SHA-256 (expected ${sha256}, got ${digest}); the file was deleted. Try again; if it persists the server or mirror (${s.endpoint}) serves a different file.`,
            { expected: sha256, actual: digest, url },
          );
        }
        const blob = join(paths.blobs, sha256 ?? digest);
        fsyncFile(incomplete);
        renameSync(incomplete, blob);
        const path = linkSnapshot(s.cacheDir, s.repo, s.revision, meta.commit, s.filename, blob);
        return { ...findCachedFileOrThrow(s, meta.commit, path), sha256: sha256 ?? digest, url, fromCache: false, offlineFallback: false, resumedFrom };
      } catch (e) {
        if (e instanceof Restart) {
          hashState = null;
          continue;
        }
        if (signal?.aborted) throw abortedError(s, incomplete, e);
        const retriable =
          (e instanceof ModelError && (e.code === "INTERRUPTED" || (e.code === "HTTP" && Number(e.details.status) >= 500))) ||
          (!(e instanceof ModelError) && isNetworkError(e));
        if (retriable && attempt < retries) {
          attempt++;
          await sleep(retryDelayMs * 2 ** (attempt - 1), signal).catch((err) => {
            throw abortedError(s, incomplete, err);
          });
          continue;
        }
        if (e instanceof ModelError) throw e;
        if (isNetworkError(e))
          throw new ModelError(
            "INTERRUPTED",
            `download of ${s.repo}/${s.filename} failed (${(e as NodeJS.ErrnoException).code}: ${(e as Error).message}); ${formatBytes(fileSize(incomplete))} kept in ${incomplete}, the next attempt resumes from there`,
            { incomplete, url },
            e,
          );
        throw e;
      }
    }
  } finally {
    release();
  }
}

function findCachedFileOrThrow(s: HubSettings, commit: string, path: string): CachedFile {
  const c = findCachedFile(s.cacheDir, s.repo, s.filename, commit);
  if (!c) throw new ModelError("WRITE_FAILED", `${path} was written but cannot be read back`);
  return { ...c, revision: s.revision };
}

function abortedError(s: HubSettings, incomplete: string, cause?: unknown): ModelError {
  const kept = fileSize(incomplete);
  return new ModelError(
    "ABORTED",
    `download of ${s.repo}/${s.filename} cancelled${kept ? `; ${formatBytes(kept)} kept in ${incomplete} for resuming` : ""}`,
    { incomplete },
    cause,
  );
}

function checkFreeSpace(dir: string, needed: number, s: HubSettings, incomplete: string): void {
  let free: number;
  try {
    const st = statfsSync(dir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    return; // unknown: let the writes tell
  }
  if (free < needed)
    throw new ModelError(
      "DISK_FULL",
      `not enough disk space for ${s.repo}/${s.filename}: ${formatBytes(needed)} still to download, ${formatBytes(free)} free in ${dir}. Free some space or set HF_HUB_CACHE to a larger disk.`,
      { needed, free, dir, incomplete },
    );
}

async function fetchBody(
  s: HubSettings,
  resolveHref: string,
  total: number,
  hashState: { hash: Hash; bytes: number },
  incomplete: string,
  opts: DownloadOptions,
  onProgress: ProgressCallback | undefined,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number,
): Promise<void> {
  const have = hashState.bytes;
  let url = new URL(resolveHref);
  let r: RawResponse | null = null;
  for (let hop = 0; hop < 10; hop++) {
    const headers = authHeaders(s, url);
    if (have > 0) headers.range = `bytes=${have}-`;
    r = await sendRequest(url, "GET", headers, signal, idleTimeoutMs);
    if (r.status >= 300 && r.status < 400 && r.headers.location) {
      r.body.resume();
      url = new URL(r.headers.location, url);
      r = null;
      continue;
    }
    break;
  }
  if (!r) throw new ModelError("HTTP", `too many redirects from ${resolveHref}`);
  const res = r;
  let append: boolean;
  if (res.status === 206 && have > 0) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(res.headers, "content-range") ?? "");
    if (!m || Number(m[1]) !== have) {
      res.body.destroy();
      rmSync(incomplete, { force: true });
      throw new Restart();
    }
    append = true;
  } else if (res.status === 200) {
    append = false; // the server ignored the Range header: start over
  } else if (res.status === 416 && have > 0) {
    res.body.resume();
    rmSync(incomplete, { force: true });
    throw new Restart();
  } else {
    res.body.resume();
    throw statusError(res.status, url, s);
  }
  const start = append ? have : 0;
  const contentLength = header(res.headers, "content-length");
  if (contentLength !== undefined && Number(contentLength) !== total - start) {
    res.body.destroy();
    throw new ModelError(
      "HTTP",
      `${url.href} sends ${contentLength} bytes from offset ${start}, but the file has ${total} bytes (the server's file changed?)`,
      { status: res.status, url: url.href },
    );
  }
  if (!append) {
    hashState.hash = createHash("sha256");
    hashState.bytes = 0;
  }
  const ws = opts.openWrite ? opts.openWrite(incomplete, append ? "a" : "w") : createWriteStream(incomplete, { flags: append ? "a" : "w" });
  const wstate: { err: Error | null } = { err: null };
  ws.on("error", (e: Error) => (wstate.err = e));
  const meter = new ProgressMeter("download", s.filename, total, start, onProgress);
  // The declared size (the hub's X-Linked-Size / tree listing, checked against Content-Length above)
  // caps what is written: a longer or endless body is cut there, so the partial file stays a prefix
  // of at most `total` bytes and the disk cannot be filled.
  let overlong = false;
  try {
    try {
      for await (const chunk of res.body) {
        let b = chunk as Buffer;
        const room = total - hashState.bytes;
        if (b.length > room) {
          b = b.subarray(0, room);
          overlong = true;
        }
        hashState.hash.update(b);
        hashState.bytes += b.length;
        if (b.length) await writeChunk(ws, b, wstate);
        meter.add(b.length);
        if (overlong) break;
      }
    } catch (e) {
      if (wstate.err || e === wstate.err) throw wstate.err;
      throw e;
    }
    if (overlong) res.body.destroy();
    await closeStream(ws, wstate);
  } catch (e) {
    res.body.destroy();
    await destroyStream(ws);
    const err = wstate.err ?? e;
    if (err === wstate.err || isDiskFullError(err)) {
      const kept = fileSize(incomplete);
      if (isDiskFullError(err))
        throw new ModelError(
          "DISK_FULL",
          `disk full while writing ${incomplete} (${formatBytes(kept)} of ${formatBytes(total)} written). Free at least ${formatBytes(total - kept)} or set HF_HUB_CACHE to a larger disk; the partial file is kept and the download resumes from there.`,
          { incomplete, written: kept, total },
          err,
        );
      throw new ModelError("WRITE_FAILED", `cannot write ${incomplete}: ${(err as Error).message}`, { incomplete }, err);
    }
    if (signal?.aborted) throw e;
    throw new ModelError(
      "INTERRUPTED",
      `connection lost while downloading ${s.repo}/${s.filename} (${(e as Error).message}); ${formatBytes(fileSize(incomplete))} of ${formatBytes(total)} kept in ${incomplete}, the next attempt resumes from there`,
      { incomplete, url: url.href },
      e,
    );
  }
  if (overlong)
    throw new ModelError(
      "TOO_LONG",
      `${url.href} sent more than the ${total} bytes of ${s.repo}/${s.filename}; the transfer was stopped there (${formatBytes(fileSize(incomplete))} kept in ${incomplete}, checked against the SHA-256 before use). If it persists the server or mirror (${s.endpoint}) is broken.`,
      { incomplete, url: url.href, total },
    );
  if (hashState.bytes !== total)
    throw new ModelError(
      "INTERRUPTED",
      `the server ended the download of ${s.repo}/${s.filename} early (${hashState.bytes} of ${total} bytes); kept in ${incomplete}, the next attempt resumes`,
      { incomplete, url: url.href },
    );
  meter.finish();
}

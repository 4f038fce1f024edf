// The Hugging Face cache layout, written the way huggingface_hub writes it so both tools share files:
//   <cache>/models--org--name/blobs/<sha256>                   the bytes (LFS files are named by SHA-256)
//   <cache>/models--org--name/snapshots/<commit>/<filename>    relative symlink to ../../blobs/<sha256>
//   <cache>/models--org--name/refs/<revision>                  the commit a branch/tag pointed to
import {
  closeSync,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { writeFileAtomic } from "../tensors/safetensors.js";
import { ModelError } from "./errors.js";
import { repoCachePaths } from "./paths.js";

const COMMIT_RE = /^[0-9a-f]{40}$/;
export const SHA256_RE = /^[0-9a-f]{64}$/;

export interface CachedFile {
  repo: string;
  filename: string;
  revision: string;
  commit: string;
  /** The snapshot path (a symlink into blobs/ on POSIX). */
  path: string;
  /** The blob the snapshot entry resolves to. */
  blobPath: string;
  /** The blob's name when it is a SHA-256 (LFS files), else null. */
  sha256: string | null;
  size: number;
}

/** The commit a revision points to in the cache (the revision itself when it is a commit hash). */
export function readRef(cacheDir: string, repo: string, revision: string): string | null {
  if (COMMIT_RE.test(revision)) return revision;
  const refFile = join(repoCachePaths(cacheDir, repo).refs, revision);
  try {
    const commit = readFileSync(refFile, "utf8").trim();
    return COMMIT_RE.test(commit) ? commit : null;
  } catch {
    return null;
  }
}

function describe(repo: string, filename: string, revision: string, commit: string, path: string): CachedFile | null {
  let st;
  try {
    st = statSync(path); // follows the symlink; a dangling link fails here
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  const blobPath = realpathSync(path);
  const name = basename(blobPath);
  return { repo, filename, revision, commit, path, blobPath, sha256: SHA256_RE.test(name) ? name : null, size: st.size };
}

/** A file of `revision` already in the cache, or null. Never touches the network. */
export function findCachedFile(cacheDir: string, repo: string, filename: string, revision = "main"): CachedFile | null {
  const commit = readRef(cacheDir, repo, revision);
  if (!commit) return null;
  return describe(repo, filename, revision, commit, join(repoCachePaths(cacheDir, repo).snapshots, commit, filename));
}

/** Every cached snapshot file of the repo whose name is one of `filenames` (all revisions). */
export function listCachedFiles(cacheDir: string, repo: string, filenames?: string[]): CachedFile[] {
  const paths = repoCachePaths(cacheDir, repo);
  const refsByCommit = new Map<string, string>();
  try {
    for (const r of readdirSync(paths.refs)) {
      const c = readRef(cacheDir, repo, r);
      if (c) refsByCommit.set(c, r);
    }
  } catch {
    /* no refs yet */
  }
  const out: CachedFile[] = [];
  let commits: string[] = [];
  try {
    commits = readdirSync(paths.snapshots);
  } catch {
    return out;
  }
  for (const commit of commits) {
    let names: string[] = [];
    try {
      names = readdirSync(join(paths.snapshots, commit));
    } catch {
      continue;
    }
    for (const f of names) {
      if (filenames && !filenames.includes(f)) continue;
      const d = describe(repo, f, refsByCommit.get(commit) ?? commit, commit, join(paths.snapshots, commit, f));
      if (d) out.push(d);
    }
  }
  return out;
}

/** Points snapshots/<commit>/<filename> at blobs/<sha256> (replacing any old entry atomically) and
 * records refs/<revision>. Falls back to a hard link, then a copy, where symlinks are not allowed
 * (Windows without developer mode). */
export function linkSnapshot(cacheDir: string, repo: string, revision: string, commit: string, filename: string, blobPath: string): string {
  const paths = repoCachePaths(cacheDir, repo);
  const snapDir = join(paths.snapshots, commit);
  const target = join(snapDir, filename);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    try {
      symlinkSync(relative(dirname(target), blobPath), tmp);
    } catch {
      try {
        linkSync(blobPath, tmp);
      } catch {
        copyFileSync(blobPath, tmp);
      }
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new ModelError("WRITE_FAILED", `cannot create ${target}: ${(e as Error).message}`, { path: target }, e);
  }
  if (revision !== commit) {
    mkdirSync(paths.refs, { recursive: true });
    const refFile = join(paths.refs, revision);
    mkdirSync(dirname(refFile), { recursive: true }); // revisions like "refs/pr/1"
    writeFileAtomic(refFile, commit);
  }
  return target;
}

/** True when `p` is a symlink or a regular file (used to spot stale snapshot entries). */
export function entryExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** A process's start time in clock ticks since boot (Linux /proc), or null where unknown. */
export function processStartTicks(pid: number | "self"): number | null {
  try {
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ") ".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const v = Number(stat.slice(stat.lastIndexOf(") ") + 2).split(" ")[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** Seconds since the epoch at which the system booted (Linux), for turning start ticks into a date. */
function bootTimeSeconds(): number | null {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// Linux reports start times in USER_HZ, which is 100 on every architecture it supports.
const USER_HZ = 100;

/**
 * Whether the lock's writer is still running. A PID alone is not enough: after the holder died, its
 * PID may have been given to another process, which must not keep the lock forever. Locks record the
 * holder's start time; for older pid-only locks, a process that started after the lock file was last
 * written cannot be its writer.
 */
function lockHolderAlive(pid: number, recordedStart: number | null, lockMtimeMs: number): boolean {
  if (!processAlive(pid)) return false;
  const start = processStartTicks(pid);
  if (start === null) return true; // no /proc: PID liveness is all there is
  if (recordedStart !== null) return start === recordedStart;
  const boot = bootTimeSeconds();
  if (boot === null) return true;
  const startedMs = (boot + start / USER_HZ) * 1000;
  return startedMs <= lockMtimeMs + 1000; // 1 s: btime and mtime granularity
}

/** An exclusive lock file holding our pid and start time; a lock left by a process that is gone
 *  (dead, or its PID reused by another process) is taken over. */
export function acquireLock(lockPath: string, what: string): () => void {
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      const start = processStartTicks("self");
      writeSync(fd, `${process.pid}${start !== null ? ` ${start}` : ""}\n`);
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let pid = NaN;
      let recordedStart: number | null = null;
      let mtimeMs = 0;
      try {
        const [p, st] = readFileSync(lockPath, "utf8").trim().split(/\s+/);
        pid = Number(p);
        recordedStart = st !== undefined && /^\d+$/.test(st) ? Number(st) : null;
        mtimeMs = statSync(lockPath).mtimeMs;
      } catch {
        /* vanished meanwhile */
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && lockHolderAlive(pid, recordedStart, mtimeMs))
        throw new ModelError("BUSY", `${what} is already in progress in process ${pid} (lock file ${lockPath})`, { lockPath, pid });
      if (pid === process.pid)
        throw new ModelError("BUSY", `${what} is already in progress in this process (lock file ${lockPath})`, { lockPath, pid });
      try {
        unlinkSync(lockPath); // stale
      } catch {
        /* raced with another taker; retry once */
      }
    }
  }
  throw new ModelError("BUSY", `${what}: could not take the lock ${lockPath}`, { lockPath });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

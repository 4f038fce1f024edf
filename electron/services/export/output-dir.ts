// Atomic export into a folder. Everything is written into a staging folder INSIDE the target folder
// (so on the target's own file system: exporting to the root of a USB stick or any mount point never
// renames across file systems), then moved into place. Files that get replaced are first moved aside
// into the staging folder; if any step of the commit fails, every moved file is put back, so the
// folder holds either the whole new export or exactly what it held before (never a COLMAP model
// with images.txt new and points3D.txt old), and no staging folder is left behind.
import * as fsp from "node:fs/promises";
import { join, resolve } from "node:path";

export class ExportCancelledError extends Error {}

/** The file operations the staging uses; replaceable in tests to inject faults. */
export interface ExportFs {
  mkdir: (p: string, o: { recursive: true }) => Promise<unknown>;
  mkdtemp: (prefix: string) => Promise<string>;
  rename: (from: string, to: string) => Promise<void>;
  rm: (p: string, o: { recursive: true; force: true }) => Promise<void>;
  rmdir: (p: string) => Promise<void>;
}

const realFs: ExportFs = { mkdir: fsp.mkdir, mkdtemp: fsp.mkdtemp, rename: fsp.rename, rm: fsp.rm, rmdir: fsp.rmdir };

export interface OverwritePolicy {
  /** Overwrite into a non-empty folder without asking. */
  force?: boolean;
  /** Asked when the folder is not empty and force is not set; resolve false to cancel. */
  confirmOverwrite?: (outDir: string, existing: string[]) => boolean | Promise<boolean>;
  /** Test hook: file operations (default node:fs/promises). */
  fs?: Partial<ExportFs>;
}

export interface StagedExport {
  outDir: string;
  staging: string;
  commit(): Promise<string[]>;
  abort(): Promise<void>;
}

export const STAGING_PREFIX = ".vggt-export-";

async function existingEntries(dir: string): Promise<string[] | undefined> {
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new Error(`${dir}: exists and is not a folder`);
    return (await fsp.readdir(dir)).filter((n) => !n.startsWith(STAGING_PREFIX));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** A file-system error as a sentence about the export folder (no raw "EROFS ... mkdtemp"). */
function writeError(outDir: string, e: unknown, doing: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === "EROFS"
      ? "the file system is read-only"
      : code === "EACCES" || code === "EPERM"
        ? "permission denied"
        : code === "ENOSPC" || code === "EDQUOT"
          ? "the disk is full"
          : code === "ENOTDIR"
            ? "a part of the path is a file, not a folder"
            : (e as Error).message;
  return Object.assign(new Error(`cannot export into ${outDir}: ${doing} failed (${why})`), { code, cause: e });
}

export async function stageExport(outDirIn: string, policy: OverwritePolicy): Promise<StagedExport> {
  const fs: ExportFs = { ...realFs, ...policy.fs };
  const outDir = resolve(outDirIn);
  const existing = await existingEntries(outDir);
  if (existing && existing.length > 0 && !policy.force) {
    const shown = existing.slice(0, 5).join(", ") + (existing.length > 5 ? ", ..." : "");
    if (!policy.confirmOverwrite)
      throw new Error(`${outDir}: output folder is not empty (${shown}); pass --force to overwrite`);
    if (!(await policy.confirmOverwrite(outDir, existing))) throw new ExportCancelledError(`export into ${outDir} cancelled`);
  }
  const created = existing === undefined;
  try {
    await fs.mkdir(outDir, { recursive: true });
  } catch (e) {
    throw writeError(outDir, e, "creating the folder");
  }
  let staging: string;
  try {
    staging = await fs.mkdtemp(join(outDir, STAGING_PREFIX));
  } catch (e) {
    if (created) await fs.rmdir(outDir).catch(() => {});
    throw writeError(outDir, e, "creating a staging folder");
  }
  const cleanup = async () => {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => {});
    if (created) await fs.rmdir(outDir).catch(() => {}); // only succeeds when empty
  };
  return {
    outDir,
    staging,
    async commit() {
      let moves: Move[];
      try {
        moves = await planMoves(staging, outDir);
      } catch (e) {
        await cleanup();
        throw e;
      }
      const aside = join(staging, ".replaced");
      const done: { to: string; backup: string | null }[] = [];
      try {
        await fs.mkdir(aside, { recursive: true });
        for (const [k, m] of moves.entries()) {
          let backup: string | null = null;
          if (m.replaces) {
            backup = join(aside, String(k));
            await fs.rename(m.to, backup);
          }
          done.push({ to: m.to, backup });
          await fs.rename(m.from, m.to);
        }
      } catch (e) {
        // Put back what was there, newest step first; a step whose new file never arrived only
        // needs its backup returned.
        const failures: string[] = [];
        for (const d of done.reverse()) {
          try {
            if (d.backup) await fs.rename(d.backup, d.to);
            else await fs.rm(d.to, { recursive: true, force: true });
          } catch (r) {
            failures.push(`${d.to} (${(r as Error).message})`);
          }
        }
        if (failures.length === 0) await cleanup();
        const err = writeError(outDir, e, "moving the files into place");
        err.message +=
          failures.length === 0
            ? "; the folder was left as it was before"
            : `; could not restore ${failures.join(", ")}: the earlier files are in ${aside}`;
        throw err;
      }
      await fs.rm(staging, { recursive: true, force: true });
      return moves.flatMap((m) => m.files).sort();
    },
    abort: cleanup,
  };
}

interface Move {
  from: string;
  to: string;
  /** An existing file at `to` that is replaced (moved aside first). */
  replaces: boolean;
  files: string[];
}

/** What commit() will rename: new folders move whole, existing folders merge, files replace. All
 *  conflicts are found here, before anything is moved. */
async function planMoves(src: string, dst: string, out: Move[] = []): Promise<Move[]> {
  for (const ent of await fsp.readdir(src, { withFileTypes: true })) {
    const from = join(src, ent.name);
    const to = join(dst, ent.name);
    let target;
    try {
      target = await fsp.lstat(to);
    } catch {
      target = undefined;
    }
    if (ent.isDirectory() && target?.isDirectory()) {
      await planMoves(from, to, out);
      continue;
    }
    if (target?.isDirectory()) throw new Error(`${to}: is a folder, cannot replace it with a file`);
    if (ent.isDirectory() && target) throw new Error(`${to}: is a file, cannot replace it with a folder`);
    const files: string[] = [];
    if (ent.isDirectory()) await listFiles(from, to, files);
    else files.push(to);
    out.push({ from, to, replaces: !!target, files });
  }
  return out;
}

async function listFiles(from: string, to: string, out: string[]): Promise<void> {
  for (const ent of await fsp.readdir(from, { withFileTypes: true })) {
    if (ent.isDirectory()) await listFiles(join(from, ent.name), join(to, ent.name), out);
    else out.push(join(to, ent.name));
  }
}

// Atomic export into a folder: everything is written into a staging folder beside the target, then moved
// into place file by file with rename (atomic replace), so a failed export leaves earlier results intact.
import { mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

export class ExportCancelledError extends Error {}

export interface OverwritePolicy {
  /** Overwrite into a non-empty folder without asking. */
  force?: boolean;
  /** Asked when the folder is not empty and force is not set; resolve false to cancel. */
  confirmOverwrite?: (outDir: string, existing: string[]) => boolean | Promise<boolean>;
}

export interface StagedExport {
  outDir: string;
  staging: string;
  commit(): Promise<string[]>;
  abort(): Promise<void>;
}

async function existingEntries(dir: string): Promise<string[] | undefined> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new Error(`${dir}: exists and is not a folder`);
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export async function stageExport(outDirIn: string, policy: OverwritePolicy): Promise<StagedExport> {
  const outDir = resolve(outDirIn);
  const existing = await existingEntries(outDir);
  if (existing && existing.length > 0 && !policy.force) {
    const shown = existing.slice(0, 5).join(", ") + (existing.length > 5 ? ", ..." : "");
    if (!policy.confirmOverwrite)
      throw new Error(`${outDir}: output folder is not empty (${shown}); pass --force to overwrite`);
    if (!(await policy.confirmOverwrite(outDir, existing))) throw new ExportCancelledError(`export into ${outDir} cancelled`);
  }
  await mkdir(dirname(outDir), { recursive: true });
  // Beside the target so that the final renames stay on one file system.
  const staging = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.export-`));
  return {
    outDir,
    staging,
    async commit() {
      await mkdir(outDir, { recursive: true });
      const moved: string[] = [];
      await mergeInto(staging, outDir, moved);
      await rm(staging, { recursive: true, force: true });
      return moved.sort();
    },
    async abort() {
      await rm(staging, { recursive: true, force: true });
    },
  };
}

/** Moves src's entries into dst: new folders move whole, existing folders merge, files replace atomically. */
async function mergeInto(src: string, dst: string, moved: string[]): Promise<void> {
  for (const ent of await readdir(src, { withFileTypes: true })) {
    const from = join(src, ent.name);
    const to = join(dst, ent.name);
    let target;
    try {
      target = await stat(to);
    } catch {
      target = undefined;
    }
    if (ent.isDirectory() && target?.isDirectory()) {
      await mergeInto(from, to, moved);
      continue;
    }
    if (target?.isDirectory()) throw new Error(`${to}: is a folder, cannot replace it with a file`);
    if (ent.isDirectory()) await listFiles(from, to, moved);
    else moved.push(to);
    await rename(from, to);
  }
}

async function listFiles(from: string, to: string, out: string[]): Promise<void> {
  for (const ent of await readdir(from, { withFileTypes: true })) {
    if (ent.isDirectory()) await listFiles(join(from, ent.name), join(to, ent.name), out);
    else out.push(join(to, ent.name));
  }
}

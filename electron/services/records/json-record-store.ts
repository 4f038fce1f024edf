// One JSON file per record in its own folder, the way the run store and the benchmark history keep
// them: ids checked against a pattern before they become paths, atomic writes (temp + rename),
// errors that name the record and the file, listing newest first, and in-flight records marked
// interrupted when the app starts again.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

import { writeFileAtomic } from "../tensors/safetensors.js";

export interface RecordBase {
  id: string;
  createdAt: string;
}

export interface JsonRecordStoreOptions<R extends RecordBase, S extends RecordBase> {
  /** Folder holding one subfolder per record (created if missing). */
  dir: string;
  /** What a record is called in errors ("run", "benchmark"). */
  what: string;
  /** Valid ids; anything else is refused before it becomes a path. */
  idPattern: RegExp;
  /** The record's file name inside its folder ("run.json"). */
  fileName: string;
  /** The list form of a record. */
  summary(record: R): S;
  /** Keep records read or written in memory (a store that is this process's only writer). */
  cache?: boolean;
}

/** A sortable, collision-resistant id: [prefix]YYYYMMDD-HHMMSS-<6 hex> in local time. */
export function newRecordId(prefix = "", now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${prefix}${stamp}-${randomBytes(3).toString("hex")}`;
}

/** Parses a record file; `what` names the record in errors (e.g. "run 2026...-ab12"). */
export function readJsonRecord<T>(file: string, what: string): T {
  if (!existsSync(file)) throw new Error(`${what} not found`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (e) {
    throw new Error(`${what}: corrupt record ${file} (${(e as Error).message})`);
  }
}

export class JsonRecordStore<R extends RecordBase, S extends RecordBase> {
  readonly dir: string;
  private readonly cache = new Map<string, R>();

  constructor(private readonly o: JsonRecordStoreOptions<R, S>) {
    this.dir = o.dir;
    mkdirSync(this.dir, { recursive: true });
  }

  recordDir(id: string): string {
    if (!this.o.idPattern.test(id)) throw new Error(`invalid ${this.o.what} id ${JSON.stringify(id)}`);
    return join(this.dir, id);
  }

  recordPath(id: string): string {
    return join(this.recordDir(id), this.o.fileName);
  }

  create(record: R): R {
    mkdirSync(this.recordDir(record.id), { recursive: true });
    this.write(record);
    return record;
  }

  private write(record: R): void {
    writeFileAtomic(this.recordPath(record.id), JSON.stringify(record, null, 1));
    if (this.o.cache) this.cache.set(record.id, record);
  }

  get(id: string): R {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const file = this.recordPath(id);
    const rec = readJsonRecord<R>(file, `${this.o.what} ${id}`);
    if (!rec || typeof rec !== "object" || rec.id !== id) throw new Error(`${this.o.what} ${id}: ${file} is not a ${this.o.what} record of this id`);
    if (this.o.cache) this.cache.set(id, rec);
    return rec;
  }

  update(id: string, patch: Partial<R>): R {
    const next = { ...this.get(id), ...patch, id };
    this.write(next);
    return next;
  }

  /**
   * Summaries of every record, newest first (ties by id). A record that fails to load is skipped,
   * and left on disk: one bad file never hides the others.
   */
  list(): S[] {
    const out: S[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!this.o.idPattern.test(name)) continue;
      try {
        out.push(this.o.summary(this.get(name)));
      } catch {
        // unreadable: skipped, kept for the user to inspect
      }
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.id.localeCompare(a.id)));
  }

  delete(id: string): void {
    const dir = this.recordDir(id);
    this.cache.delete(id);
    rmSync(dir, { recursive: true, force: true });
  }

  /** Marks records a previous process left in flight (`inFlight`) as interrupted, with `error`. */
  markInterrupted(inFlight: (s: S) => boolean, patch: Partial<R>): void {
    for (const s of this.list()) if (inFlight(s)) this.update(s.id, patch);
  }
}

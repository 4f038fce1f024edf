// One JSON file per record in its own folder, as the run store and the benchmark history keep
// them: reading one with errors that name the file, and listing all newest first.
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** Parses a record file; `what` names the record in errors (e.g. "run 2026...-ab12"). */
export function readJsonRecord<T>(file: string, what: string): T {
  if (!existsSync(file)) throw new Error(`${what} not found`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (e) {
    throw new Error(`${what}: corrupt record ${file} (${(e as Error).message})`);
  }
}

/**
 * Summaries of every record folder in `dir` whose name matches `idPattern`, newest first (ties by
 * id). A record that fails to load is skipped, and left on disk: one bad file never hides the others.
 */
export function listNewestFirst<S extends { id: string; createdAt: string }>(
  dir: string,
  idPattern: RegExp,
  summary: (id: string) => S,
): S[] {
  const out: S[] = [];
  for (const name of readdirSync(dir)) {
    if (!idPattern.test(name)) continue;
    try {
      out.push(summary(name));
    } catch {
      // unreadable: skipped, kept for the user to inspect
    }
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.id.localeCompare(a.id)));
}

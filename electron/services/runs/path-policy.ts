// Which server-side paths a request may name. The desktop app reads whatever its user picked; web
// mode serves a browser, which must not turn the server into a file reader: it may only name what
// was uploaded, the bundled sample, the app's own data folders and the model the operator started
// it with. Every route that takes a path goes through check(), and the refusal reads the same
// whether or not the file exists (no existence or size oracle).
import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

import { isWithin } from "./scan.js";

export class PathNotAllowedError extends Error {}

/** The real path of p, following symlinks through its nearest existing ancestor. */
function realPathOf(p: string): string {
  const abs = resolve(p);
  const rest: string[] = [];
  for (let cur = abs; ; cur = dirname(cur)) {
    try {
      return join(realpathSync.native(cur), ...rest.reverse());
    } catch {
      if (dirname(cur) === cur) return abs;
      rest.push(basename(cur));
    }
  }
}

export class PathPolicy {
  /** roots: null = unrestricted (desktop); else the folders that may be read (asked each time, as
   *  upload folders come and go). */
  constructor(private readonly roots: (() => string[]) | null) {}

  get restricted(): boolean {
    return this.roots !== null;
  }

  /** The absolute path to use for `path`; throws PathNotAllowedError where the policy refuses it. */
  check(path: unknown, what = "path"): string {
    if (typeof path !== "string" || path.length === 0 || path.includes("\0")) throw new PathNotAllowedError(`${what}: expected a file path`);
    const abs = resolve(path);
    if (!this.roots) return abs;
    const real = realPathOf(abs);
    if (this.roots().some((r) => isWithin(realPathOf(r), real))) return abs;
    throw new PathNotAllowedError(`${path}: not accessible in web mode (upload the files instead)`);
  }

  /** Whether check() would accept the path (for settings saved earlier, which are skipped quietly). */
  allows(path: string): boolean {
    try {
      this.check(path);
      return true;
    } catch {
      return false;
    }
  }
}

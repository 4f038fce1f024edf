// The layering rules the tree relies on, checked on every import statement: the renderer reaches the
// main side only through the IPC contract (electron/ipc/) and the pure modules here (common/); the
// IPC contract itself imports only common/; common/ imports nothing outside itself (its tests may
// use vitest and Node built-ins), so both sides can bundle it. Among the services, perf/ and runs/
// share things only through named modules (runs/ may use perf/index.ts), and model-manager/ is used
// by cli/, never the other way round.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.(ts|tsx|mts)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Every module specifier a file names: static imports/exports, side-effect imports and import(). */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;
  return [...code.matchAll(re)].map((m) => m[1]);
}

/** Imports of `file` that fall outside `allowed` (repo-relative folders); bare packages pass if `packages`. */
function violations(file: string, allowed: string[], packages: (spec: string) => boolean): string[] {
  const bad: string[] = [];
  for (const spec of specifiers(readFileSync(join(root, file), "utf8"))) {
    if (!spec.startsWith(".")) {
      if (!packages(spec)) bad.push(`${file}: ${spec}`);
      continue;
    }
    const target = relative(root, resolve(root, dirname(file), spec));
    if (!allowed.some((a) => target === a || target.startsWith(a + "/"))) bad.push(`${file}: ${spec} (-> ${target})`);
  }
  return bad;
}

describe("layering", () => {
  it("finds every import form (the check itself can fail)", () => {
    // Quotes come from q so that this file's own scan does not see these sample imports.
    const q = '"';
    const text = `import a from ${q}./a${q};\nimport type { B } from ${q}../b.js${q};\nexport { c } from ${q}./c${q};\nimport ${q}./d.css${q};\nconst e = await import(${q}../e${q});\n// import x from ${q}./commented${q};\n`;
    expect(specifiers(text)).toEqual(["./a", "../b.js", "./c", "./d.css", "../e"]);
    expect(violations("renderer/src/store.ts", ["renderer"], () => true)).not.toEqual([]);
  });

  it("the renderer imports only renderer/, common/ and electron/ipc/ (never electron/services/)", () => {
    const files = sources("renderer").filter((f) => !f.startsWith("renderer/node_modules"));
    expect(files.length).toBeGreaterThan(10);
    const bad = files.flatMap((f) => violations(f, ["renderer", "common", "electron/ipc"], () => true));
    expect(bad).toEqual([]);
  });

  it("the IPC contract imports only itself and common/", () => {
    const bad = sources("electron/ipc").flatMap((f) => violations(f, ["electron/ipc", "common"], () => false));
    expect(bad).toEqual([]);
  });

  it("common/ imports nothing outside itself (tests: vitest and node: built-ins too)", () => {
    const files = sources("common");
    expect(files.length).toBeGreaterThan(10);
    const bad = files.flatMap((f) =>
      violations(f, ["common"], (spec) => f.endsWith(".test.ts") && (spec === "vitest" || spec.startsWith("node:"))),
    );
    expect(bad).toEqual([]);
  });

  it("perf/ and runs/ do not reach into each other, and model-manager/ does not import cli/", () => {
    const svc = "electron/services";
    const outside = (dir: string, banned: string[], except: string[] = []) =>
      sources(`${svc}/${dir}`).flatMap((f) =>
        specifiers(readFileSync(join(root, f), "utf8"))
          .filter((spec) => spec.startsWith("."))
          .map((spec) => relative(root, resolve(root, dirname(f), spec)))
          .filter((t) => banned.some((b) => t.startsWith(`${svc}/${b}/`)) && !except.includes(t))
          .map((t) => `${f} -> ${t}`),
      );
    expect(outside("perf", ["runs"])).toEqual([]);
    expect(outside("runs", ["perf"], [`${svc}/perf/index.js`])).toEqual([]);
    expect(outside("model-manager", ["cli"])).toEqual([]);
  });
});

#!/usr/bin/env node
// Package bin: runs the TypeScript CLI (electron/services/cli/main.ts) through tsx from this package's
// node_modules, so it works from any working directory without a build step.
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let register;
try {
  ({ register } = await import("tsx/esm/api"));
} catch (e) {
  process.stderr.write(`vggt-workbench: cannot load tsx (${e.message}); run 'npm install' in ${root}\n`);
  process.exit(1);
}
register();
const { runCli } = await import(pathToFileURL(join(root, "electron/services/cli/main.ts")).href);
process.exitCode = await runCli(process.argv.slice(2));

// Assembles the services both front ends use: engine, run store, exporter. main.ts (Electron)
// and web/cli.ts (web mode) differ only in the options they pass.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { AppMode } from "../../ipc/types.js";
import { SupervisedEngine } from "./engine-adapter.js";
import type { EngineRunner } from "./engine-runner.js";
import { createExporter } from "./exporter.js";
import { Workbench } from "./workbench.js";

/** Walks up from this module to the folder holding `rel` (sources and bundles alike). */
export function findUp(rel: string, from = dirname(fileURLToPath(import.meta.url))): string | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
    if (dirname(dir) === dir) return null;
  }
}

export function defaultDataDir(env = process.env): string {
  if (env.VGGT_DATA_DIR) return resolve(env.VGGT_DATA_DIR);
  const base = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "vggt-workbench");
}

export interface AppServicesOptions {
  mode: AppMode;
  dataDir?: string;
  /** Folder with weights.safetensors + config.json ($VGGT_MODEL_DIR by default). */
  modelDir?: string;
  engineBinary?: string;
  engine?: EngineRunner;
  threads?: number;
  sampleDir?: string;
  /** Web mode: folders in which the browser may choose a model (--model-root). */
  modelRoots?: string[];
  pickFolder?: () => Promise<string | null>;
  /** Native file picker for a checkpoint (Electron's dialog). */
  pickModelFile?: () => Promise<string | null>;
  /** Hub the Model panel downloads from (web mode's --hub-url). */
  hubEndpoint?: string;
  pickExportDir?: () => Promise<string | null>;
}

/** $VGGT_MEMORY_LIMIT_BYTES: the memory the run planner assumes instead of the machine's (a smaller
 *  share for the app on a shared machine; tests use it to make a selection "too big"). */
export function memoryLimitFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.VGGT_MEMORY_LIMIT_BYTES;
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`VGGT_MEMORY_LIMIT_BYTES: expected a positive whole number of bytes, got '${v}'`);
  return n;
}

export function createAppServices(opts: AppServicesOptions): { workbench: Workbench; engine: EngineRunner } {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const engine = opts.engine ?? new SupervisedEngine({ binary: opts.engineBinary, threads: opts.threads });
  const sampleDir = opts.sampleDir ?? findUp(join("assets", "sample")) ?? undefined;
  const workbench = new Workbench({
    mode: opts.mode,
    dataDir,
    engine,
    modelDir: opts.modelDir ?? process.env.VGGT_MODEL_DIR,
    sampleDir,
    // Web mode reads only what was uploaded (and the sample); Electron reads what the user picked.
    restrictToRoots: opts.mode === "web" ? (sampleDir ? [sampleDir] : []) : undefined,
    modelRoots: opts.modelRoots,
    pickFolder: opts.pickFolder,
    pickModelFile: opts.pickModelFile,
    hubEndpoint: opts.hubEndpoint,
    exporter: createExporter(join(dataDir, "exports"), opts.pickExportDir),
    threads: opts.threads,
    ...(memoryLimitFromEnv() ? { hostMemoryBytes: memoryLimitFromEnv() } : {}),
  });
  return { workbench, engine };
}

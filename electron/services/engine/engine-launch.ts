// Where the engine binary is, and the command line that starts `vggt-engine serve` (directly
// or under mpirun for a sequence-parallel run).
import { checkThreads } from "../../../common/limits.js";
import { accessSync, constants, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ParallelMode } from "./protocol.js";

const BIN_NAME = process.platform === "win32" ? "vggt-engine.exe" : "vggt-engine";

export interface FindEngineOptions {
  env?: NodeJS.ProcessEnv;
  /** Directory to start the search for `native-engine/build/vggt-engine` from (walks up). */
  searchFrom?: string;
  /** Electron's process.resourcesPath in a packaged app (engine at `<resources>/engine/vggt-engine`). */
  resourcesPath?: string;
}

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The engine binary: $VGGT_ENGINE_BIN, else `native-engine/build/vggt-engine` in the repository
 * (found by walking up from this module, so it works from sources and from a bundle), else the
 * packaged resources. Throws naming every place it looked.
 */
export function findEngineBinary(opts: FindEngineOptions = {}): string {
  const env = opts.env ?? process.env;
  const tried: string[] = [];
  const fromEnv = env.VGGT_ENGINE_BIN;
  if (fromEnv) {
    // An explicit choice that is wrong is an error, not a reason to silently use another binary.
    if (isExecutable(fromEnv)) return resolve(fromEnv);
    throw new Error(`VGGT_ENGINE_BIN=${fromEnv} is not an executable file`);
  }
  let dir = resolve(opts.searchFrom ?? dirname(fileURLToPath(import.meta.url)));
  for (;;) {
    const candidate = join(dir, "native-engine", "build", BIN_NAME);
    tried.push(candidate);
    if (isExecutable(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const resources = opts.resourcesPath ?? (process as { resourcesPath?: string }).resourcesPath;
  if (resources) {
    const candidate = join(resources, "engine", BIN_NAME);
    tried.push(candidate);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(
    `vggt-engine binary not found (set VGGT_ENGINE_BIN or build it: ` +
      `cmake -S native-engine -B native-engine/build -DCMAKE_BUILD_TYPE=Release && ` +
      `cmake --build native-engine/build -j2 --target vggt-engine). Looked at:\n  ${tried.join("\n  ")}`,
  );
}

/** Runs the engine as `mpirun -np N ... vggt-engine serve --parallel MODE --degree D`. */
export interface MpiLauncher {
  kind: "mpirun";
  np: number;
  mode: ParallelMode;
  /** Sequence-parallel degree; every rank takes part, so it must equal np (the default). */
  degree?: number;
  /** Open MPI hostfile (`--hostfile`): ranks on several machines; the weights path must exist on each. */
  hostfile?: string;
  /** Allow more ranks than cores (`--oversubscribe`); then use threadsPerRank: 1. */
  oversubscribe?: boolean;
  /** OpenMP threads per rank (`-x OMP_NUM_THREADS=N`); default: Open MPI's binding decides. */
  threadsPerRank?: number;
  /** Open MPI refuses to run as root without `--allow-run-as-root` (containers, CI). */
  allowRunAsRoot?: boolean;
  /** mpirun executable; default "mpirun" from PATH. */
  mpirun?: string;
  /** Extra mpirun arguments (e.g. ["--bind-to", "none"]). */
  mpirunArgs?: string[];
}

/** Open MPI keepalive settings for multi-host launches (idle 1 s, then 3 probes 1 s apart). */
export const HOST_LOSS_DETECTION = [
  "--mca", "oob_tcp_keepalive_time", "1",
  "--mca", "oob_tcp_keepalive_intvl", "1",
  "--mca", "oob_tcp_keepalive_probes", "3",
];

export interface EngineLaunchOptions {
  /** Defaults to findEngineBinary(). */
  binary?: string;
  /** Default thread count for loads that do not set one (`--threads`). */
  threads?: number;
  launcher?: MpiLauncher;
  /** Extra arguments after `serve` (tests, future switches). */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface EngineCommand {
  command: string;
  args: string[];
}

export function buildEngineCommand(opts: EngineLaunchOptions): EngineCommand {
  const binary = opts.binary ?? findEngineBinary({ env: opts.env });
  const serveArgs = ["serve"];
  if (opts.threads !== undefined) {
    serveArgs.push("--threads", String(checkThreads(opts.threads)));
  }
  const l = opts.launcher;
  if (!l) return { command: binary, args: [...serveArgs, ...(opts.extraArgs ?? [])] };

  checkNp(l.np);
  const degree = l.degree ?? l.np;
  if (!Number.isInteger(degree) || degree !== l.np)
    throw new Error(`mpirun: degree must equal np=${l.np} (every rank takes a share of the frames), got ${degree}`);
  if (l.mode !== "ulysses" && l.mode !== "ring") throw new Error(`mpirun: mode must be "ulysses" or "ring", got ${String(l.mode)}`);
  return mpirunCommand(binary, [...serveArgs, "--parallel", l.mode, "--degree", String(degree), ...(opts.extraArgs ?? [])], l);
}

function checkNp(np: number): void {
  if (!Number.isInteger(np) || np < 1) throw new Error(`mpirun: np must be a positive integer, got ${np}`);
}

/** What mpirun itself is told (the engine's own parallel flags travel in the engine's arguments). */
export type MpirunSettings = Pick<MpiLauncher, "np" | "hostfile" | "oversubscribe" | "threadsPerRank" | "allowRunAsRoot" | "mpirun" | "mpirunArgs">;

/** `mpirun -np N [flags] binary engineArgs...`: every mpirun command line the app runs is made here. */
export function mpirunCommand(binary: string, engineArgs: string[], l: MpirunSettings): EngineCommand {
  checkNp(l.np);
  if (l.threadsPerRank !== undefined && (!Number.isInteger(l.threadsPerRank) || l.threadsPerRank < 1))
    throw new Error(`mpirun: threadsPerRank must be a positive integer, got ${l.threadsPerRank}`);
  const args = ["-np", String(l.np)];
  // Across hosts, keepalives on Open MPI's control connections notice a host that vanished
  // (link down, power off) in about 5 s and end the job there, instead of the kernel's minutes.
  if (l.hostfile) args.push("--hostfile", l.hostfile, ...HOST_LOSS_DETECTION);
  if (l.oversubscribe) args.push("--oversubscribe");
  if (l.allowRunAsRoot) args.push("--allow-run-as-root");
  if (l.threadsPerRank !== undefined) args.push("-x", `OMP_NUM_THREADS=${l.threadsPerRank}`);
  args.push(...(l.mpirunArgs ?? []));
  args.push(binary, ...engineArgs);
  return { command: l.mpirun ?? "mpirun", args };
}

// Runs one-shot engine commands (`vggt-engine bench|infer|convert|validate|version`, directly or
// under mpirun) as child processes: streams stderr line by line (the engine's progress), collects
// stdout, and cancels through an AbortSignal or a time limit (SIGTERM to the process group, SIGKILL
// after a grace period; the group also covers mpirun and its ranks). The long-lived `serve`
// process is the engine client's (engine-client.ts).
import { spawn } from "node:child_process";
import type { EngineCommand } from "./engine-launch.js";

export type EngineCommandLine = EngineCommand;

/** The run was cancelled through its AbortSignal; named like Node's own abort errors. */
export class ProcessCancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "AbortError";
  }
}

/** The process could not be started at all (`code`: the errno code, e.g. ENOENT). */
export class ProcessStartError extends Error {
  constructor(
    readonly command: string,
    readonly code: string | undefined,
    cause: Error,
  ) {
    super(`cannot start ${command}: ${cause.message}`, { cause });
  }
}

export interface ProcessExit {
  /** Exit code; null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last 8 KB of stderr, trimmed. */
  stderrTail: string;
  /** True when timeoutMs ended the process. */
  timedOut: boolean;
}

export interface RunProcessOptions {
  signal?: AbortSignal;
  onStderrLine?: (line: string) => void;
  /** SIGTERM -> SIGKILL grace period. */
  killAfterMs?: number;
  /** Ends the process (as a cancel would) after this long; the exit then has timedOut. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Longest stdout kept (the benchmark JSON is a few kB). */
  maxStdoutBytes?: number;
}

const STDERR_TAIL = 8192;

/**
 * Runs a command to its end and resolves with how it ended, whatever the exit code. Rejects with
 * ProcessStartError when it cannot start, ProcessCancelledError when cancelled, and an Error when
 * stdout outgrows maxStdoutBytes.
 */
export function spawnEngine(cmd: EngineCommandLine, opts: RunProcessOptions = {}): Promise<ProcessExit> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new ProcessCancelledError());
    const child = spawn(cmd.command, cmd.args, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: opts.env ?? process.env });
    const maxOut = opts.maxStdoutBytes ?? 16 * 2 ** 20;
    const out: Buffer[] = [];
    let outBytes = 0;
    let tail = "";
    let partial = "";
    let cancelled = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;

    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    const stop = () => {
      signalGroup("SIGTERM");
      killTimer ??= setTimeout(() => signalGroup("SIGKILL"), opts.killAfterMs ?? 3000);
    };
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const timeout =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, opts.timeoutMs);
    const done = () => {
      opts.signal?.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      clearTimeout(timeout);
    };

    child.stdout.on("data", (d: Buffer) => {
      outBytes += d.length;
      if (outBytes <= maxOut) out.push(d);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      tail = (tail + d).slice(-STDERR_TAIL);
      partial += d;
      // Progress lines may end in \r (a terminal progress bar) or \n.
      const lines = partial.split(/\r\n|\r|\n/);
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) opts.onStderrLine?.(l);
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      done();
      reject(new ProcessStartError(cmd.command, e.code, e));
    });
    child.on("close", (code, sig) => {
      done();
      if (partial.trim()) opts.onStderrLine?.(partial);
      if (cancelled) return reject(new ProcessCancelledError());
      if (outBytes > maxOut) return reject(new Error(`${cmd.args[0] ?? cmd.command}: stdout over ${maxOut} bytes`));
      resolve({ code, signal: sig, stdout: Buffer.concat(out).toString("utf8"), stderrTail: tail.trim(), timedOut });
    });
  });
}

/** The last n lines of a text (stderr tails in error messages). */
export function lastLines(s: string, n: number): string {
  return s.split(/\r?\n/).slice(-n).join("\n");
}

/** Runs a command to completion; rejects with the exit status and stderr tail on failure. */
export async function runEngineProcess(cmd: EngineCommandLine, opts: RunProcessOptions = {}): Promise<{ stdout: string; stderrTail: string }> {
  const r = await spawnEngine(cmd, opts);
  if (r.code !== 0) {
    const how = r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
    throw new Error(`${cmd.args[0] ?? cmd.command} ${how}${r.stderrTail ? `: ${lastLines(r.stderrTail, 6)}` : ""}`);
  }
  return { stdout: r.stdout, stderrTail: r.stderrTail };
}

// Errors the engine client rejects with: the engine's own error events, and failures of the
// process itself (crash, timeout, spawn).
import type { ErrorCode } from "./protocol.js";

export class EngineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request this error answers, when known. */
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = "EngineError";
  }
}

/** The engine process ended while requests were pending. */
export class EngineExitError extends EngineError {
  constructor(
    code: "engine_crashed" | "engine_stopped",
    message: string,
    requestId: string | null,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    /** Last lines the engine wrote to stderr. */
    readonly stderrTail: string,
  ) {
    super(code, message, requestId);
    this.name = "EngineExitError";
  }
}

/** "engine crashed (signal SIGKILL)" / "engine exited with code 3". */
export function describeExit(exitCode: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal ${signal}`;
  return `exit code ${exitCode ?? "unknown"}`;
}

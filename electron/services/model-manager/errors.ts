// Typed errors: the app and the CLI switch on `code` to choose what to show.

export type ModelErrorCode =
  | "OFFLINE" // no network or HF_HUB_OFFLINE, and nothing usable on disk
  | "HTTP" // the server answered with an error status
  | "AUTH" // 401/403: gated repo or bad token
  | "NOT_FOUND" // 404: wrong repo, file or revision
  | "HASH_MISMATCH" // downloaded bytes do not match the published SHA-256
  | "NO_HASH" // the server published no SHA-256 to verify against
  | "DISK_FULL" // ENOSPC / EDQUOT or not enough free space up front
  | "WRITE_FAILED" // any other filesystem error
  | "INTERRUPTED" // connection dropped mid-body; the partial file is kept
  | "TOO_LONG" // the server sent more than the declared size; aborted, never retried
  | "ABORTED" // the caller's AbortSignal fired
  | "BUSY" // another process is downloading / converting the same file
  | "INVALID_CHECKPOINT" // a local file failed validation
  | "ENGINE"; // the engine subprocess failed

export class ModelError extends Error {
  readonly code: ModelErrorCode;
  /** Extra, machine-readable context (paths, sizes, hashes). */
  readonly details: Record<string, unknown>;
  constructor(code: ModelErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ModelError";
    this.code = code;
    this.details = details;
  }
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_CONNECT_TIMEOUT",
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
]);

export function isNetworkError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return !!code && NETWORK_CODES.has(code);
}

export function isDiskFullError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG";
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "?";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

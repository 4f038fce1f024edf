// Limits shared with the engine (its --threads accepts 1..256; 0 here means "all cores", the
// engine's default). No Node imports: the renderer uses this file too.
export const MAX_THREADS = 256;

/** The thread count to pass on, or an Error naming `what` and the allowed range. */
export function checkThreads(value: unknown, what = "threads"): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_THREADS)
    throw new Error(`${what} must be an integer from 1 to ${MAX_THREADS} (0: all cores), got ${JSON.stringify(value)}`);
  return n;
}

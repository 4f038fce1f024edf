// Reads Open MPI's (mpirun's) report of why a multi-rank launch ended out of the stderr tail,
// so the app can say which host and rank failed instead of only "engine crashed".

/**
 * One line naming the host (and rank) that failed, or null when mpirun's text names none (a rank
 * that exited with an error: the engine's own message then says what happened).
 */
export function mpiFailureSummary(stderr: string): string | null {
  const text = stderr.replace(/\s+/g, " ");
  let m = /process rank (\d+) with PID \d+ on node (\S+) exited on signal (\d+) \(([^)]+)\)/.exec(text);
  if (m) return `rank ${m[1]} on host ${m[2]} died (signal ${m[3]}, ${m[4]})`;
  m = /lost communication with a remote daemon\..*?Remote daemon\s*: \S+ on node (\S+)/.exec(text);
  if (m) return `lost contact with host ${m[1]} (its network link or Open MPI daemon failed)`;
  return null;
}

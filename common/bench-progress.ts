// The engine's benchmark log lines as a person reads them: which row, which timed run, how long.
// Lines it does not know are shown as they are.

export function benchProgressText(line: string): string {
  const run = /^\s*(.+?)\s+run (\d+)\/(\d+): (\d+(?:\.\d+)?) ms\s*$/.exec(line);
  if (run) {
    const [, row, i, n, ms] = run;
    return `${row}: timed run ${i} of ${n} took ${(Number(ms) / 1000).toFixed(1)} s`;
  }
  const start = /^bench: ISA (\S+).*?, (\d+) frames? (\d+x\d+)\s*$/.exec(line);
  if (start) return `benchmark started: ${start[2]} frame${start[2] === "1" ? "" : "s"} of ${start[3]}, ${start[1]} kernels`;
  return line;
}

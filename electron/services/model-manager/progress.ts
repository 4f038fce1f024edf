// Progress events (bytes, total, smoothed speed, ETA) and their rendering for the CLI.
import { formatBytes } from "./errors.js";

export type ProgressPhase = "hash-partial" | "download" | "verify" | "convert";

export interface ProgressEvent {
  phase: ProgressPhase;
  /** What is being processed (a file name). */
  file: string;
  bytes: number;
  /** Total bytes, or null when unknown. */
  total: number | null;
  /** Smoothed rate in bytes/s (0 until measurable). */
  speed: number;
  /** Seconds left at the smoothed speed, or null when unknown. */
  etaSeconds: number | null;
  /** True on the last event of a phase. */
  done: boolean;
}

export type ProgressCallback = (e: ProgressEvent) => void;

/** Exponentially smoothed speed: time constant `tauS` so a stall shows within seconds, but a
 * single slow packet does not make the ETA jump. Emits at most every `intervalMs`. */
export class ProgressMeter {
  private speed = 0;
  private lastT: number;
  private lastBytes: number;
  private lastEmit = -Infinity;
  bytes: number;

  constructor(
    private readonly phase: ProgressPhase,
    private readonly file: string,
    private readonly total: number | null,
    startBytes: number,
    private readonly cb: ProgressCallback | undefined,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = 100,
    private readonly tauS = 3,
  ) {
    this.bytes = startBytes;
    this.lastBytes = startBytes;
    this.lastT = now();
  }

  add(n: number): void {
    this.bytes += n;
    const t = this.now();
    const dt = (t - this.lastT) / 1000;
    // Sample the rate over >= 50 ms so timer jitter does not dominate.
    if (dt >= 0.05) {
      const inst = (this.bytes - this.lastBytes) / dt;
      const alpha = this.speed === 0 ? 1 : 1 - Math.exp(-dt / this.tauS);
      this.speed += alpha * (inst - this.speed);
      this.lastT = t;
      this.lastBytes = this.bytes;
    }
    if (t - this.lastEmit >= this.intervalMs) {
      this.lastEmit = t;
      this.emit(false);
    }
  }

  finish(): void {
    this.emit(true);
  }

  snapshot(done = false): ProgressEvent {
    const eta =
      this.total !== null && this.speed > 0 ? Math.max(0, (this.total - this.bytes) / this.speed) : done ? 0 : null;
    return { phase: this.phase, file: this.file, bytes: this.bytes, total: this.total, speed: this.speed, etaSeconds: eta, done };
  }

  private emit(done: boolean): void {
    this.cb?.(this.snapshot(done));
  }
}

export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "--:--";
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

const PHASE_LABEL: Record<ProgressPhase, string> = {
  "hash-partial": "checking partial download",
  download: "downloading",
  verify: "verifying SHA-256",
  convert: "converting",
};

/** One line of text for an event; `barWidth` > 0 draws a bar (TTY use). */
export function formatProgressLine(e: ProgressEvent, barWidth = 0): string {
  const frac = e.total ? Math.min(1, e.bytes / e.total) : null;
  const pct = frac === null ? "" : `${(frac * 100).toFixed(1).padStart(5)}% `;
  let bar = "";
  if (barWidth > 0 && frac !== null) {
    const filled = Math.round(frac * barWidth);
    bar = `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] `;
  }
  const amount = e.total ? `${formatBytes(e.bytes)} / ${formatBytes(e.total)}` : formatBytes(e.bytes);
  const speed = e.speed > 0 ? `${formatBytes(e.speed)}/s` : "--";
  return `${PHASE_LABEL[e.phase]} ${e.file} ${bar}${pct}${amount}  ${speed}  ETA ${formatDuration(e.etaSeconds)}`;
}

export interface ProgressWriter {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** CLI renderer: a redrawn bar on a TTY; otherwise a plain line every `plainEverySeconds` or 10 %. */
export function cliProgressRenderer(out: ProgressWriter, plainEverySeconds = 10): ProgressCallback {
  let lastPlainT = -Infinity;
  let lastPlainFrac = -1;
  let lastPhase = "";
  return (e) => {
    if (out.isTTY) {
      const width = Math.max(10, Math.min(40, (out.columns ?? 80) - 70));
      out.write(`\r\x1b[2K${formatProgressLine(e, width)}${e.done ? "\n" : ""}`);
      return;
    }
    const t = performance.now() / 1000;
    const frac = e.total ? e.bytes / e.total : 0;
    const newPhase = e.phase + e.file !== lastPhase;
    if (newPhase || e.done || t - lastPlainT >= plainEverySeconds || frac - lastPlainFrac >= 0.1) {
      lastPhase = e.phase + e.file;
      lastPlainT = t;
      lastPlainFrac = frac;
      out.write(formatProgressLine(e) + "\n");
    }
  };
}

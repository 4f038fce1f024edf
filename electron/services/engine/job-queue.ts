// The app's one queue of engine work. Reconstruction runs, refinements, click-to-track forward
// passes and benchmarks all pass through it, one at a time and in arrival order: they share the
// machine's cores (a benchmark beside a run would time both wrongly) and, above all, its memory
// (each holds a full model). Whoever waits can say what it waits for (`running()`).

export interface QueueHolder {
  /** What holds the engine, in words for the user ("run 'kitchen'", "benchmark 'A/B ...'"). */
  label: string;
}

export class EngineJobQueue {
  private tail: Promise<void> = Promise.resolve();
  private current: QueueHolder | null = null;
  private readonly pending: QueueHolder[] = [];

  /** What runs now, or null when the engine is free. */
  running(): QueueHolder | null {
    return this.current;
  }

  /** Jobs waiting behind the running one. */
  queued(): number {
    return this.pending.length;
  }

  /**
   * Runs `work` once every earlier job has finished (whether it succeeded or not). `onWait` is
   * called once, before waiting, with the job ahead when there is one.
   */
  run<T>(label: string, work: () => Promise<T>, onWait?: (ahead: QueueHolder) => void): Promise<T> {
    const ahead = this.current ?? this.pending[0] ?? null;
    if (ahead && onWait) onWait(ahead);
    const me: QueueHolder = { label };
    this.pending.push(me);
    const result = this.tail.then(async () => {
      this.pending.splice(this.pending.indexOf(me), 1);
      this.current = me;
      try {
        return await work();
      } finally {
        this.current = null;
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves when every job queued so far has finished. */
  idle(): Promise<void> {
    return this.tail;
  }
}

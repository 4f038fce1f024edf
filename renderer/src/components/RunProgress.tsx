// A run's stage, percentage, elapsed time and ETA. The clock ticks between the engine's events,
// so a long stage (loading the weights) never looks frozen.
import { useEffect, useState } from "react";

import type { RunSummary } from "../../../electron/ipc/channels";
import { formatSeconds } from "../format";
import { cancelRun, useStore } from "../store";

function useSecondTick(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [active]);
  return now;
}

export function RunProgress({ run, testId = "run-progress" }: { run: RunSummary; testId?: string }) {
  const p = useStore((s) => s.progress[run.id]);
  const at = useStore((s) => s.progressAt[run.id]);
  const running = run.status === "running" || run.status === "queued";
  const now = useSecondTick(running);
  // Seconds since the last event: the clock runs on, the ETA counts down (never below zero).
  const since = p && at ? Math.max(0, (now - at) / 1000) : 0;
  const elapsed = p ? p.elapsedSeconds + since : running && run.status === "running" ? (now - Date.parse(run.createdAt)) / 1000 : 0;
  const eta = p?.etaSeconds != null ? Math.max(0, p.etaSeconds - since) : null;
  return (
    <div className="progress" data-testid={testId} data-elapsed={Math.floor(elapsed)}>
      <div className="row">
        <span className="grow">
          {run.name} — {run.status === "queued" ? "queued" : (p?.message ?? p?.stage ?? "starting")}
        </span>
        <button data-testid={testId === "run-progress" ? "cancel-button" : undefined} onClick={() => cancelRun(run.id)}>
          Cancel
        </button>
      </div>
      <progress max={1} value={p?.fraction ?? 0} />
      <div className="hint">
        {Math.round((p?.fraction ?? 0) * 100)}% · elapsed {formatSeconds(elapsed)} · ETA {formatSeconds(eta ?? undefined)}
      </div>
    </div>
  );
}

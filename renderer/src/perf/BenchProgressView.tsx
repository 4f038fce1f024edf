// A running benchmark's stage, percentage, elapsed time and ETA in the main area. The clock ticks
// between the services' updates, so a long forward pass never looks frozen.
import { useEffect, useRef, useState } from "react";

import { formatSeconds } from "../format";
import { usePerf } from "./perf-store";

export function BenchMainProgress({ benchId }: { benchId: string }) {
  const p = usePerf((s) => s.progress[benchId]);
  const [now, setNow] = useState(() => Date.now());
  const at = useRef({ p, t: Date.now() });
  if (at.current.p !== p) at.current = { p, t: Date.now() };
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  const since = Math.max(0, (now - at.current.t) / 1000);
  const elapsed = (p?.elapsedSeconds ?? 0) + since;
  const eta = p?.etaSeconds != null ? Math.max(0, p.etaSeconds - since) : null;
  const fraction = p?.fraction ?? 0;
  const stage = p?.phase === "waiting" ? p.line : p?.phase && p.phase !== "benchmark" ? p.phase : (p?.stage ?? "starting the engine");
  return (
    <div className="progress" data-testid="bench-running" data-elapsed={Math.floor(elapsed)}>
      <div className="row">
        <strong className="grow" data-testid="bench-stage">
          {stage}
        </strong>
      </div>
      <progress max={1} value={fraction} />
      <div className="hint" data-testid="bench-eta">
        {Math.round(fraction * 100)}% · elapsed {formatSeconds(elapsed)} · ETA {formatSeconds(eta ?? undefined)}
      </div>
    </div>
  );
}

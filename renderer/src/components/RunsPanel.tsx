import { describeSet, enabledNames } from "../../../common/option-catalog";
import { formatSeconds } from "../format";
import { deleteRun, selectRun, useStore } from "../store";

export function RunsPanel() {
  const runs = useStore((s) => s.runs);
  const selected = useStore((s) => s.selectedRunId);
  if (runs.length === 0) return null;
  return (
    <section className="panel" data-testid="runs-panel">
      <h2>Runs</h2>
      <ul className="runs">
        {runs.map((r) => (
          <li key={r.id} className={r.id === selected ? "selected" : ""} data-status={r.status} data-testid="run-item">
            <button className="run-select" onClick={() => selectRun(r.id)} title={r.error ?? r.id}>
              <span className="run-name">{r.name}</span>
              <span className={`status status-${r.status}`}>{r.status}</span>
              <span className="hint">
                {new Date(r.createdAt).toLocaleString()} · {r.model}
                {r.durationMs ? ` · ${formatSeconds(r.durationMs / 1000)}` : ""}
              </span>
              {r.engineOptions && (
                <span
                  className="hint run-options"
                  data-testid="run-options"
                  data-source={r.engineOptions.source}
                  data-enabled={enabledNames(r.engineOptions.flags).join(",")}
                  title={`${r.engineOptions.source === "engine" ? "as reported by the engine" : "as requested"}: ${enabledNames(r.engineOptions.flags).join(", ") || "none"}`}
                >
                  options: {describeSet(r.engineOptions.flags)}
                  {r.engineOptions.parallel.mode !== "none" ? ` · ${r.engineOptions.parallel.mode} × ${r.engineOptions.parallel.degree}` : ""}
                </span>
              )}
              {r.chunks && r.chunks.length > 1 && (
                <span className="hint run-chunks" data-testid="run-chunks" data-chunks={JSON.stringify(r.chunks.map((c) => ({ frames: c.frames, scale: c.scale, residual: c.residual, relativeResidual: c.relativeResidual, inliers: c.inliers })))}>
                  {r.chunks.length} chunks:{" "}
                  {r.chunks
                    .slice(1)
                    .map((c) => `#${c.index + 1} scale ${c.scale.toPrecision(3)}, residual ${(100 * (c.relativeResidual ?? 0)).toFixed(1)}%, inliers ${(100 * c.inliers).toFixed(0)}%`)
                    .join(" · ")}
                </span>
              )}
              {r.randomWeights && <span className="badge-random">random weights</span>}
              {r.error && <span className="run-error">{r.error}</span>}
            </button>
            {r.status !== "running" && r.status !== "queued" && (
              <button className="remove" aria-label={`Delete run ${r.name}`} onClick={() => window.confirm(`Delete run “${r.name}” and its outputs? This cannot be undone.`) && deleteRun(r.id)}>
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

import { formatBytes, formatSeconds } from "../format";
import { applyFitSuggestion, setOptions, startRun, useStore } from "../store";
import { ChunkControls } from "./ChunkControls";
import { RunProgress } from "./RunProgress";

export function RunPanel() {
  const frames = useStore((s) => s.frames);
  const options = useStore((s) => s.options);
  const estimate = useStore((s) => s.estimate);
  const model = useStore((s) => s.model);
  const engine = useStore((s) => s.engine);
  const runs = useStore((s) => s.runs);
  const busy = useStore((s) => s.busy);
  const included = frames.filter((f) => f.included).length;
  const active = runs.filter((r) => r.status === "running" || r.status === "queued");
  const noModel = model?.state !== "ready";
  const canRun = included > 0 && !busy && (options.randomWeights || !noModel) && engine?.state !== "missing";

  return (
    <section className="panel" data-testid="run-panel">
      <h2>Run</h2>
      <div className="row wrap">
        <label>
          Preprocess{" "}
          <select value={options.preprocess} onChange={(e) => setOptions({ preprocess: e.target.value as "crop" | "pad" })}>
            <option value="crop">crop (518 wide)</option>
            <option value="pad">pad (518×518)</option>
          </select>
        </label>
        <label title="Random weights: for timing the engine, the geometry is meaningless">
          <input type="checkbox" data-testid="benchmark-toggle" checked={options.randomWeights} disabled={noModel} onChange={(e) => setOptions({ randomWeights: e.target.checked })} />{" "}
          Random-weight benchmark
        </label>
      </div>
      <ChunkControls />
      {estimate && (
        <div className="estimate" data-testid="estimate">
          <div>
            {estimate.frames} frame{estimate.frames === 1 ? "" : "s"} at {estimate.width}×{estimate.height} ({estimate.tokensPerFrame} tokens each)
          </div>
          <div>
            Expected: <strong>~{formatSeconds(estimate.seconds)}</strong>, <span title="The engine process's peak resident size: weights as held for the chosen switches + activations (docs/MEMORY.md)">engine peak memory</span> <strong>~{formatBytes(estimate.peakBytes)}</strong>
          </div>
          {(estimate.passes ?? 1) > 1 && options.chunk && (
            <div data-testid="estimate-chunks">
              in {estimate.passes} chunks of {options.chunk.size} frames (overlap {options.chunk.overlap}); memory is that of one chunk
            </div>
          )}
          {estimate.memoryLimitBytes !== undefined && (
            <div className="hint" data-testid="estimate-memory-limit">
              this machine: up to {formatBytes(estimate.memoryLimitBytes)} for a run
            </div>
          )}
          <div className="hint" data-testid="estimate-basis">{estimate.basis}</div>
          {estimate.warnings.map((w) => (
            <div key={w} className="warning">
              ⚠ {w}
            </div>
          ))}
          {estimate.suggestion && (
            <div className="row wrap" data-testid="fit-suggestion">
              <button
                data-testid="apply-fit"
                title={`Expected with these settings: ~${formatSeconds(estimate.suggestion.seconds)}, peak ~${formatBytes(estimate.suggestion.peakBytes)}`}
                onClick={() => applyFitSuggestion()}
              >
                Use settings that fit
              </button>
              <span className="hint">
                {estimate.suggestion.summary}: ~{formatSeconds(estimate.suggestion.seconds)}, ~{formatBytes(estimate.suggestion.peakBytes)}
              </span>
            </div>
          )}
        </div>
      )}
      {engine?.state === "missing" && <p className="warning">Engine not available: {engine.message}</p>}
      <button className="primary" data-testid="run-button" disabled={!canRun} onClick={() => startRun()}>
        {options.randomWeights ? "Run benchmark (random weights)" : "Reconstruct"}
      </button>
      {busy && <p className="hint">{busy}</p>}
      {active.map((r) => (
        <RunProgress key={r.id} run={r} />
      ))}
    </section>
  );
}

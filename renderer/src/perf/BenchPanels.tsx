// Sidebar of the performance lab: the benchmark form (cumulative or A/B on the current images)
// with its progress, and the history of every benchmark kept on disk.
import { useEffect, useRef, useState } from "react";

import { benchProgressText } from "../../../common/bench-progress";
import { MAX_THREADS } from "../../../common/limits";
import { PRESETS } from "../../../common/option-catalog";
import { formatSeconds } from "../format";
import { useStore } from "../store";
import { cancelBenchmark, deleteBench, resolveChoice, selectBench, setForm, startBenchmark, toggleCompare, usePerf, type SetChoice } from "./perf-store";

function choiceValue(c: SetChoice): string {
  return c.kind === "current" ? "current" : c.id;
}

function SetPicker({ side, value, onChange }: { side: "A" | "B"; value: SetChoice; onChange: (c: SetChoice) => void }) {
  useStore((s) => s.options.engineOptions); // re-render when the toggles change ("current" shows them)
  return (
    <label className="set-picker">
      {side}{" "}
      <select data-testid={`ab-set-${side}`} value={choiceValue(value)} onChange={(e) => onChange(e.target.value === "current" ? { kind: "current" } : { kind: "preset", id: e.target.value })}>
        {PRESETS.map((p) => (
          <option key={p.id} value={p.id}>
            {p.label}
          </option>
        ))}
        <option value="current">Current toggles</option>
      </select>
      <span className="hint"> {resolveChoice(value).label}</span>
    </label>
  );
}

export function BenchPanel() {
  const form = usePerf((s) => s.form);
  const benches = usePerf((s) => s.benches);
  const progress = usePerf((s) => s.progress);
  const frames = useStore((s) => s.frames.filter((f) => f.included).length);
  const model = useStore((s) => s.model);
  const randomWeights = useStore((s) => s.options.randomWeights);
  const running = benches.filter((b) => b.status === "running");
  const canRun = running.length === 0 && (randomWeights || model?.state === "ready");
  return (
    <section className="panel" data-testid="bench-panel">
      <h2>Benchmark</h2>
      <div className="row wrap">
        <label>
          <input type="radio" name="bench-kind" data-testid="bench-kind-ab" checked={form.kind === "ab"} onChange={() => setForm({ kind: "ab" })} /> A/B
        </label>
        <label>
          <input type="radio" name="bench-kind" data-testid="bench-kind-cumulative" checked={form.kind === "cumulative"} onChange={() => setForm({ kind: "cumulative" })} /> Cumulative (write-up table)
        </label>
      </div>
      {form.kind === "ab" && (
        <div className="ab-sets">
          <SetPicker side="A" value={form.a} onChange={(a) => setForm({ a })} />
          <SetPicker side="B" value={form.b} onChange={(b) => setForm({ b })} />
          <label title="Runs A and B once more on the images and keeps both outputs for the 3-D view">
            <input type="checkbox" data-testid="bench-keep-outputs" checked={form.keepOutputs} disabled={frames === 0} onChange={(e) => setForm({ keepOutputs: e.target.checked })} /> Keep A's and B's point
            clouds
          </label>
        </div>
      )}
      {form.kind === "cumulative" && <p className="hint">Baseline, then each option added in the write-up's order; the write-up's NPU figures are shown alongside.</p>}
      <div className="row wrap">
        <label>
          Repeats{" "}
          <input type="number" data-testid="bench-repeats" min={1} max={100} value={form.repeats} onChange={(e) => setForm({ repeats: Math.max(1, Math.floor(Number(e.target.value) || 1)) })} />
        </label>
        <label title="0: all cores">
          Threads <input type="number" data-testid="bench-threads" min={0} max={MAX_THREADS} value={form.threads} onChange={(e) => setForm({ threads: Math.min(MAX_THREADS, Math.max(0, Math.floor(Number(e.target.value) || 0))) })} />
        </label>
      </div>
      <p className="hint" data-testid="bench-input">
        Input: {frames > 0 ? `the ${frames} selected frame${frames === 1 ? "" : "s"}` : "no images selected — the engine's synthetic 2-frame input"} · {randomWeights ? "random weights" : model?.state === "ready" ? model.name : "no model"}
      </p>
      <button className="primary" data-testid="bench-run" disabled={!canRun} onClick={() => void startBenchmark()}>
        Run benchmark
      </button>
      {running.map((b) => {
        const p = progress[b.id];
        return (
          <div key={b.id} className="progress" data-testid="bench-progress">
            <div className="row">
              <span className="grow">
                {b.label}
                <br />
                <span className="hint" data-testid="bench-progress-text">
                  {p?.phase ?? "benchmark"}: {p?.line ? benchProgressText(p.line) : "starting"} · <LiveElapsed seconds={p?.elapsedSeconds ?? 0} />
                </span>
              </span>
              <button data-testid="bench-cancel" onClick={() => void cancelBenchmark(b.id)}>
                Cancel
              </button>
            </div>
            <progress max={1} value={p?.fraction ?? 0} />
          </div>
        );
      })}
    </section>
  );
}

export function HistoryPanel() {
  const benches = usePerf((s) => s.benches);
  const selectedId = usePerf((s) => s.selectedId);
  const compare = usePerf((s) => s.compare);
  if (benches.length === 0) return null;
  return (
    <section className="panel" data-testid="bench-history">
      <h2>History</h2>
      <p className="hint">Kept on disk; tick two or more to compare.</p>
      <ul className="runs bench-list">
        {benches.map((b) => (
          <li key={b.id} className={b.id === selectedId ? "selected" : ""} data-testid="bench-item" data-status={b.status} data-id={b.id}>
            <button className="run-select" onClick={() => void selectBench(b.id)} title={b.error ?? b.id}>
              <span className="run-name">{b.label}</span>
              <span className={`status status-${b.status === "running" ? "running" : b.status}`}>{b.status}</span>
              <span className="hint">
                {new Date(b.createdAt).toLocaleString()} · engine {b.engineVersion} · {b.machine.cpu} ({b.machine.cores} cores)
              </span>
              {b.error && <span className="run-error">{b.error}</span>}
            </button>
            <label className="compare-box" title="Compare">
              <input type="checkbox" data-testid="bench-compare" checked={compare.includes(b.id)} disabled={b.status !== "done"} onChange={(e) => void toggleCompare(b.id, e.target.checked)} />
            </label>
            {b.status !== "running" && (
              <button className="remove" aria-label={`Delete benchmark ${b.label}`} onClick={() => void deleteBench(b.id)}>
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Elapsed seconds that keep counting between the engine's progress lines. */
function LiveElapsed({ seconds }: { seconds: number }) {
  const [now, setNow] = useState(() => Date.now());
  const since = useRef({ seconds, at: Date.now() });
  if (since.current.seconds !== seconds) since.current = { seconds, at: Date.now() };
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  return <>{formatSeconds(seconds + Math.max(0, now - since.current.at) / 1000)}</>;
}

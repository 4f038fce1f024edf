// Main area of the performance lab: the selected benchmark (cumulative charts and table, or the
// A/B result with the 3-D view flipping between A's and B's point clouds) and the comparison of
// benchmarks ticked in the history.
import { BenchMainProgress } from "./BenchProgressView";
import { useEffect } from "react";

import type { BenchJson, BenchRecord } from "../../../electron/ipc/channels";
import type { BenchRow } from "../../../electron/ipc/perf-types";
import { chartRows } from "../../../common/chart-data";
import { benchToCsv } from "../../../common/bench-csv";
import { describeSet, enabledNames } from "../../../common/option-catalog";
import { ViewerPanel } from "../components/ViewerPanel";
import { abReliability } from "../../../common/ab-reliability";
import { formatBytes, formatSeconds, plural } from "../format";
import { showBenchCloud, useStore } from "../store";
import { downloadText } from "./chart-export";
import { AbChart, LatencyChart, StageChart } from "./charts";
import { usePerf } from "./perf-store";

const fmtMs = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
const fmtRel = (v: number | undefined) => (v === undefined ? "–" : v === 0 ? "0" : v.toExponential(2));

function Meta({ rec }: { rec: BenchRecord }) {
  const j = rec.result;
  return (
    <dl className="bench-meta" data-testid="bench-meta">
      <dt>When</dt>
      <dd>{new Date(rec.createdAt).toLocaleString()}</dd>
      <dt>Engine</dt>
      <dd data-testid="bench-engine-version">
        vggt-engine {rec.engineVersion}
        {j?.isa ? ` · kernels ${j.isa}` : ""}
      </dd>
      <dt>Machine</dt>
      <dd data-testid="bench-machine">
        {rec.machine.cpu} · {rec.machine.cores} cores · {formatBytes(rec.machine.memoryBytes)} · {rec.machine.hostname}
      </dd>
      <dt>Model</dt>
      <dd>{rec.model}</dd>
      <dt>Input</dt>
      <dd>
        {j ? `${plural(j.frames, "frame")} of ${j.width}×${j.height}` : plural(rec.frames, "frame")} ({rec.request.images.length ? "the selected images" : "synthetic"}) · {rec.repeats} repeat
        {rec.repeats === 1 ? "" : "s"} · {rec.threads || "all"} threads · parallel: {rec.parallel.mode === "none" ? "single process" : `${rec.parallel.mode} × ${rec.parallel.degree}`}
      </dd>
      {rec.request.a && rec.request.b && (
        <>
          <dt>A</dt>
          <dd data-testid="bench-set-A">
            {rec.request.a.label} — {enabledNames(rec.request.a.options).join(", ") || "no options (fp32 reference)"}
          </dd>
          <dt>B</dt>
          <dd data-testid="bench-set-B">
            {rec.request.b.label} — {enabledNames(rec.request.b.options).join(", ") || "no options (fp32 reference)"}
          </dd>
        </>
      )}
      {rec.durationMs !== undefined && (
        <>
          <dt>Took</dt>
          <dd>{formatSeconds(rec.durationMs / 1000)}</dd>
        </>
      )}
    </dl>
  );
}

function BenchTable({ json }: { json: BenchJson }) {
  const rows = chartRows(json);
  return (
    <table className="bench-table" data-testid="bench-table">
      <thead>
        <tr>
          <th>row</th>
          <th>median</th>
          <th>speed-up</th>
          <th>runs (ms)</th>
          {json.kind === "cumulative" && <th>NPU ref.</th>}
          <th title="The engine process's peak resident size during the row (tensor peak: live activations only)">process peak</th>
          <th>weights</th>
          <th>depth err</th>
          <th>points err</th>
          <th>rotation</th>
          <th>translation err</th>
        </tr>
      </thead>
      <tbody>
        {json.rows.map((r, i) => (
          <tr key={i} data-testid="bench-row" data-row={rows[i].row} data-median={r.median_ms}>
            <td title={describeSet(r.options)}>{rows[i].row}</td>
            <td>{fmtMs(r.median_ms)}</td>
            <td>{r.speedup.toFixed(3)}×</td>
            <td>{r.latency_ms.map((x) => x.toFixed(1)).join(", ")}</td>
            {json.kind === "cumulative" && <td className="npu-cell">{rows[i].npu === null ? "–" : fmtMs(rows[i].npu!)}</td>}
            <td title={`tensor peak ${formatBytes(r.peak_bytes)}`}>{r.peak_rss_bytes === undefined ? `tensors ${formatBytes(r.peak_bytes)}` : formatBytes(r.peak_rss_bytes)}</td>
            <td>{formatBytes(r.weight_bytes)}</td>
            <td>{fmtRel(r.accuracy?.depth_rel)}</td>
            <td>{fmtRel(r.accuracy?.points_rel)}</td>
            <td>{r.accuracy ? `${r.accuracy.rotation_deg.toFixed(4)}°` : "–"}</td>
            <td>{fmtRel(r.accuracy?.translation_rel)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AbResult({ rec, json }: { rec: BenchRecord; json: BenchJson }) {
  const [a, b] = json.rows;
  const ratio = json.ratio!;
  const source = useStore((s) => s.cloudSource);
  const cloud = useStore((s) => s.cloud);
  const side = source.kind === "bench" && source.benchId === rec.id ? source.side : null;
  const hasOutputs = !!rec.outputs?.A && !!rec.outputs?.B;
  useEffect(() => {
    if (hasOutputs && !side) void showBenchCloud(rec.id, "A");
  }, [rec.id, hasOutputs, side]);
  const acc = b.accuracy;
  const trust = abReliability(a, b, (json.pairs ?? []).map((p) => p.ratio));
  return (
    <>
      {!trust.reliable && (
        <div className="banner warning" data-testid="ab-unreliable" role="alert">
          <strong>Unreliable comparison:</strong> {trust.reasons.join("; ")}.
        </div>
      )}
      <div className="ab-cards" data-testid="ab-summary" data-reliable={trust.reliable ? "true" : "false"}>
        <div className="card" data-testid="ab-median-A" data-value={a.median_ms}>
          <div className="hint">A · {rec.request.a?.label}</div>
          <strong>{fmtMs(a.median_ms)}</strong>
          <ProcessPeak row={a} testId="ab-rss-A" />
        </div>
        <div className="card" data-testid="ab-median-B" data-value={b.median_ms}>
          <div className="hint">B · {rec.request.b?.label}</div>
          <strong>{fmtMs(b.median_ms)}</strong>
          <ProcessPeak row={b} testId="ab-rss-B" />
        </div>
        <div className="card" data-testid="ab-ratio" data-median={ratio.median} data-min={ratio.min} data-max={ratio.max}>
          <div className="hint">A / B latency ratio (&gt; 1: B is faster)</div>
          <strong>{ratio.median.toFixed(3)}×</strong>
          <div className="hint">
            spread {ratio.min.toFixed(3)}–{ratio.max.toFixed(3)} over {json.pairs?.length ?? 0} interleaved pairs
          </div>
          {trust.coresA !== null && trust.coresB !== null && (
            <div className="hint" data-testid="ab-cores" data-a={trust.coresA} data-b={trust.coresB}>
              CPU used: A {trust.coresA.toFixed(2)} cores, B {trust.coresB.toFixed(2)} cores
            </div>
          )}
        </div>
        <div className="card" data-testid="ab-accuracy">
          <div className="hint">B's outputs against A's</div>
          {acc ? (
            <div>
              depth rel. error <strong data-testid="ab-depth-rel">{fmtRel(acc.depth_rel)}</strong>
              <br />
              points rel. error <strong data-testid="ab-points-rel">{fmtRel(acc.points_rel)}</strong>
              <br />
              camera angle <strong data-testid="ab-rotation">{acc.rotation_deg.toFixed(4)}°</strong>, translation {fmtRel(acc.translation_rel)}
            </div>
          ) : (
            <div className="hint">not reported by the engine</div>
          )}
        </div>
      </div>
      <AbChart json={json} labels={[rec.request.a?.label ?? "A", rec.request.b?.label ?? "B"]} fileBase={`vggt-bench-${rec.id}`} />
      <details>
        <summary>Interleaved pairs</summary>
        <table className="bench-table" data-testid="ab-pairs">
          <thead>
            <tr>
              <th>#</th>
              <th>A (ms)</th>
              <th>B (ms)</th>
              <th>A / B</th>
            </tr>
          </thead>
          <tbody>
            {json.pairs?.map((p, i) => (
              <tr key={i}>
                <td>{i + 1}</td>
                <td>{p.a_ms.toFixed(1)}</td>
                <td>{p.b_ms.toFixed(1)}</td>
                <td>{p.ratio.toFixed(3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      {hasOutputs ? (
        <section className="ab-viewer">
          <div className="row">
            <h3 className="grow">Point cloud</h3>
            <div className="segmented" role="group" aria-label="Show A or B">
              {(["A", "B"] as const).map((s) => (
                <button key={s} data-testid={`ab-flip-${s}`} className={side === s ? "active" : ""} aria-pressed={side === s} onClick={() => void showBenchCloud(rec.id, s)}>
                  {s}
                </button>
              ))}
            </div>
            <span className="hint" data-testid="ab-showing" data-side={cloud && side && cloud.runId === `bench-${rec.id}-${side}` ? side : ""}>
              {side ? `showing ${side}` : ""}
            </span>
          </div>
          <div className="ab-viewer-host">
            <ViewerPanel />
          </div>
        </section>
      ) : (
        <p className="hint">No point clouds were kept for this benchmark (they need images and “Keep A's and B's point clouds”).</p>
      )}
    </>
  );
}

function Comparison({ records }: { records: BenchRecord[] }) {
  const done = records.filter((r) => r.result);
  const labels: string[] = [];
  const cells = done.map((r) => {
    const rows = chartRows(r.result!);
    const m = new Map<string, number>();
    rows.forEach((row) => {
      const key = r.result!.kind === "ab" ? `${row.name}: ${describeSet(r.result!.rows[row.name === "A" ? 0 : 1].options)}` : row.row;
      if (!labels.includes(key)) labels.push(key);
      m.set(key, row.ours);
    });
    return m;
  });
  const csv = () =>
    downloadText(
      [["row", ...done.map((r) => `${r.createdAt} ${r.machine.cpu} engine ${r.engineVersion}`)], ...labels.map((l) => [l, ...cells.map((c) => c.get(l) ?? "")])]
        .map((line) => line.map((v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v))).join(","))
        .join("\r\n") + "\r\n",
      "vggt-bench-comparison.csv",
    );
  // Times of different inputs (frame count, size, threads) are not comparable: say so, compute no ratios.
  const inputOf = (r: BenchRecord) => `${plural(r.result!.frames, "frame")} of ${r.result!.width}×${r.result!.height}, ${r.result!.threads || "all"} threads`;
  const inputs = [...new Set(done.map(inputOf))];
  // The engine process's largest resident size over the benchmark's rows (older engines: none).
  const processPeakOf = (r: BenchRecord) => {
    const rss = r.result!.rows.map((x) => x.peak_rss_bytes).filter((x): x is number => x !== undefined);
    const whole = r.result!.peak_rss_bytes;
    const peak = rss.length ? Math.max(...rss) : whole;
    return peak === undefined ? "process peak not reported" : `process peak ${formatBytes(peak)}`;
  };
  return (
    <section className="chart-card" data-testid="bench-comparison" data-same-input={inputs.length === 1 ? "true" : "false"}>
      {inputs.length > 1 && (
        <p className="warning" data-testid="comparison-different-inputs">
          These benchmarks ran on different inputs ({inputs.join(" vs ")}): their times are shown side by side, but not compared.
        </p>
      )}
      <div className="row">
        <h3 className="grow">Comparison of {done.length} benchmarks (median ms)</h3>
        <button data-testid="export-csv-comparison" onClick={csv}>
          CSV
        </button>
      </div>
      <table className="bench-table">
        <thead>
          <tr>
            <th>row</th>
            {done.map((r) => (
              <th key={r.id} title={r.label}>
                {new Date(r.createdAt).toLocaleString()}
                <br />
                <span className="hint" data-testid="comparison-input">
                  {inputOf(r)}
                  <br />
                  {r.machine.cpu}, engine {r.engineVersion}
                  <br />
                  <span data-testid="comparison-peak">{processPeakOf(r)}</span>
                </span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {labels.map((l) => (
            <tr key={l}>
              <td>{l}</td>
              {cells.map((c, i) => (
                <td key={i}>{c.has(l) ? fmtMs(c.get(l)!) : "–"}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function PerfView() {
  const rec = usePerf((s) => s.selected);
  const compareRecords = usePerf((s) => s.compareRecords);
  const info = usePerf((s) => s.info);
  const json = rec?.status === "done" ? rec.result : undefined;
  const fileBase = rec ? `vggt-bench-${rec.id}` : "vggt-bench";
  // Running benchmarks show their progress here whichever record is selected.
  const running = usePerf((s) => s.benches).filter((b) => b.status === "running" && !(rec?.id === b.id && rec.status === "running"));
  return (
    <main className="perf-view" data-testid="perf-view">
      {running.map((b) => (
        <section key={b.id} className="bench-detail" data-id={b.id}>
          <h2>{b.label}</h2>
          <BenchMainProgress benchId={b.id} />
        </section>
      ))}
      {compareRecords.length >= 2 && <Comparison records={compareRecords} />}
      {!rec && (
        <div className="perf-intro">
          <h2>Performance lab</h2>
          <p>
            See what each engine optimization buys on this machine: run the write-up's cumulative experiment (baseline, then each option added in order), or an
            A/B comparison of two option sets on the current images. Every benchmark is kept on disk with the machine, the engine version and the options.
          </p>
          <p className="hint">{info ? `Engine ${info.engineVersion ?? "unknown"}${info.engineProblem ? ` — ${info.engineProblem}` : ""}; ${info.hostCores} cores here.` : ""}</p>
        </div>
      )}
      {rec && (
        <article className="bench-detail" data-testid="bench-detail" data-id={rec.id} data-status={rec.status}>
          <div className="row">
            <h2 className="grow">{rec.label}</h2>
            <span className={`status status-${rec.status}`}>{rec.status}</span>
            {json && (
              <button data-testid="export-csv" onClick={() => downloadText(benchToCsv(json), `${fileBase}.csv`)}>
                Table CSV
              </button>
            )}
          </div>
          <Meta rec={rec} />
          {rec.status === "running" && <BenchMainProgress benchId={rec.id} />}
          {rec.error && (
            <p className="run-error" data-testid="bench-error">
              {rec.error}
            </p>
          )}
          {json?.kind === "cumulative" && (
            <>
              <LatencyChart json={json} fileBase={fileBase} />
              <StageChart json={json} fileBase={fileBase} />
            </>
          )}
          {json?.kind === "ab" && <AbResult rec={rec} json={json} />}
          {json && <BenchTable json={json} />}
          {rec.log && (
            <details>
              <summary>Engine log</summary>
              <pre className="bench-log">{rec.log}</pre>
            </details>
          )}
          <details>
            <summary>Command</summary>
            <pre className="bench-log" data-testid="bench-command">
              {rec.command.join(" ")}
            </pre>
          </details>
        </article>
      )}
    </main>
  );
}

/** The process peak RSS of one side, with the tensor peak and the weights as details. */
function ProcessPeak({ row, testId }: { row: BenchRow; testId: string }) {
  const detail = `tensor peak ${formatBytes(row.peak_bytes)} · weights ${formatBytes(row.weight_bytes)}`;
  if (row.peak_rss_bytes === undefined)
    return (
      <div className="hint" data-testid={testId} title="This engine reported no process peak; the tensor peak counts live activations only">
        {detail}
      </div>
    );
  return (
    <div className="hint" data-testid={testId} data-value={row.peak_rss_bytes} title={`The engine process's peak resident size during ${row.peak_rss_scope === "row" ? "this side's runs" : "the benchmark"}: weights as held + activations + allocator slack`}>
      process peak <strong>{formatBytes(row.peak_rss_bytes)}</strong> · {detail}
    </div>
  );
}

import { useEffect, useMemo, useState } from "react";

import { formatCount } from "../format";
import { exportRun, menuHandlers, setViewer, useStore, viewCommand } from "../store";
import { selectCandidates, strataWeight } from "../../../common/point-selection";
import { boundsOf } from "../viewer-math";
import { RunProgress } from "./RunProgress";
import { canvasRef, Viewer } from "./Viewer";

const BUDGETS = [100_000, 300_000, 1_000_000, 2_000_000, 5_000_000];

/** Saves the canvas as PNG; a random-weights cloud carries the label in the picture itself. */
function screenshot(name: string, randomWeights: boolean): void {
  const gl = canvasRef.current;
  if (!gl) return;
  const canvas = document.createElement("canvas");
  canvas.width = gl.width;
  canvas.height = gl.height;
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(gl, 0, 0);
  if (randomWeights) {
    const px = Math.max(14, Math.round(canvas.height / 36));
    ctx.font = `bold ${px}px sans-serif`;
    const text = "RANDOM WEIGHTS — benchmark output, the geometry is meaningless";
    ctx.fillStyle = "rgba(160, 20, 20, 0.85)";
    ctx.fillRect(0, 0, canvas.width, px * 1.8);
    ctx.fillStyle = "#fff";
    ctx.textBaseline = "middle";
    ctx.fillText(text, px * 0.6, px * 0.9);
  }
  canvas.toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${name}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, "image/png");
}

export function ViewerPanel() {
  const cloud = useStore((s) => s.cloud);
  const loading = useStore((s) => s.cloudLoading);
  const error = useStore((s) => s.cloudError);
  const viewer = useStore((s) => s.viewer);
  const selected = useStore((s) => s.runs.find((r) => r.id === s.selectedRunId));
  const formats = useStore((s) => s.exportFormats);
  const [format, setFormat] = useState("ply");
  useEffect(() => {
    menuHandlers.screenshot = () => {
      const c = useStore.getState().cloud;
      if (c) screenshot(`vggt-${c.runId}`, c.randomWeights);
    };
  }, []);
  const hidden = useMemo(() => new Set(viewer.hiddenFrames), [viewer.hiddenFrames]);
  // The same selection the exports run on the full output (common/point-selection.ts).
  const selection = useMemo(
    () =>
      cloud
        ? selectCandidates(
            { conf: cloud.conf, frame: cloud.frame, colors: cloud.colors, ...(cloud.decimation ? { strata: cloud.decimation } : {}) },
            { confPercentile: viewer.confPercentile, hiddenFrames: viewer.hiddenFrames, filterBlack: viewer.filterBlack, filterWhite: viewer.filterWhite },
          )
        : null,
    [cloud, viewer.confPercentile, viewer.hiddenFrames, viewer.filterBlack, viewer.filterWhite],
  );
  const threshold = selection?.threshold ?? 0;
  const visible = selection?.keep.length ?? 0;
  const bounds = useMemo(() => (cloud && selection ? boundsOf(cloud.positions, selection.keep) : null), [cloud, selection]);
  // The export runs on every point, the view on a budget: scale the count when the view is decimated.
  const decimated = !!cloud && cloud.count < cloud.totalPoints;
  const exportCount = useMemo(() => {
    if (!cloud || !selection) return 0;
    if (!decimated) return visible;
    const strata = cloud.decimation;
    if (!strata) return Math.round((visible * cloud.totalPoints) / Math.max(1, cloud.count));
    let sum = 0;
    for (const i of selection.keep) sum += strataWeight(strata, cloud.conf[i]);
    return Math.round(sum);
  }, [cloud, selection, decimated, visible]);

  return (
    <main className="viewer" data-testid="viewer" data-cloud={cloud?.runId ?? ""} data-branch={cloud?.branch ?? ""}>
      <Viewer threshold={threshold} />
      {cloud?.randomWeights && (
        <div className="banner random-banner viewer-banner" data-testid="viewer-random-banner">
          RANDOM WEIGHTS — benchmark output, the geometry is meaningless
        </div>
      )}
      {!cloud && selected && (selected.status === "running" || selected.status === "queued") && (
        // Where the eye is: the selected run's progress in the middle of the main area.
        <div className="viewer-progress">
          <RunProgress run={selected} testId="viewer-run-progress" />
        </div>
      )}
      {!cloud && !(selected && (selected.status === "running" || selected.status === "queued")) && (
        <div className="viewer-empty">
          {loading
            ? "Loading the point cloud…"
            : error
              ? `Cannot show this run: ${error}`
              : selected && selected.status !== "done"
                ? `Run ${selected.status}${selected.error ? `: ${selected.error}` : ""}`
                : "Load images and run a reconstruction, or pick a run from the list."}
        </div>
      )}
      {cloud && (
        <div className="viewer-controls" data-testid="viewer-controls">
          <div className="stat" data-testid="point-count" data-visible={visible} data-total={cloud.count} data-bounds={bounds ? JSON.stringify(bounds) : ""}>
            {formatCount(visible)} of {formatCount(cloud.count)} points shown
            {cloud.count < cloud.totalPoints && (
              <span className="hint" data-testid="decimated" title={cloud.decimation ? "Over the point budget: points below the median confidence are kept 3x more sparsely than those above it; the threshold and the export count are those of all points" : undefined}>
                {" "}
                (decimated{cloud.decimation ? " by confidence" : ""} from {formatCount(cloud.totalPoints)})
              </span>
            )}
          </div>
          <label>
            Confidence threshold: {viewer.confPercentile}% (≥ {threshold.toPrecision(3)})
            <input
              data-testid="conf-slider"
              type="range"
              min={0}
              max={99}
              step={1}
              value={viewer.confPercentile}
              onChange={(e) => setViewer({ confPercentile: Number(e.target.value) })}
            />
          </label>
          <label>
            Point size: {viewer.pointSize}px
            <input type="range" min={1} max={8} step={0.5} value={viewer.pointSize} onChange={(e) => setViewer({ pointSize: Number(e.target.value) })} />
          </label>
          <label>
            Prediction{" "}
            <select data-testid="branch-select" value={viewer.branch} onChange={(e) => setViewer({ branch: e.target.value as "pointmap" | "depth" })}>
              <option value="pointmap">Pointmap branch</option>
              <option value="depth">Depthmap and camera branch</option>
            </select>
          </label>
          {selected?.chunks && selected.chunks.length > 1 && (
            <label title="Each chunk of this chunked run in its own colour (a shared frame belongs to the earlier chunk)">
              <input type="checkbox" data-testid="color-by-chunk" checked={!!viewer.colorByChunk} onChange={(e) => setViewer({ colorByChunk: e.target.checked })} /> Colour by chunk (
              {selected.chunks.length} chunks)
            </label>
          )}
          <label>
            Point budget{" "}
            <select data-testid="point-budget" value={viewer.maxPoints} onChange={(e) => setViewer({ maxPoints: Number(e.target.value) })}>
              {[...new Set([...BUDGETS, viewer.maxPoints])]
                .sort((a, b) => a - b)
                .map((b) => (
                  <option key={b} value={b}>
                    {formatCount(b)}
                  </option>
                ))}
            </select>
          </label>
          <label>
            <input type="checkbox" checked={viewer.showCameras} onChange={(e) => setViewer({ showCameras: e.target.checked })} /> Cameras
          </label>
          <label title="Drop points whose colour is near black (r+g+b < 16), as the official demo's filter does">
            <input type="checkbox" data-testid="filter-black" checked={viewer.filterBlack} onChange={(e) => setViewer({ filterBlack: e.target.checked })} /> Filter black background
          </label>
          <label title="Drop points whose colour is near white (every channel > 240), as the official demo's filter does">
            <input type="checkbox" data-testid="filter-white" checked={viewer.filterWhite} onChange={(e) => setViewer({ filterWhite: e.target.checked })} /> Filter white background
          </label>
          <details>
            <summary>Frames ({cloud.cameras.length - viewer.hiddenFrames.length} shown)</summary>
            <ul className="frame-filter">
              {cloud.cameras.map((c) => (
                <li key={c.index}>
                  <label>
                    <input
                      type="checkbox"
                      checked={!hidden.has(c.index)}
                      onChange={(e) =>
                        setViewer({ hiddenFrames: e.target.checked ? viewer.hiddenFrames.filter((f) => f !== c.index) : [...viewer.hiddenFrames, c.index] })
                      }
                    />{" "}
                    {c.name}
                  </label>
                  {/* Text, not an emoji: without an emoji font an emoji renders as an empty box. */}
                  <button className="link" title="Look through this camera" onClick={() => viewCommand({ kind: "camera", index: c.index })}>
                    view
                  </button>
                </li>
              ))}
            </ul>
          </details>
          <div className="row">
            <button data-testid="reset-view" onClick={() => viewCommand({ kind: "reset" })}>
              Reset view
            </button>
            <button data-testid="screenshot" onClick={() => screenshot(`vggt-${cloud.runId}`, cloud.randomWeights)}>
              Screenshot
            </button>
          </div>
          {formats.length > 0 && !cloud.runId.startsWith("bench-") && (
            <div className="row">
              <select aria-label="Export format" data-testid="export-format" value={format} onChange={(e) => setFormat(e.target.value)}>
                {formats.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.label}
                  </option>
                ))}
              </select>
              <button
                data-testid="export-button"
                data-count={exportCount}
                data-exact={decimated ? "false" : "true"}
                title="Exports what the view selects: the frame filter, the confidence threshold, the background filters and the prediction branch"
                onClick={() => exportRun(format)}
              >
                Export
              </button>
            </div>
          )}
          {formats.length > 0 && !cloud.runId.startsWith("bench-") && (
            <div className="hint" data-testid="export-count">
              The export writes {decimated ? "about " : ""}
              {formatCount(exportCount)} points{decimated ? " (the view shows a sample)" : ""}.
            </div>
          )}
        </div>
      )}
    </main>
  );
}

// Click-to-track and refine for the selected run: the run's frames as thumbnails; a click on one
// tracks that pixel through every frame (track head), drawn on every thumbnail with its
// visibility/confidence, and highlighted in 3-D by the Viewer.
import { useEffect, useState } from "react";

import type { RunDetail, TrackResult } from "../../../electron/ipc/channels";
import { api } from "../api";
import { clearTracks, notify, refineSelected, trackAt, useStore } from "../store";

interface Thumb {
  url: string;
  width: number;
  height: number;
}

function useRunThumbs(run: RunDetail | null): (Thumb | null)[] {
  const [thumbs, setThumbs] = useState<(Thumb | null)[]>([]);
  useEffect(() => {
    if (!run) return setThumbs([]);
    let live = true;
    const urls: string[] = [];
    setThumbs(run.images.map(() => null));
    run.images.forEach((im, s) => {
      api
        .readImage(im.path)
        .then((b) => {
          const url = URL.createObjectURL(new Blob([b.bytes as BlobPart], { type: b.mime }));
          urls.push(url);
          if (live) setThumbs((t) => t.map((x, i) => (i === s ? { url, width: im.width, height: im.height } : x)));
        })
        .catch((e) => notify(`${im.name}: ${(e as Error).message}`));
    });
    return () => {
      live = false;
      urls.forEach((u) => URL.revokeObjectURL(u));
    };
  }, [run?.id]);
  return thumbs;
}

/** One track on frame s: its path through frames 0..S-1 (faint) and its position in frame s. */
function TrackMark({ t, color, s, radius }: { t: TrackResult; color: string; s: number; radius: number }) {
  const path = t.track.map((f) => f[0]);
  const [x, y] = path[s];
  const vis = t.vis[s][0];
  const conf = t.conf[s][0];
  return (
    <g data-testid="track-mark" data-frame={s} data-vis={vis.toFixed(3)} data-conf={conf.toFixed(3)}>
      <polyline points={path.map(([px, py]) => `${px},${py}`).join(" ")} fill="none" stroke={color} strokeOpacity={0.5} vectorEffect="non-scaling-stroke" strokeWidth={1.5} />
      <circle cx={x} cy={y} r={radius} fill={vis >= 0.5 ? color : "none"} stroke={color} strokeWidth={2} vectorEffect="non-scaling-stroke">
        <title>{`frame ${s}: (${x.toFixed(1)}, ${y.toFixed(1)}) visibility ${vis.toFixed(2)}, confidence ${conf.toFixed(2)}`}</title>
      </circle>
    </g>
  );
}

export function TrackPanel() {
  const selected = useStore((s) => s.runs.find((r) => r.id === s.selectedRunId));
  const tracks = useStore((s) => s.tracks);
  const busy = useStore((s) => s.trackBusy);
  const [run, setRun] = useState<RunDetail | null>(null);
  const [queries, setQueries] = useState(1024);
  useEffect(() => {
    if (!selected || selected.status !== "done") return setRun(null);
    let live = true;
    api.getRun(selected.id).then((r) => live && setRun(r), (e) => notify((e as Error).message));
    return () => {
      live = false;
    };
  }, [selected?.id, selected?.status]);
  const thumbs = useRunThumbs(run);
  if (!selected || selected.status !== "done" || !run) return null;

  return (
    <section className="panel" data-testid="track-panel">
      <h2>Tracks &amp; refine</h2>
      {selected.refine && selected.refine.meanErrorAfter !== undefined && (
        <p className="hint" data-testid="refine-summary">
          Refined from run {selected.refine.sourceRunId}: {selected.refine.tracksKept} tracks, {selected.refine.observations} observations, mean
          reprojection error {selected.refine.meanErrorBefore!.toFixed(2)} → {selected.refine.meanErrorAfter.toFixed(2)} px
        </p>
      )}
      <p className="hint">Click a frame to track that point through every frame{busy ? " — tracking…" : ""}.</p>
      <ul className="track-thumbs" data-testid="track-thumbs">
        {run.images.map((im, s) => {
          const th = thumbs[s];
          return (
            <li key={s} data-testid="track-frame" data-frame={s}>
              <div className="track-thumb" style={{ aspectRatio: `${im.width} / ${im.height}` }}>
                {th && <img src={th.url} alt={im.name} />}
                <svg
                  viewBox={`0 0 ${im.width} ${im.height}`}
                  preserveAspectRatio="none"
                  onClick={(e) => {
                    const r = e.currentTarget.getBoundingClientRect();
                    void trackAt(s, ((e.clientX - r.left) / r.width) * im.width, ((e.clientY - r.top) / r.height) * im.height);
                  }}
                >
                  {tracks.map((t, k) => (
                    <TrackMark key={k} t={t.result} color={t.color} s={s} radius={Math.max(im.width, im.height) * 0.02} />
                  ))}
                </svg>
              </div>
              <span className="thumb-name">
                {s}: {im.name}
              </span>
            </li>
          );
        })}
      </ul>
      {tracks.length > 0 && (
        <>
          <table className="track-table" data-testid="track-table">
            <thead>
              <tr>
                <th>track</th>
                {run.images.map((_, s) => (
                  <th key={s}>frame {s} vis / conf</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {tracks.map((t, k) => (
                <tr key={k} data-via={t.result.via}>
                  <td style={{ color: t.color }} title={`${t.result.via === "cached-features" ? "from the run's cached features (tracker only)" : "by a forward pass of the model"}, ${t.result.ms} ms`}>
                    ● from frame {t.result.frame}
                  </td>
                  {t.result.vis.map((v, s) => (
                    <td key={s}>
                      {v[0].toFixed(2)} / {t.result.conf[s][0].toFixed(2)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <button data-testid="clear-tracks" onClick={clearTracks}>
            Clear all tracks
          </button>
        </>
      )}
      <div className="row">
        <label>
          Query points <input type="number" min={16} max={16384} step={16} value={queries} aria-label="refine query points" onChange={(e) => setQueries(Number(e.target.value) || 1024)} />
        </label>
        <button data-testid="refine-button" title="Bundle adjustment of the cameras on the track head's tracks (COLMAP); makes a new run" onClick={() => refineSelected(queries)}>
          Refine cameras
        </button>
      </div>
    </section>
  );
}

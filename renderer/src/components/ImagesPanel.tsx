import { useEffect, useRef } from "react";

import { fromInput } from "../drop";
import { formatBytes } from "../format";
import { clearFrames, importFiles, loadSample, menuHandlers, openFolder, removeFrame, resampleVideo, setFrameIncluded, subsample, useStore } from "../store";

export function ImagesPanel() {
  const frames = useStore((s) => s.frames);
  const rejected = useStore((s) => s.rejected);
  const hasSample = useStore((s) => s.info?.hasSample);
  const folderInput = useRef<HTMLInputElement>(null);
  const filesInput = useRef<HTMLInputElement>(null);
  const included = frames.filter((f) => f.included).length;
  const everyRef = useRef<HTMLInputElement>(null);
  const maxRef = useRef<HTMLInputElement>(null);
  const video = useStore((s) => s.video);
  const sampleRef = useRef<HTMLInputElement>(null);
  const sampleByRef = useRef<HTMLSelectElement>(null);
  useEffect(() => {
    menuHandlers["open-folder"] = () => void openFolder(() => folderInput.current?.click());
    menuHandlers["add-files"] = () => filesInput.current?.click();
  }, []);

  return (
    <section className="panel" data-testid="images-panel">
      <h2>Images</h2>
      <div className="row wrap">
        <button data-testid="open-folder" onClick={() => openFolder(() => folderInput.current?.click())}>
          Open folder…
        </button>
        <button onClick={() => filesInput.current?.click()}>Add files…</button>
        {hasSample && (
          <button data-testid="load-sample" onClick={() => loadSample()}>
            Sample
          </button>
        )}
        {frames.length > 0 && (
          <button className="ghost" onClick={clearFrames}>
            Clear
          </button>
        )}
      </div>
      {/* Web mode's folder picker; Electron uses the native dialog. */}
      <input
        ref={folderInput}
        data-testid="folder-input"
        type="file"
        hidden
        multiple
        {...({ webkitdirectory: "" } as Record<string, string>)}
        onChange={(e) => {
          void importFiles(fromInput(e.target.files), "the chosen folder");
          e.target.value = "";
        }}
      />
      <input
        ref={filesInput}
        data-testid="files-input"
        type="file"
        hidden
        multiple
        onChange={(e) => {
          void importFiles(fromInput(e.target.files), "the chosen files");
          e.target.value = "";
        }}
      />
      {frames.length === 0 && rejected.length === 0 && <p className="hint drop-hint">Drop a folder, image files or a video (mp4, mov, webm, mkv) anywhere on the window.</p>}
      {frames.length > 0 && (
        <>
          {video && (
            <div className="row wrap" data-testid="video-sampling">
              <span title={video.path}>
                {video.name}: {video.frames} of {video.videoFrames} frames ({video.rate.toFixed(2)}/s of {video.durationSeconds.toFixed(1)} s)
              </span>
              <input ref={sampleRef} type="number" min={1} step="any" defaultValue={video.frames} aria-label="frames or rate to sample" data-testid="video-sample-value" />
              <select ref={sampleByRef} aria-label="sample by" defaultValue="frames" data-testid="video-sample-by">
                <option value="frames">frames</option>
                <option value="fps">per second</option>
              </select>
              <button
                data-testid="video-resample"
                onClick={() => {
                  const v = Number(sampleRef.current?.value);
                  if (v > 0) void resampleVideo(sampleByRef.current?.value === "fps" ? { fps: v } : { frames: Math.round(v) });
                }}
              >
                Resample
              </button>
            </div>
          )}
          <p className="summary" data-testid="frame-count">
            {included} of {frames.length} frame{frames.length === 1 ? "" : "s"} selected
          </p>
          <ul className="thumbs" data-testid="thumbs">
            {frames.map((f) => (
              <li key={f.entry.path} className={f.included ? "" : "excluded"} title={f.entry.path}>
                <label>
                  {f.thumbUrl ? <img src={f.thumbUrl} alt={f.entry.name} /> : <div className="thumb-placeholder" />}
                  <input type="checkbox" checked={f.included} onChange={(e) => setFrameIncluded(f.entry.path, e.target.checked)} />
                </label>
                <span className="thumb-name">{f.entry.name}</span>
                <span className="thumb-size">
                  {f.entry.width}×{f.entry.height} · {formatBytes(f.entry.bytes)}
                </span>
                <button className="remove" aria-label={`Remove ${f.entry.name}`} onClick={() => removeFrame(f.entry.path)}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          {frames.length > 2 && (
            <div className="row subsample">
              <span>Subsample: every</span>
              <input ref={everyRef} type="number" min={1} defaultValue={1} aria-label="every k-th frame" />
              <span>max</span>
              <input ref={maxRef} type="number" min={0} defaultValue={0} aria-label="maximum frames (0: no limit)" />
              <button onClick={() => subsample(Number(everyRef.current?.value) || 1, Number(maxRef.current?.value) || 0)}>Apply</button>
            </div>
          )}
        </>
      )}
      {rejected.length > 0 && (
        <details className="rejected" open data-testid="rejected">
          <summary>
            {rejected.length} file{rejected.length === 1 ? "" : "s"} skipped
          </summary>
          <ul>
            {rejected.map((r) => (
              <li key={r.path}>
                <strong>{r.name}</strong>: {r.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

// The Model panel: "Download VGGT-1B" (progress, pause/resume, verify, convert), "Use a checkpoint
// file…" and "Use a folder…" (desktop: native pickers; web mode: a path on the server in the field).
import { useEffect } from "react";

import { formatBytes, formatSeconds } from "../format";
import { chooseModelFile, initModelPanel, pauseModelDownload, startModelDownload, useModelPanel } from "../model-store";
import { applyModelPath, chooseModelFolder, useStore } from "../store";

const PHASE_LABEL = { idle: "", download: "Downloading", paused: "Paused", verify: "Verifying", convert: "Converting", done: "Installed", failed: "Failed" } as const;

export function ModelPanel() {
  const install = useModelPanel((s) => s.install);
  const info = useStore((s) => s.info);
  const web = info?.mode === "web";
  useEffect(() => {
    void initModelPanel();
  }, []);
  const phase = install?.phase ?? "idle";
  const running = phase === "download" || phase === "verify" || phase === "convert";
  const fraction = install?.total ? Math.min(1, install.bytes / install.total) : null;
  return (
    <section className="model-panel" data-testid="model-panel" aria-label="Model">
      <div className="row">
        {phase === "download" ? (
          <button type="button" data-testid="model-pause" onClick={() => void pauseModelDownload()}>
            Pause
          </button>
        ) : phase === "paused" || phase === "failed" ? (
          <button type="button" data-testid="model-resume" onClick={() => void startModelDownload()}>
            Resume download
          </button>
        ) : (
          <button type="button" data-testid="model-download" disabled={running} onClick={() => void startModelDownload()} title={install ? `${install.repo}/${install.file} from ${install.endpoint}` : undefined}>
            Download VGGT-1B
          </button>
        )}
        {!web && (
          <>
            <button type="button" data-testid="model-pick-file" onClick={() => void chooseModelFile()}>
              Use a checkpoint file…
            </button>
            <button type="button" data-testid="model-pick-folder" onClick={() => void chooseModelFolder()}>
              Use a folder…
            </button>
          </>
        )}
      </div>
      {install && phase !== "idle" && (
        <div className="model-install" data-testid="model-install" data-phase={phase}>
          <div className="row">
            <strong>{PHASE_LABEL[phase]}</strong>
            {fraction !== null && running && <progress max={1} value={fraction} />}
            <span data-testid="model-install-figures">
              {install.total ? `${formatBytes(install.bytes)} of ${formatBytes(install.total)}` : install.bytes ? formatBytes(install.bytes) : ""}
              {running && install.speed > 0 ? ` · ${formatBytes(install.speed)}/s · ${formatSeconds(install.etaSeconds)} left` : ""}
            </span>
          </div>
          <div className="muted" data-testid="model-install-message">
            {install.message}
          </div>
          {install.error && (
            <div className="error" role="alert" data-testid="model-install-error">
              {install.error}
            </div>
          )}
        </div>
      )}
      <form
        className="row model-path"
        onSubmit={(e) => {
          e.preventDefault();
          const path = new FormData(e.currentTarget).get("model-path");
          if (typeof path === "string" && path.trim()) void applyModelPath(path.trim());
        }}
      >
        <input
          name="model-path"
          data-testid="model-path"
          placeholder={web ? "checkpoint file or folder on the server: model.safetensors, model.pt or a folder" : "path: model.safetensors, model.pt or a folder"}
          size={48}
        />
        <button type="submit" data-testid="use-model">
          Use this model
        </button>
      </form>
    </section>
  );
}

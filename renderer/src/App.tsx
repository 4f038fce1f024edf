import { useEffect, useState } from "react";

import { collectDropped } from "./drop";
import { api } from "./api";
import { ImagesPanel } from "./components/ImagesPanel";
import { RunPanel } from "./components/RunPanel";
import { RunsPanel } from "./components/RunsPanel";
import { TrackPanel } from "./components/TrackPanel";
import { ViewerPanel } from "./components/ViewerPanel";
import { BenchPanel, HistoryPanel } from "./perf/BenchPanels";
import { OptionsPanel } from "./perf/OptionsPanel";
import { initPerf } from "./perf/perf-store";
import { PerfView } from "./perf/PerfView";
import { formatBytes } from "./format";
import { ModelPanel } from "./components/ModelPanel";
import { toggleModelPanel, useModelPanel } from "./model-store";
import { dismissNotice, importFiles, setOptions, setTheme, setView, useStore } from "./store";

function ModelStatusBar() {
  const model = useStore((s) => s.model);
  const engine = useStore((s) => s.engine);
  const randomWeights = useStore((s) => s.options.randomWeights);
  const panelOpen = useModelPanel((s) => s.open);
  return (
    <>
      {model?.state === "none" && (
        <div className="banner no-model" data-testid="no-model">
          <strong>No model installed.</strong> <span data-testid="no-model-hint">{model.hint}</span>{" "}
          <ModelPanel />
          {!randomWeights && <button onClick={() => setOptions({ randomWeights: true })}>Use random-weight benchmark mode</button>}
        </div>
      )}
      {model?.state === "ready" && panelOpen && (
        <div className="banner model-banner" data-testid="model-banner">
          <strong>Model:</strong> {model.dir} <ModelPanel />
        </div>
      )}
      {randomWeights && (
        <div className="banner random-banner" data-testid="random-banner">
          RANDOM WEIGHTS — benchmark mode: runs measure the engine's speed, the geometry they produce is meaningless.
        </div>
      )}
      {engine && (engine.state === "crashed" || engine.state === "missing") && (
        <div className="banner engine-problem" data-testid="engine-problem">
          Engine {engine.state}: {engine.message ?? "no details"}
          {engine.restarts > 0 ? ` (restarted ${engine.restarts}×)` : ""}
        </div>
      )}
    </>
  );
}

function Header() {
  const info = useStore((s) => s.info);
  const model = useStore((s) => s.model);
  const engine = useStore((s) => s.engine);
  const theme = useStore((s) => s.theme);
  const view = useStore((s) => s.view);
  const panelOpen = useModelPanel((s) => s.open);
  return (
    <header className="app-header">
      <h1>VGGT Workbench</h1>
      <nav className="tabs" role="tablist">
        <button role="tab" data-testid="tab-reconstruct" aria-selected={view === "reconstruct"} className={view === "reconstruct" ? "active" : ""} onClick={() => setView("reconstruct")}>
          Reconstruct
        </button>
        <button role="tab" data-testid="tab-perf" aria-selected={view === "perf"} className={view === "perf" ? "active" : ""} onClick={() => setView("perf")}>
          Performance lab
        </button>
      </nav>
      <span className="pill">{info?.mode === "web" ? "web mode" : "desktop"}</span>
      <span className="pill" data-testid="engine-state" data-state={engine?.state}>
        engine: {engine?.state ?? "…"}
      </span>
      <span className="pill" data-testid="model-state">
        model: {model?.state === "ready" ? `${model.name} (${model.params ? `${(model.params / 1e6).toFixed(1)} M params` : formatBytes(model.weightsBytes)})` : "none"}
      </span>
      <button className="ghost" data-testid="model-button" aria-expanded={panelOpen} onClick={() => toggleModelPanel()}>
        Model…
      </button>
      <span className="grow" />
      <button className="ghost" onClick={() => setTheme(theme === "dark" ? "light" : "dark")}>
        {theme === "dark" ? "Light" : "Dark"} theme
      </button>
    </header>
  );
}

function Notices() {
  const notices = useStore((s) => s.notices);
  return (
    <div className="notices" data-testid="notices">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.kind}`} role={n.kind === "error" ? "alert" : "status"}>
          <span>{n.text}</span>
          <button className="link" aria-label="Dismiss" onClick={() => dismissNotice(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

export function App() {
  const theme = useStore((s) => s.theme);
  const view = useStore((s) => s.view);
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    void initPerf();
  }, []);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  useEffect(() => {
    let depth = 0;
    const over = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes("Files")) e.preventDefault();
    };
    const enter = (e: DragEvent) => {
      if (!e.dataTransfer?.types.includes("Files")) return;
      depth++;
      setDragging(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const drop = async (e: DragEvent) => {
      e.preventDefault();
      depth = 0;
      setDragging(false);
      if (!e.dataTransfer) return;
      await importFiles(await collectDropped(e.dataTransfer, api.mode), "the dropped items");
    };
    window.addEventListener("dragover", over);
    window.addEventListener("dragenter", enter);
    window.addEventListener("dragleave", leave);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragover", over);
      window.removeEventListener("dragenter", enter);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("drop", drop);
    };
  }, []);

  return (
    <div className="app">
      <Header />
      <ModelStatusBar />
      <div className="body">
        {view === "reconstruct" ? (
          <>
            <aside className="sidebar">
              <ImagesPanel />
              <OptionsPanel compact />
              <RunPanel />
              <RunsPanel />
              <TrackPanel />
            </aside>
            <ViewerPanel />
          </>
        ) : (
          <>
            <aside className="sidebar">
              <ImagesPanel />
              <OptionsPanel />
              <BenchPanel />
              <HistoryPanel />
            </aside>
            <PerfView />
          </>
        )}
      </div>
      {dragging && <div className="drop-overlay">Drop images or a folder</div>}
      <Notices />
    </div>
  );
}

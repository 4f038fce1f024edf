// The Model panel's state: the download's progress (from the services' "model-install" events) and
// whether the panel is open. The chosen model itself lives in the main store.
import { create } from "zustand";

import type { ModelInstallState } from "../../electron/ipc/channels";
import { api } from "./api";
import { applyModelPath, chooseModelFolder, menuHandlers, notify, useStore } from "./store";

interface ModelPanelState {
  install: ModelInstallState | null;
  open: boolean;
}

export const useModelPanel = create<ModelPanelState>(() => ({ install: null, open: false }));
const set = useModelPanel.setState;

// Events and call replies travel separately: a reply (e.g. pause's, still "download") may arrive
// after the event it precedes ("paused"); the newer state wins.
function setInstall(next: ModelInstallState): void {
  const cur = useModelPanel.getState().install;
  if (!cur || next.seq >= cur.seq) set({ install: next });
}

let subscribed = false;

export async function initModelPanel(): Promise<void> {
  if (subscribed) return;
  subscribed = true;
  api.onEvent((e) => {
    if (e.type === "model-install") setInstall(e.state);
  });
  try {
    setInstall(await api.modelInstallState());
  } catch (e) {
    notify(`cannot read the model download's state: ${(e as Error).message}`);
  }
}

export function toggleModelPanel(open = !useModelPanel.getState().open): void {
  set({ open });
}

/** "Download VGGT-1B" and "Resume download": the same call; the services continue a partial file. */
export async function startModelDownload(): Promise<void> {
  try {
    setInstall(await api.downloadModel({ engineOptions: useStore.getState().options.engineOptions }));
  } catch (e) {
    notify((e as Error).message);
  }
}

export async function pauseModelDownload(): Promise<void> {
  try {
    setInstall(await api.pauseModelDownload());
  } catch (e) {
    notify((e as Error).message);
  }
}

/** "Use a checkpoint file…" (desktop): the native file picker, then the same check as the path field. */
export async function chooseModelFile(): Promise<void> {
  const path = await api.pickModelFile().catch(() => null);
  if (path) await applyModelPath(path);
}

// The desktop app's native Model menu: the same actions as the panel's buttons (the panel opens).
menuHandlers["model-download"] = () => {
  toggleModelPanel(true);
  void startModelDownload();
};
menuHandlers["model-file"] = () => {
  toggleModelPanel(true);
  void chooseModelFile();
};
menuHandlers["model-folder"] = () => {
  toggleModelPanel(true);
  void chooseModelFolder();
};

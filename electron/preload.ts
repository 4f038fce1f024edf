// Sandboxed preload: exposes window.vggt, generated from the channel map. Bundled to CommonJS
// (sandboxed preloads cannot import ES modules or most of Node).
import { contextBridge, ipcRenderer, webUtils } from "electron";

import { INVOKE_NAMES, IPC_EVENT_CHANNEL, ipcChannel, type AppEvent, type InvokeApi, type VggtApi } from "./ipc/channels.js";

const invokers = Object.fromEntries(INVOKE_NAMES.map((name) => [name, (...args: unknown[]) => ipcRenderer.invoke(ipcChannel(name), ...args)])) as unknown as InvokeApi;

const api: VggtApi = {
  ...invokers,
  mode: "electron",
  onEvent(listener) {
    // The IPC event object (with its sender) never reaches the page.
    const handler = (_e: unknown, event: AppEvent) => listener(event);
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
    };
  },
  async importFiles(files) {
    // Electron gives dropped/picked files their real paths: nothing to upload.
    const paths = files.map((f) => webUtils.getPathForFile(f.file)).filter((p) => p.length > 0);
    return { paths, failed: [] };
  },
};

contextBridge.exposeInMainWorld("vggt", api);

// Electron main process: a window with a locked-down renderer, and IPC handlers that forward
// the channel map to the same services web mode serves. Nothing else lives here.
import { app, BrowserWindow, dialog, ipcMain, Menu, session, type IpcMainInvokeEvent, type MenuItemConstructorOptions } from "electron";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { INVOKE_NAMES, IPC_EVENT_CHANNEL, ipcChannel, type AppEvent, type MenuCommand } from "./ipc/channels.js";
import { createAppServices, findUp } from "./services/runs/app-services.js";
import { CONTENT_SECURITY_POLICY } from "./services/web/server.js";

const here = dirname(fileURLToPath(import.meta.url));
const rendererIndex = findUp(join("dist", "renderer", "index.html"), here) ?? join(here, "..", "renderer", "index.html");
const rendererUrl = pathToFileURL(rendererIndex).href;

let win: BrowserWindow | null = null;

async function pickFolder(title: string): Promise<string | null> {
  const opts = { title, properties: ["openDirectory" as const] };
  const r = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
  return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
}

async function pickModelFile(): Promise<string | null> {
  const opts = {
    title: "Use a checkpoint file",
    properties: ["openFile" as const],
    filters: [{ name: "VGGT checkpoint (model.safetensors, model.pt)", extensions: ["safetensors", "pt"] }],
  };
  const r = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
  return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
}

const { workbench, engine } = createAppServices({
  mode: "electron",
  dataDir: process.env.VGGT_DATA_DIR ?? join(app.getPath("userData"), "data"),
  pickFolder: () => pickFolder("Open a folder"),
  pickModelFile,
  pickExportDir: () => pickFolder("Export into folder"),
});

function send(e: AppEvent): void {
  if (win && !win.isDestroyed()) win.webContents.send(IPC_EVENT_CHANNEL, e);
}

/** Only our own page may call the services. */
function checkSender(event: IpcMainInvokeEvent): void {
  const url = event.senderFrame?.url ?? "";
  if (!url.startsWith(rendererUrl)) throw new Error(`IPC from an unexpected page refused: ${url}`);
}

for (const name of INVOKE_NAMES) {
  ipcMain.handle(ipcChannel(name), (event, ...args: unknown[]) => {
    checkSender(event);
    return (workbench[name] as (...a: unknown[]) => unknown).apply(workbench, args);
  });
}
workbench.subscribe(send);

function menu(): void {
  const cmd = (command: MenuCommand) => () => send({ type: "menu", command });
  const template: MenuItemConstructorOptions[] = [
    {
      label: "File",
      submenu: [
        { label: "Open Folder…", accelerator: "CmdOrCtrl+O", click: cmd("open-folder") },
        { label: "Add Files…", click: cmd("add-files") },
        { label: "Open Sample", click: cmd("load-sample") },
        { type: "separator" },
        { label: "Save Screenshot…", accelerator: "CmdOrCtrl+Shift+S", click: cmd("screenshot") },
        { type: "separator" },
        { role: "quit" },
      ],
    },
    {
      label: "Model",
      submenu: [
        { label: "Download VGGT-1B", click: cmd("model-download") },
        { label: "Use a Checkpoint File…", click: cmd("model-file") },
        { label: "Use a Folder…", click: cmd("model-folder") },
      ],
    },
    {
      label: "View",
      submenu: [{ label: "Reset View", accelerator: "CmdOrCtrl+R", click: cmd("reset-view") }, { label: "Toggle Theme", click: cmd("toggle-theme") }, { role: "togglefullscreen" }],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function createWindow(): void {
  win = new BrowserWindow({
    width: 1400,
    height: 900,
    title: "VGGT Workbench",
    webPreferences: {
      preload: join(here, "preload.cjs"),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.webContents.on("will-navigate", (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(() => ({ action: "deny" }));
  void win.loadFile(rendererIndex);
  win.on("closed", () => {
    win = null;
  });
}

app.whenReady().then(() => {
  // The page carries the same policy in a meta tag; the header covers anything else loaded.
  session.defaultSession.webRequest.onHeadersReceived((details, cb) =>
    cb({ responseHeaders: { ...details.responseHeaders, "Content-Security-Policy": [CONTENT_SECURITY_POLICY] } }),
  );
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, cb) => cb(false));
  menu();
  createWindow();
  app.on("activate", () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on("window-all-closed", () => {
  if (process.platform !== "darwin") app.quit();
});

let quitting = false;
app.on("before-quit", (e) => {
  if (quitting) return;
  quitting = true;
  e.preventDefault();
  void workbench
    .dispose()
    .then(() => engine.dispose())
    .finally(() => app.quit());
});

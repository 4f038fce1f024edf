// The one API object the renderer uses: Electron's preload bridge when present, else web mode.
import type { VggtApi } from "../../electron/ipc/channels";
import { createWebClient } from "./web-client";

declare global {
  interface Window {
    vggt?: VggtApi;
  }
}

function webToken(): string {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("token");
  if (fromUrl) {
    sessionStorage.setItem("vggt-token", fromUrl);
    // Keep the token out of the address bar, history and screenshots.
    params.delete("token");
    const q = params.toString();
    history.replaceState(null, "", `${location.pathname}${q ? `?${q}` : ""}${location.hash}`);
    return fromUrl;
  }
  return sessionStorage.getItem("vggt-token") ?? "";
}

export const api: VggtApi = window.vggt ?? createWebClient(webToken());

// Where things live on disk: the Hugging Face hub cache (shared with other HF tools), the app's own
// cache (converted weights, hash index) and the folder for weights placed by hand.
import { homedir } from "node:os";
import { join, win32 } from "node:path";

export type Env = Record<string, string | undefined>;

export interface PlatformInfo {
  platform: NodeJS.Platform;
  env: Env;
  home: string;
}

export function currentPlatform(): PlatformInfo {
  return { platform: process.platform, env: process.env, home: homedir() };
}

function pjoin(pi: PlatformInfo, ...parts: string[]): string {
  return pi.platform === "win32" ? win32.join(...parts) : join(...parts);
}

function expandHome(p: string, pi: PlatformInfo): string {
  return p === "~" || p.startsWith("~/") ? pjoin(pi, pi.home, p.slice(2)) : p;
}

/** HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
 * (%USERPROFILE%\.cache\huggingface\hub on Windows) — the same rules as huggingface_hub. */
export function hfHubCacheDir(pi: PlatformInfo = currentPlatform()): string {
  const { env } = pi;
  if (env.HF_HUB_CACHE) return expandHome(env.HF_HUB_CACHE, pi);
  if (env.HUGGINGFACE_HUB_CACHE) return expandHome(env.HUGGINGFACE_HUB_CACHE, pi);
  if (env.HF_HOME) return pjoin(pi, expandHome(env.HF_HOME, pi), "hub");
  if (pi.platform !== "win32" && env.XDG_CACHE_HOME) return pjoin(pi, env.XDG_CACHE_HOME, "huggingface", "hub");
  const home = pi.platform === "win32" ? env.USERPROFILE || pi.home : pi.home;
  return pjoin(pi, home, ".cache", "huggingface", "hub");
}

/** The app's cache root: VGGT_WORKBENCH_CACHE, else the platform's cache folder + /vggt-workbench. */
export function appCacheDir(pi: PlatformInfo = currentPlatform()): string {
  const { env } = pi;
  if (env.VGGT_WORKBENCH_CACHE) return expandHome(env.VGGT_WORKBENCH_CACHE, pi);
  if (pi.platform === "win32") return pjoin(pi, env.LOCALAPPDATA || pjoin(pi, pi.home, "AppData", "Local"), "vggt-workbench", "Cache");
  if (pi.platform === "darwin") return pjoin(pi, pi.home, "Library", "Caches", "vggt-workbench");
  return pjoin(pi, env.XDG_CACHE_HOME || pjoin(pi, pi.home, ".cache"), "vggt-workbench");
}

/** User data (not a cache: never cleaned): weights the user put there by hand. */
export function appDataDir(pi: PlatformInfo = currentPlatform()): string {
  const { env } = pi;
  if (env.VGGT_WORKBENCH_DATA) return expandHome(env.VGGT_WORKBENCH_DATA, pi);
  if (pi.platform === "win32") return pjoin(pi, env.APPDATA || pjoin(pi, pi.home, "AppData", "Roaming"), "vggt-workbench");
  if (pi.platform === "darwin") return pjoin(pi, pi.home, "Library", "Application Support", "vggt-workbench");
  return pjoin(pi, env.XDG_DATA_HOME || pjoin(pi, pi.home, ".local", "share"), "vggt-workbench");
}

/** Folder scanned for model.safetensors / model.pt placed by hand (named in the offline message). */
export function manualModelsDir(pi: PlatformInfo = currentPlatform()): string {
  return pjoin(pi, appDataDir(pi), "models");
}

export function convertedCacheDir(pi: PlatformInfo = currentPlatform()): string {
  return pjoin(pi, appCacheDir(pi), "converted");
}

/** `models--facebook--VGGT-1B`, huggingface_hub's folder name for a model repo. */
export function repoFolderName(repo: string): string {
  return `models--${repo.split("/").join("--")}`;
}

export interface RepoCachePaths {
  root: string;
  blobs: string;
  snapshots: string;
  refs: string;
  locks: string;
}

export function repoCachePaths(cacheDir: string, repo: string): RepoCachePaths {
  const root = join(cacheDir, repoFolderName(repo));
  return {
    root,
    blobs: join(root, "blobs"),
    snapshots: join(root, "snapshots"),
    refs: join(root, "refs"),
    locks: join(cacheDir, ".locks", repoFolderName(repo)),
  };
}

export function isTruthyEnv(v: string | undefined): boolean {
  return !!v && ["1", "true", "yes", "on"].includes(v.trim().toLowerCase());
}

// Starts web mode (the real CLI, the real engine, the tiny golden model) and a headless
// Chromium driven by playwright-core; saves a screenshot per step under e2e/artifacts/.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { build } from "vite";

import { findEngineBinary } from "../electron/services/engine/engine-launch.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const sharedDir = resolve(process.env.VGGT_SHARED_DIR ?? join(repoRoot, "..", "shared"));
export const tinyModel = join(sharedDir, "goldens", "tiny-2f");
/** The tiny golden model with a track head (click-to-track, refine). */
export const tinyTrackModel = join(sharedDir, "goldens", "tiny-track-2f");
export const artifacts = join(repoRoot, "e2e", "artifacts");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--use-gl=angle",
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Everything the suite needs; throws with what is missing and how to get it. */
export function preflight(): { engine: string } {
  let engine: string;
  try {
    engine = findEngineBinary();
  } catch (e) {
    throw new Error(`e2e needs the real engine binary: ${(e as Error).message}`);
  }
  if (!existsSync(join(tinyModel, "weights.safetensors")))
    throw new Error(`e2e needs the tiny golden model at ${tinyModel} (set VGGT_SHARED_DIR)`);
  if (!existsSync(CHROMIUM)) throw new Error(`e2e needs Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  return { engine };
}

export interface WebMode {
  url: string;
  dataDir: string;
  proc: ChildProcessWithoutNullStreams;
  log: () => string;
  stop(): Promise<void>;
}

export async function buildRenderer(): Promise<void> {
  await build({ configFile: join(repoRoot, "renderer", "vite.config.ts"), logLevel: "warn" });
}

/** `model: null` starts without a model (as on a fresh machine); `args`: more web-mode options. */
/** `env`: more environment variables for the server (e.g. HF_HUB_CACHE for a private model cache). */
export async function startWebMode(engine: string, opts: { model?: string | null; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<WebMode> {
  const dataDir = mkdtempSync(join(tmpdir(), "vggt-e2e-data-"));
  const model = opts.model === undefined ? tinyModel : opts.model;
  const proc = spawn(
    process.execPath,
    [join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"), join(repoRoot, "electron", "services", "web", "cli.ts"), "--port", "0", ...(model ? ["--model", model] : []), "--data-dir", dataDir, "--engine", engine, "--threads", "2", ...(opts.args ?? [])],
    { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) },
  );
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (out += d));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`web mode did not start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /web mode: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    };
    proc.stdout.on("data", check);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`web mode exited (${code}):\n${out}`));
    });
  });
  return {
    url,
    dataDir,
    proc,
    log: () => out,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Chromium with a fresh user-data-dir (a persistent context is how playwright takes one). */
export async function launchBrowser(): Promise<{ context: BrowserContext; profile: string }> {
  const profile = mkdtempSync(join(tmpdir(), "vggt-e2e-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  return { context, profile };
}

let shot = 0;
/** A browser on web mode's page with page errors and console errors collected (CSP violations included). */
export async function openPage(): Promise<{ context: BrowserContext; profile: string; page: Page; pageErrors: string[] }> {
  const { context, profile } = await launchBrowser();
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
  return { context, profile, page, pageErrors };
}

export interface App {
  web: WebMode;
  context: BrowserContext;
  page: Page;
  /** Page errors and console errors (CSP violations included) seen so far. */
  pageErrors: string[];
  /** Closes the browser, stops web mode and removes the profile, the data folder and removeOnClose. */
  close(): Promise<void>;
}

/**
 * One e2e file's app: the renderer built, web mode on the real engine (`model`/`args` as for
 * startWebMode) and Chromium on its page. Call it in beforeAll and `app?.close()` in afterAll; the
 * folders in removeOnClose (the file's fixtures) go with it, also when the start fails.
 */
export async function openApp(opts: { model?: string | null; args?: string[]; env?: NodeJS.ProcessEnv; removeOnClose?: string[] } = {}): Promise<App> {
  const remove = () => {
    for (const d of opts.removeOnClose ?? []) rmSync(d, { recursive: true, force: true });
  };
  let web: WebMode | undefined;
  try {
    const { engine } = preflight();
    await buildRenderer();
    web = await startWebMode(engine, opts);
    const { context, profile, page, pageErrors } = await openPage();
    const started = web;
    return {
      web: started,
      context,
      page,
      pageErrors,
      async close() {
        await context.close();
        await started.stop();
        rmSync(profile, { recursive: true, force: true });
        remove();
      },
    };
  } catch (e) {
    await web?.stop();
    remove();
    throw e;
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(artifacts, { recursive: true });
  const file = join(artifacts, `${String(++shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Pixels of the WebGL canvas that differ from the background colour. */
/** A rectangle in CSS pixels relative to the viewer canvas. */
export interface CanvasRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Foreground pixels of the viewer's WebGL canvas, in all and inside `rect`. Background is the first
 * pixel (the corner shows no points at the reset view); total is -1 when there is no canvas.
 */
export async function canvasForeground(page: Page, rect: CanvasRect | null = null): Promise<{ total: number; inRect: number }> {
  return page.evaluate((r) => {
    const gl = document.querySelector<HTMLCanvasElement>("[data-testid=viewer-canvas-host] canvas");
    if (!gl) return { total: -1, inRect: 0 };
    const c = document.createElement("canvas");
    c.width = gl.width;
    c.height = gl.height;
    const ctx = c.getContext("2d")!;
    ctx.drawImage(gl, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const scale = gl.width / gl.clientWidth;
    const [r0, g0, b0] = [d[0], d[1], d[2]];
    let total = 0;
    let inRect = 0;
    for (let y = 0; y < c.height; y++)
      for (let x = 0; x < c.width; x++) {
        const i = 4 * (y * c.width + x);
        if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) <= 24) continue;
        total++;
        if (r && x >= r.x * scale && x < (r.x + r.width) * scale && y >= r.y * scale && y < (r.y + r.height) * scale) inRect++;
      }
    return { total, inRect };
  }, rect);
}

export async function canvasForegroundPixels(page: Page): Promise<number> {
  return (await canvasForeground(page)).total;
}

/** Drops files on the window the way a file manager does (a DataTransfer with File objects). */
export async function dropFiles(page: Page, files: string[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.split("/").pop()!, b64: readFileSync(f).toString("base64") }));
  await page.evaluate((items) => {
    const dt = new DataTransfer();
    for (const it of items) {
      const bin = Uint8Array.from(atob(it.b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bin], it.name));
    }
    window.dispatchEvent(new DragEvent("dragenter", { dataTransfer: dt, bubbles: true, cancelable: true }));
    window.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, payload);
}

/** Sets a range input like a user drag does (React listens to the input event). */
export async function setRange(page: Page, testId: string, value: number): Promise<void> {
  await page.evaluate(
    ([id, v]) => {
      const el = document.querySelector<HTMLInputElement>(`[data-testid=${id}]`)!;
      Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(el, String(v));
      el.dispatchEvent(new Event("input", { bubbles: true }));
    },
    [testId, value] as const,
  );
}

/** Child processes of a pid (to find the engine under the web-mode server). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // raced with an exiting process
    }
  }
  return out;
}

/** All descendants (tsx runs the CLI in a child node process, which spawns the engine). */
export function descendantPids(pid: number): number[] {
  const out: number[] = [];
  for (const c of childPids(pid)) out.push(c, ...descendantPids(c));
  return out;
}

export function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** CPU seconds (user + system) used so far by the given processes; exited ones count as 0. */
export function cpuSeconds(pids: number[]): number {
  const tick = 100; // USER_HZ on Linux
  let t = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      t += (Number(f[11]) + Number(f[12])) / tick; // fields 14 and 15: utime, stime
    } catch {
      // exited between listing and reading
    }
  }
  return t;
}

/** The browser's processes (the test runner launched it, so they descend from this process). */
export function browserPids(): number[] {
  return descendantPids(process.pid).filter((p) => /chrom/i.test(processName(p)));
}

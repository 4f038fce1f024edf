// The viewer at scale: a synthetic run of 150 frames x 20 M points (written here, no engine run)
// loads within a few draw calls and a bounded buffer size, says it is decimated, and hiding a
// frame still works. Draw calls come from three.js's renderer.info (window.__vggtViewerStats).
import { closeSync, copyFileSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { RunDetail } from "../electron/ipc/types.js";
import { newRunId } from "../electron/services/runs/store.js";
import { formatCount } from "../renderer/src/format.js";
import { type App, canvasForegroundPixels, openApp, repoRoot, screenshot, type WebMode } from "./harness.js";

const S = 150;
const H = 258;
const W = 518;
const N = S * H * W; // 20,046,600 points

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];

/** Writes a safetensors file tensor by tensor, frame by frame (never the whole file in memory). */
function writeSyntheticOutput(path: string): void {
  const tensors: [string, number[], (f: number) => Float32Array][] = [];
  const points = (f: number) => {
    const a = new Float32Array(H * W * 3);
    for (let v = 0; v < H; v++)
      for (let u = 0; u < W; u++) {
        const i = (v * W + u) * 3;
        // Each frame a patch of a wall, frames side by side along x.
        a[i] = (u / W - 0.5) * 0.5 + f * 0.02;
        a[i + 1] = (v / H - 0.5) * 0.25;
        a[i + 2] = 3 + 0.2 * Math.sin(u / 40 + f);
      }
    return a;
  };
  const conf = (f: number) => {
    const a = new Float32Array(H * W);
    for (let i = 0; i < a.length; i++) a[i] = 1 + ((i * 7 + f * 13) % 100) / 10;
    return a;
  };
  const extr = () => {
    const a = new Float32Array(S * 12);
    for (let f = 0; f < S; f++) a.set([1, 0, 0, -f * 0.02, 0, 1, 0, 0, 0, 0, 1, 0], f * 12);
    return a;
  };
  const intr = () => {
    const a = new Float32Array(S * 9);
    for (let f = 0; f < S; f++) a.set([400, 0, W / 2, 0, 400, H / 2, 0, 0, 1], f * 9);
    return a;
  };
  tensors.push(["world_points", [S, H, W, 3], points], ["world_points_conf", [S, H, W], conf], ["world_points_from_depth", [S, H, W, 3], points], ["depth_conf", [S, H, W], conf]);
  const header: Record<string, unknown> = { __metadata__: { random_weights: "true" } };
  let off = 0;
  const perFrame = (shape: number[]) => (shape.slice(1).reduce((a, b) => a * b, 1) * 4);
  for (const [name, shape] of tensors) {
    header[name] = { dtype: "F32", shape, data_offsets: [off, off + S * perFrame(shape)] };
    off += S * perFrame(shape);
  }
  header.extrinsic = { dtype: "F32", shape: [S, 3, 4], data_offsets: [off, off + S * 48] };
  off += S * 48;
  header.intrinsic = { dtype: "F32", shape: [S, 3, 3], data_offsets: [off, off + S * 36] };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(path, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const [, , gen] of tensors) for (let f = 0; f < S; f++) writeSync(fd, new Uint8Array(gen(f).buffer));
    writeSync(fd, new Uint8Array(extr().buffer));
    writeSync(fd, new Uint8Array(intr().buffer));
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  app = await openApp();
  ({ web, page, pageErrors } = app);
  const id = newRunId();
  const dir = join(web.dataDir, "runs", id);
  mkdirSync(dir, { recursive: true });
  writeSyntheticOutput(join(dir, "output.safetensors"));
  // The run's frame images (the app shows them with the run): copies of a sample view.
  const imagesDir = join(web.dataDir, "synthetic-images");
  mkdirSync(imagesDir, { recursive: true });
  const images = Array.from({ length: S }, (_, f) => {
    const name = `frame_${String(f).padStart(3, "0")}.png`;
    copyFileSync(join(repoRoot, "assets/sample/view-1.png"), join(imagesDir, name));
    return { path: join(imagesDir, name), name, format: "png" as const, width: 518, height: 350, bytes: statSync(join(imagesDir, name)).size };
  });
  const run: RunDetail = { id, name: "synthetic 150 frames", createdAt: new Date().toISOString(), status: "done", frames: S, randomWeights: true, model: "synthetic", images, options: { preprocess: "crop", randomWeights: true, seed: 0 }, stages: [] };
  writeFileSync(join(dir, "run.json"), JSON.stringify(run));
  await page.goto(web.url);
}, 300_000);

afterAll(async () => {
  await app?.close();
});

type Stats = { calls: number; points: number; frame: number; geometries: number; textures: number; bufferBytes: number };
const stats = () => page.evaluate(() => (window as unknown as { __vggtViewerStats: () => Stats }).__vggtViewerStats());

describe("viewer at scale", () => {
  let visible = 0;
  it("150 cameras and 20 M points: decimated to the budget, a handful of draw calls, bounded buffers", async () => {
    await page.locator("[data-testid=run-item] .run-select").first().click();
    const count = page.locator("[data-testid=point-count]");
    await count.waitFor({ timeout: 180_000 });
    const shown = Number(await count.getAttribute("data-total"));
    const budget = Number(await page.locator("[data-testid=point-budget]").inputValue());
    expect(shown).toBeLessThanOrEqual(budget * 1.01);
    expect(shown).toBeGreaterThan(budget * 0.9);
    expect(await count.textContent()).toContain(`decimated by confidence from ${formatCount(N)}`);
    await page.waitForTimeout(1500);
    const s = await stats();
    console.log(`150 frames, ${formatCount(N)} points: ${formatCount(shown)} shown, ${s.calls} draw calls, ${(s.bufferBytes / 2 ** 20).toFixed(1)} MiB of geometry`);
    // Points, camera outlines, camera thumbnails (two passes: transparent and double-sided): 4 draw
    // calls for 150 cameras (were 3 per camera).
    expect(s.calls).toBeLessThanOrEqual(4);
    expect(s.points).toBe(shown);
    // Per point: xyz + conf + frame (float32) + rgb (bytes); cameras: ~1 KiB each.
    expect(s.bufferBytes).toBeLessThan(shown * (12 + 4 + 4 + 3) + S * 1024);
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(5_000);
    visible = Number(await count.getAttribute("data-visible"));
    // Decimated by confidence: the upper half (by confidence) fills ~3/4 of the budget, and the 50%
    // threshold is still the full output's median, so the export writes about half of the 20 M.
    expect(visible / shown).toBeGreaterThan(0.7);
    expect(visible / shown).toBeLessThan(0.8);
    const exportText = (await page.locator("[data-testid=export-count]").textContent()) ?? "";
    const exported = Number(/about ([\d,]+) points/.exec(exportText)![1].replace(/,/g, ""));
    expect(exported / N).toBeGreaterThan(0.47);
    expect(exported / N).toBeLessThan(0.53);
    await screenshot(page, "scale-150-frames");
  }, 240_000);

  it("hiding a frame drops its points and keeps the draw calls", async () => {
    await page.locator("details:has(.frame-filter) > summary").dispatchEvent("click");
    const box = page.locator(".frame-filter input[type=checkbox]").nth(0);
    await box.dispatchEvent("click");
    await expect.poll(() => box.isChecked()).toBe(false);
    const count = page.locator("[data-testid=point-count]");
    await expect.poll(async () => Number(await count.getAttribute("data-visible"))).toBeLessThan(visible);
    const after = Number(await count.getAttribute("data-visible"));
    // One frame of 150: about 1/150 of the points, within sampling noise.
    expect((visible - after) / visible).toBeGreaterThan(0.3 / S);
    expect((visible - after) / visible).toBeLessThan(3 / S);
    await page.waitForTimeout(800);
    expect((await stats()).calls).toBeLessThanOrEqual(4);
    expect(pageErrors.slice(0, 3)).toEqual([]);
  }, 60_000);
});

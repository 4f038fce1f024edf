// A chunked run in the app (web mode, real engine, tiny golden model): a dropped video (made here by
// ffmpeg from the 4 sample views) sampled to 5 frames, run as 2 chunks of 3 frames sharing 1,
// shown in the viewer (colour by chunk too), exported as a COLMAP model that the real `colmap`
// reads back.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type App, canvasForegroundPixels, dropFiles, openApp, repoRoot, screenshot, type WebMode } from "./harness.js";

const colmap = spawnSync("colmap", ["help"], { encoding: "utf8" }).status === 0 ? "colmap" : null;

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
const folder = mkdtempSync(join(tmpdir(), "vggt-e2e-chunked-"));
const video = join(folder, "turn.mp4");

beforeAll(async () => {
  // 4 sample views, 2 per second, as 16 frames at 8 fps.
  execFileSync("ffmpeg", ["-v", "error", "-y", "-framerate", "2", "-pattern_type", "glob", "-i", join(repoRoot, "assets/sample/view-*.png"), "-vf", "fps=8", "-c:v", "libx264", "-pix_fmt", "yuv420p", video]);
  app = await openApp({ removeOnClose: [folder] });
  ({ web, page, pageErrors } = app);
}, 180_000);

afterAll(async () => {
  await app?.close();
});

describe("chunked reconstruction in the app", () => {
  it("runs a dropped video's frames in 2 chunks, reports each chunk's alignment and shows one merged cloud", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    await dropFiles(page, [video]);
    await page.locator("[data-testid=video-sampling]").waitFor({ timeout: 60_000 });
    await page.locator("[data-testid=video-sample-value]").fill("5");
    await page.locator("[data-testid=video-resample]").click();
    await page.locator("[data-testid=frame-count]").getByText("5 of 5 frames selected").waitFor({ timeout: 60_000 });
    await page.locator("[data-testid=chunk-toggle]").check();
    await page.locator("[data-testid=chunk-size]").fill("3");
    await page.locator("[data-testid=chunk-overlap]").fill("1");
    await page.locator("[data-testid=chunk-count]").getByText("2 chunks").waitFor();
    await page.locator("[data-testid=run-button]").click();
    // Progress names the chunk while it runs.
    await expect.poll(async () => (await page.locator("[data-testid=viewer-run-progress]").textContent().catch(() => "")) ?? "", { timeout: 120_000, interval: 250 }).toMatch(/chunk [12]\/2/);
    await page.locator("[data-testid=run-item][data-status=done]").waitFor({ timeout: 240_000 });
    const chunks = JSON.parse((await page.locator("[data-testid=run-chunks]").getAttribute("data-chunks"))!);
    expect(chunks.map((c: { frames: number[] }) => c.frames)).toEqual([
      [0, 2],
      [2, 4],
    ]);
    expect(chunks[0].residual).toBeNull();
    expect(chunks[1].scale).toBeGreaterThan(0);
    expect(chunks[1].relativeResidual).toBeGreaterThan(0);
    expect(chunks[1].relativeResidual).toBeLessThan(1);
    await page.locator("[data-testid=point-count]").waitFor({ timeout: 60_000 });
    // One cloud of all 5 frames, cameras included.
    const total = Number(await page.locator("[data-testid=point-count]").getAttribute("data-total"));
    expect(total).toBeGreaterThan(1000);
    await page.waitForTimeout(1500);
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(5_000);
    await screenshot(page, "chunked-cloud");
    await page.locator("[data-testid=color-by-chunk]").check();
    await page.waitForTimeout(1000);
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(5_000);
    await screenshot(page, "chunked-cloud-by-chunk");
  });

  it.skipIf(!colmap)("exports the merged result as a COLMAP model that colmap reads back with 5 images", async () => {
    await page.locator("[data-testid=export-format]").selectOption("colmap-bin");
    await page.locator("[data-testid=export-button]").click();
    const root = join(web.dataDir, "exports");
    await expect.poll(() => (existsSync(root) ? readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith("points3D.bin")).length : 0), { timeout: 180_000 }).toBe(1);
    const points = readdirSync(root, { recursive: true }).map(String).find((f) => f.endsWith("points3D.bin"))!;
    const model = join(root, points, "..");
    const r = spawnSync(colmap!, ["model_analyzer", "--path", model], { encoding: "utf8", timeout: 60_000 });
    const text = r.stdout + r.stderr;
    expect(r.status, text).toBe(0);
    expect(text).toMatch(/Images:\s+5/);
    expect(text).toMatch(/Registered images:\s+5/);
    expect(Number(/Points:\s+(\d+)/.exec(text)![1])).toBeGreaterThan(1000);
  });

  it("had no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

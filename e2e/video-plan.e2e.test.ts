// Web mode with the real engine: drop a small video (made here from the sample views), its frames
// appear, run, the viewer shows the result; then a selection too big for the (test-injected)
// memory limit shows the warning, and the one-click fit changes the run settings.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { allSet } from "../common/option-catalog.js";
import { dimsFromConfig, MEMORY_SHARE, processPeakBytes } from "../electron/services/runs/estimate.js";
import { largestChunk } from "../electron/services/runs/plan.js";
import { countParams } from "../electron/services/runs/workbench.js";
import { type App, canvasForegroundPixels, dropFiles, openApp, repoRoot, screenshot, tinyModel, type WebMode } from "./harness.js";

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
const folder = mkdtempSync(join(tmpdir(), "vggt-e2e-video-"));
const video = join(folder, "walk.mp4");

// The tiny model's plan: a memory limit that holds 4 frames of 518x350 with `all`'s switches, not 5.
const dims = dimsFromConfig(JSON.parse(readFileSync(join(tinyModel, "config.json"), "utf8")));
const params = countParams(join(tinyModel, "weights.safetensors"))!;
const peak = (n: number, w8a8 = false) => processPeakBytes(dims, params, { bf16: true, prepack: true, w8a8 }, n, 518, 350);
const limit = Math.floor((peak(4) + peak(5)) / 2 / MEMORY_SHARE);

beforeAll(async () => {
  // 4 sample views, 2 per second, as 16 frames at 8 fps.
  execFileSync("ffmpeg", ["-v", "error", "-y", "-framerate", "2", "-pattern_type", "glob", "-i", join(repoRoot, "assets/sample/view-*.png"), "-vf", "fps=8", "-c:v", "libx264", "-pix_fmt", "yuv420p", video]);
  app = await openApp({ env: { VGGT_MEMORY_LIMIT_BYTES: String(limit) }, removeOnClose: [folder] });
  ({ web, page, pageErrors } = app);
  await page.goto(web.url);
  await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
  // The plans below are for `all` (bf16), chosen by hand: the machine's calibrated default varies by CPU.
  await page.locator("[data-testid=preset-all]").click();
}, 180_000);

afterAll(async () => {
  await app?.close();
});

describe("video input and the plan before running", () => {
  it("a dropped video becomes frames (as many as fit the machine), runs, and the viewer shows it", async () => {
    await dropFiles(page, [video]);
    await page.locator("[data-testid=frame-count]").getByText("4 of 4 frames selected").waitFor({ timeout: 60_000 });
    expect(await page.locator("[data-testid=video-sampling]").textContent()).toMatch(/walk\.mp4: 4 of 16 frames \(2\.00\/s of 2\.0 s\)/);
    await expect.poll(() => page.locator("[data-testid=thumbs] img").count()).toBe(4);
    expect(await page.locator("[data-testid=thumbs]").textContent()).toContain("walk.mp4/frame_0001.jpg");
    expect(await page.locator("[data-testid=estimate]").textContent()).not.toMatch(/⚠/);
    await screenshot(page, "video-frames");
    await page.locator("[data-testid=run-button]").click();
    await page.locator("[data-testid=run-item] >> nth=0").and(page.locator("[data-status=done]")).waitFor({ timeout: 240_000 });
    await page.locator("[data-testid=point-count]").waitFor({ timeout: 60_000 });
    expect(Number(await page.locator("[data-testid=point-count]").getAttribute("data-total"))).toBeGreaterThan(10_000);
    await page.waitForTimeout(1000);
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(5_000);
    await screenshot(page, "video-point-cloud");
  }, 300_000);

  it("16 frames exceed the memory limit: a warning, and one click sets int8 and chunking that fit", async () => {
    await page.locator("[data-testid=video-sample-value]").fill("16");
    await page.locator("[data-testid=video-resample]").click();
    await page.locator("[data-testid=frame-count]").getByText("16 of 16 frames selected").waitFor({ timeout: 60_000 });
    const estimate = page.locator("[data-testid=estimate]");
    await estimate.getByText(/more than 80% of this machine's/).waitFor();
    const fit = page.locator("[data-testid=fit-suggestion]");
    const chunk = largestChunk({ frames: 16, width: 518, height: 350, preprocess: "crop", flags: allSet() }, { dims, params, rates: [], totalMemoryBytes: limit }, { ...allSet(), w8a8: true }, MEMORY_SHARE * limit)!;
    expect(peak(16, true)).toBeGreaterThan(MEMORY_SHARE * limit); // int8 alone is not enough
    expect(await fit.textContent()).toMatch(new RegExp(`int8 weights \\(w8a8\\), chunks of ${chunk.size} frames overlapping by ${chunk.overlap}`));
    expect(await page.locator("[data-testid=chunk-toggle]").isChecked()).toBe(false);
    await screenshot(page, "plan-too-big");
    await page.locator("[data-testid=apply-fit]").click();
    // The run settings changed: chunking shown, int8 on, and the plan now fits (no warning, no offer).
    await expect.poll(() => page.locator("[data-testid=chunk-size]").inputValue()).toBe(String(chunk.size));
    expect(await page.locator("[data-testid=chunk-overlap]").inputValue()).toBe(String(chunk.overlap));
    expect(await page.locator("[data-testid=chunk-toggle]").isChecked()).toBe(true);
    await expect.poll(async () => (await estimate.textContent()) ?? "").not.toMatch(/more than 80%/);
    expect(await page.locator("[data-testid=fit-suggestion]").count()).toBe(0);
    expect(await page.locator("[data-testid=estimate-chunks]").textContent()).toMatch(new RegExp(`in \\d+ chunks of ${chunk.size} frames`));
    const saved = JSON.parse((await page.evaluate(() => localStorage.getItem("vggt-engine-options"))) ?? "{}");
    expect(saved.w8a8).toBe(true);
    await screenshot(page, "plan-fitted");
    expect(pageErrors).toEqual([]);
  }, 120_000);
});

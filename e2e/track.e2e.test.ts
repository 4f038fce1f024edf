// Click-to-track and refine in web mode with the real engine and the tiny golden model that has a
// track head (tiny-track-2f: random weights, so tracks and refined cameras are meaningless; what is
// checked is that the app drives the real track head and COLMAP's bundle adjuster and shows what
// they return).
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type App, dropFiles, openApp, repoRoot, screenshot, tinyTrackModel, type WebMode } from "./harness.js";

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
const folder = mkdtempSync(join(tmpdir(), "vggt-e2e-track-"));

beforeAll(async () => {
  app = await openApp({ model: tinyTrackModel, removeOnClose: [folder] });
  ({ web, page, pageErrors } = app);
  copyFileSync(join(repoRoot, "assets/sample/view-1.png"), join(folder, "view-1.png"));
  copyFileSync(join(repoRoot, "assets/sample/view-2.png"), join(folder, "view-2.png"));
});

afterAll(async () => {
  await app?.close();
});

const marks = (frame: number) => page.locator(`[data-testid=track-frame][data-frame="${frame}"] [data-testid=track-mark]`);

describe("click-to-track and refine (web mode, real engine)", () => {
  it("runs two frames with the track-head model", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=model-state]").getByText("tiny-track-2f").waitFor();
    await dropFiles(page, [join(folder, "view-1.png"), join(folder, "view-2.png")]);
    await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
    await page.locator("[data-testid=run-button]").click();
    await page.locator("[data-testid=run-item][data-status=done]").waitFor({ timeout: 180_000 });
    await page.locator("[data-testid=track-panel]").waitFor();
    await expect.poll(() => page.locator("[data-testid=track-frame] img").count(), { timeout: 20_000 }).toBe(2);
  });

  it("a click on frame 0 shows the point's track on every frame with visibility and confidence (from the cached features)", async () => {
    const svg = page.locator("[data-testid=track-frame][data-frame='0'] svg");
    const box = (await svg.boundingBox())!;
    await svg.click({ position: { x: box.width * 0.5, y: box.height * 0.5 } });
    await expect.poll(() => marks(1).count(), { timeout: 180_000 }).toBe(1);
    expect(await marks(0).count()).toBe(1);
    // Frame 0's mark is where the click was (the track head returns the query itself on frame 0):
    // the sample is 518 px wide, the click at its centre.
    const c0 = page.locator("[data-testid=track-frame][data-frame='0'] [data-testid=track-mark] circle");
    const cx = Number(await c0.getAttribute("cx"));
    const cy = Number(await c0.getAttribute("cy"));
    const vb = (await svg.getAttribute("viewBox"))!.split(" ").map(Number);
    expect(Math.abs(cx - vb[2] / 2)).toBeLessThan(vb[2] / 100);
    expect(Math.abs(cy - vb[3] / 2)).toBeLessThan(vb[3] / 100);
    for (const f of [0, 1]) {
      const vis = Number(await marks(f).getAttribute("data-vis"));
      const conf = Number(await marks(f).getAttribute("data-conf"));
      expect(vis).toBeGreaterThan(0);
      expect(vis).toBeLessThan(1);
      expect(conf).toBeGreaterThan(0);
      expect(conf).toBeLessThan(1);
    }
    expect(await page.locator("[data-testid=track-table] tbody tr").count()).toBe(1);
    // The run left its track-head features in the engine: a frame-0 click runs the tracker only.
    expect(await page.locator("[data-testid=track-table] tbody tr").first().getAttribute("data-via")).toBe("cached-features");
    expect(await page.locator("[data-testid=track-table]").textContent()).toMatch(/0\.\d\d \/ 0\.\d\d/);
    await screenshot(page, "track-one");
  });

  it("tracks several points at once (a click on frame 1 too) and clears them all", async () => {
    const svg = page.locator("[data-testid=track-frame][data-frame='1'] svg");
    const box = (await svg.boundingBox())!;
    await svg.click({ position: { x: box.width * 0.3, y: box.height * 0.6 } });
    await expect.poll(() => marks(0).count(), { timeout: 180_000 }).toBe(2);
    expect(await marks(1).count()).toBe(2);
    expect(await page.locator("[data-testid=track-table] tbody tr").count()).toBe(2);
    // The track head queries frame 0 only: frame 1 first means a forward pass on reordered frames.
    expect(await page.locator("[data-testid=track-table] tbody tr").nth(1).getAttribute("data-via")).toBe("forward-pass");
    await screenshot(page, "track-two");
    await page.locator("[data-testid=clear-tracks]").click();
    await expect.poll(() => page.locator("[data-testid=track-mark]").count()).toBe(0);
  });

  it("refine makes a new run with refined cameras that shows and exports like any run", async () => {
    await page.getByLabel("refine query points").fill("512");
    await page.locator("[data-testid=refine-button]").click();
    await expect.poll(() => page.locator("[data-testid=run-item]").count()).toBe(2);
    const refined = page.locator("[data-testid=run-item]").filter({ hasText: "refined" });
    await refined.and(page.locator("[data-status=failed], [data-status=done]")).waitFor({ timeout: 240_000 });
    // A refusal (too few tracks) would be a failed run carrying the message; show it if so.
    expect(await refined.getAttribute("data-status"), (await refined.textContent()) ?? "").toBe("done");
    const id = await refined.locator(".run-select").getAttribute("title");
    await refined.locator(".run-select").click();
    // The 3-D view shows the refined run's own output.
    await page.locator(`[data-testid=viewer][data-cloud="${id}"]`).waitFor({ timeout: 60_000 });
    // The report: tracks kept, observations, mean reprojection error before -> after (pixels).
    const summary = (await page.locator("[data-testid=refine-summary]").textContent()) ?? "";
    const m = /(\d+) tracks, (\d+) observations, mean reprojection error ([\d.]+) → ([\d.]+) px/.exec(summary);
    expect(m, summary).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThanOrEqual(2 * Number(m![1]));
    // BA minimises the reprojection error the refine started from.
    expect(Number(m![4])).toBeLessThan(Number(m![3]));
    await screenshot(page, "refined-run");
    const download = page.waitForEvent("download");
    await page.locator("[data-testid=export-format]").selectOption("ply");
    await page.locator("[data-testid=export-button]").click();
    expect((await download).suggestedFilename()).toMatch(/\.ply$/);
  });

  it("had no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

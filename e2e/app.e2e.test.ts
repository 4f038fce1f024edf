// The user's path through web mode with the real engine: drop a folder (with a corrupt image
// and a text file), run, see the point cloud, filter by confidence, revisit a run, cancel a
// run, survive an engine crash. Each step leaves a screenshot in e2e/artifacts/.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type App, canvasForegroundPixels, descendantPids, dropFiles, openApp, processName, repoRoot, screenshot, setRange, type WebMode } from "./harness.js";

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
const folder = mkdtempSync(join(tmpdir(), "vggt-e2e-images-"));

beforeAll(async () => {
  app = await openApp({ removeOnClose: [folder] });
  ({ web, page, pageErrors } = app);
  // The dropped folder: two views of the bundled sample, a corrupt PNG and a text file.
  copyFileSync(join(repoRoot, "assets/sample/view-1.png"), join(folder, "view-1.png"));
  copyFileSync(join(repoRoot, "assets/sample/view-3.png"), join(folder, "view-3.png"));
  writeFileSync(join(folder, "corrupt.png"), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("garbage instead of chunks")]));
  writeFileSync(join(folder, "notes.txt"), "camera notes\n");
});

afterAll(async () => {
  await app?.close();
});

const runItems = () => page.locator("[data-testid=run-item]");

async function waitRunStatus(index: number, status: string, timeout = 180_000): Promise<void> {
  await page.locator(`[data-testid=run-item] >> nth=${index}`).and(page.locator(`[data-status=${status}]`)).waitFor({ timeout });
}

describe("web mode with the real engine", () => {
  it("starts with the model ready and a strict CSP", async () => {
    const res = await page.goto(web.url);
    expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
    await page.locator("[data-testid=model-state]").getByText("tiny-2f").waitFor();
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    // The token left the address bar.
    expect(page.url()).not.toContain("token=");
    await screenshot(page, "start");
  });

  it("drops a folder: good frames become thumbnails, bad files are listed with the reason", async () => {
    await dropFiles(page, ["view-1.png", "view-3.png", "corrupt.png", "notes.txt"].map((f) => join(folder, f)));
    await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
    const rejected = page.locator("[data-testid=rejected]");
    await rejected.getByText("corrupt.png").waitFor();
    expect(await rejected.textContent()).toMatch(/corrupt\.png: corrupt PNG/);
    expect(await rejected.textContent()).toMatch(/notes\.txt: not an image \(text file\)/);
    await expect.poll(() => page.locator("[data-testid=thumbs] img").count()).toBe(2);
    expect(await page.locator("[data-testid=thumbs]").textContent()).toContain("518×350");
    expect(await page.locator("[data-testid=estimate]").textContent()).toMatch(/2 frames at 518×350.*Expected/);
    await screenshot(page, "dropped-folder");
  });

  it("opens a folder through the folder picker (web mode uploads it)", async () => {
    // Start from an empty list so the result below can only come from the picker.
    await page.getByRole("button", { name: "Clear" }).click();
    await expect.poll(() => page.locator("[data-testid=frame-count]").count()).toBe(0);
    expect(await page.locator("[data-testid=rejected]").count()).toBe(0);
    await page.locator("[data-testid=folder-input]").setInputFiles(folder);
    await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
    await expect.poll(async () => (await page.locator("[data-testid=rejected]").textContent()) ?? "").toMatch(/2 files skipped/);
  });

  let firstVisible = 0;
  it("runs the reconstruction with progress and shows the point cloud", async () => {
    await page.locator("[data-testid=run-button]").click();
    await page.locator("[data-testid=run-progress]").waitFor();
    await page.locator("[data-testid=run-progress]").getByText(/ETA/).waitFor();
    await screenshot(page, "running");
    await waitRunStatus(0, "done");
    await page.locator("[data-testid=point-count]").waitFor({ timeout: 60_000 });
    await page.waitForTimeout(1500); // a few frames rendered
    firstVisible = Number(await page.locator("[data-testid=point-count]").getAttribute("data-visible"));
    const total = Number(await page.locator("[data-testid=point-count]").getAttribute("data-total"));
    expect(total).toBeGreaterThan(10_000);
    // Default threshold is the 50th percentile of all points: about half of them pass. Over the
    // budget the view shows a sample decimated by confidence (the upper half over-represented), so
    // in the view it is more than half; the export count is the full output's.
    expect(firstVisible / total).toBeGreaterThan(0.4);
    expect(firstVisible / total).toBeLessThan(0.8);
    const all = Number((/from ([\d,]+)/.exec((await page.locator("[data-testid=point-count]").textContent()) ?? "")?.[1] ?? String(total)).replace(/,/g, ""));
    const exported = Number(/writes (?:about )?([\d,]+) points/.exec((await page.locator("[data-testid=export-count]").textContent()) ?? "")![1].replace(/,/g, ""));
    expect(exported / all).toBeGreaterThan(0.45);
    expect(exported / all).toBeLessThan(0.55);
    const pixels = await canvasForegroundPixels(page);
    // The cloud (and frustums) cover a visible part of the 1280x800 canvas, not a few stray pixels.
    expect(pixels).toBeGreaterThan(5_000);
    await screenshot(page, "point-cloud");
  });

  it("moving the confidence slider changes the point count and the picture", async () => {
    const before = await canvasForegroundPixels(page);
    await setRange(page, "conf-slider", 95);
    await expect.poll(async () => Number(await page.locator("[data-testid=point-count]").getAttribute("data-visible"))).toBeLessThan(firstVisible * 0.2);
    await page.waitForTimeout(800);
    const after = await canvasForegroundPixels(page);
    expect(after).toBeLessThan(before);
    await screenshot(page, "confidence-95");
    await setRange(page, "conf-slider", 0);
    await expect.poll(async () => Number(await page.locator("[data-testid=point-count]").getAttribute("data-visible"))).toBeGreaterThan(firstVisible);
    await page.waitForTimeout(800);
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(after);
    await screenshot(page, "confidence-0");
  });

  it("switches to the depth branch, looks through a camera, resets and saves a screenshot", async () => {
    await page.locator("[data-testid=branch-select]").selectOption("depth");
    await page.locator("[data-testid=point-count]").waitFor();
    await page.getByTitle("Look through this camera").first().click({ force: true });
    await page.waitForTimeout(800);
    await screenshot(page, "through-camera-1");
    await page.locator("[data-testid=reset-view]").click();
    const download = page.waitForEvent("download");
    await page.locator("[data-testid=screenshot]").click();
    const d = await download;
    expect(d.suggestedFilename()).toMatch(/^vggt-.*\.png$/);
    const saved = join(repoRoot, "e2e", "artifacts", "viewer-screenshot.png");
    await d.saveAs(saved);
  });

  it("cancels a run", async () => {
    await page.locator("[data-testid=load-sample]").click();
    await page.locator("[data-testid=frame-count]").getByText("4 of 4 frames selected").waitFor();
    await page.locator("[data-testid=run-button]").click();
    await expect.poll(() => runItems().count()).toBe(2);
    await page.locator("[data-testid=run-progress]").getByText(/encoder|aggregator/).waitFor({ timeout: 60_000 });
    await page.locator("[data-testid=cancel-button]").click();
    await waitRunStatus(0, "cancelled", 60_000);
    await screenshot(page, "cancelled");
  });

  it("shows an earlier run again without recomputing", async () => {
    await runItems().nth(1).locator(".run-select").click();
    await page.locator("[data-testid=point-count]").waitFor();
    expect(await runItems().count()).toBe(2);
    expect(await page.locator("[data-testid=run-progress]").count()).toBe(0);
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(5_000);
  });

  it("reports an engine crash, restarts the engine, and runs again", async () => {
    await page.locator("[data-testid=run-button]").click();
    await page.locator("[data-testid=run-progress]").getByText(/encoder|aggregator/).waitFor({ timeout: 60_000 });
    const engines = descendantPids(web.proc.pid!).filter((p) => processName(p) === "vggt-engine");
    expect(engines).toHaveLength(1);
    process.kill(engines[0], "SIGKILL");
    await waitRunStatus(0, "failed", 60_000);
    expect(await runItems().first().textContent()).toMatch(/engine crashed/);
    await screenshot(page, "engine-crashed");
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    const restarted = descendantPids(web.proc.pid!).filter((p) => processName(p) === "vggt-engine");
    expect(restarted).toHaveLength(1);
    expect(restarted[0]).not.toBe(engines[0]);
    // The restarted engine works: the sample run completes.
    await page.locator("[data-testid=run-button]").click();
    await expect.poll(() => runItems().count()).toBe(4);
    await waitRunStatus(0, "done");
    await page.locator("[data-testid=point-count]").waitFor({ timeout: 60_000 });
    await screenshot(page, "after-restart");
  });

  it("exports the run as PLY from the viewer", async () => {
    await page.locator("[data-testid=export-format]").selectOption("ply");
    const download = page.waitForEvent("download");
    await page.locator("[data-testid=export-button]").click();
    const d = await download;
    expect(d.suggestedFilename()).toMatch(/points\.ply$/);
    const file = join(repoRoot, "e2e", "artifacts", "export.ply");
    await d.saveAs(file);
    expect(readFileSync(file).subarray(0, 3).toString()).toBe("ply");
  });

  it("had no page errors (CSP violations included)", () => {
    expect(pageErrors).toEqual([]);
  });
});

// The 3-D viewer with the real engine's output: it leaves the CPU alone while nothing changes.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  browserPids,
  buildRenderer,
  canvasForegroundPixels,
  cpuSeconds,
  dropFiles,
  openPage,
  preflight,
  repoRoot,
  screenshot,
  startWebMode,
  type WebMode,
} from "./harness.js";

const { engine } = preflight();

let web: WebMode;
let browser: BrowserContext;
let profile: string;
let page: Page;
let pageErrors: string[] = [];
const folder = mkdtempSync(join(tmpdir(), "vggt-e2e-viewer-"));

beforeAll(async () => {
  await buildRenderer();
  web = await startWebMode(engine);
  ({ context: browser, profile, page, pageErrors } = await openPage());
  copyFileSync(join(repoRoot, "assets/sample/view-1.png"), join(folder, "view-1.png"));
  copyFileSync(join(repoRoot, "assets/sample/view-3.png"), join(folder, "view-3.png"));
});

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  rmSync(folder, { recursive: true, force: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** CPU seconds the whole browser (renderer, GPU and browser processes) uses over `ms`. */
async function browserCpuOver(ms: number): Promise<number> {
  const pids = browserPids();
  expect(pids.length).toBeGreaterThan(0);
  const before = cpuSeconds(pids);
  await page.waitForTimeout(ms);
  return cpuSeconds(pids) - before;
}

describe("the 3-D viewer", () => {
  it("shows a reconstruction", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    await dropFiles(page, [join(folder, "view-1.png"), join(folder, "view-3.png")]);
    await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
    await page.locator("[data-testid=run-button]").click();
    await page.locator("[data-testid=run-item][data-status=done]").waitFor({ timeout: 180_000 });
    await page.locator("[data-testid=point-count]").waitFor({ timeout: 60_000 });
    await page.waitForTimeout(1500);
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(5_000);
    await screenshot(page, "viewer-cloud");
  });

  it("uses almost no CPU while idle with a point cloud shown", async () => {
    // Software WebGL redrawing 1280x800 every frame takes about a whole core; a viewer drawn on
    // demand only wakes for input. 5% of one core leaves room for the browser's own timers.
    const idle = await browserCpuOver(4000);
    console.log(`browser CPU while idle: ${idle.toFixed(2)} s over 4 s`);
    expect(idle).toBeLessThan(0.05 * 4);
    // Still drawn: the picture survived the idle time (preserved drawing buffer, no blank frame).
    expect(await canvasForegroundPixels(page)).toBeGreaterThan(5_000);
  });

  it("redraws on input: orbiting changes the picture", async () => {
    const box = (await page.locator("[data-testid=viewer-canvas-host] canvas").boundingBox())!;
    const before = await page.locator("[data-testid=viewer-canvas-host] canvas").screenshot();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 200, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    await page.waitForTimeout(500);
    const after = await page.locator("[data-testid=viewer-canvas-host] canvas").screenshot();
    expect(after.equals(before)).toBe(false);
  });

  it("had no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

// The 3-D viewer with the real engine's output: it leaves the CPU alone while nothing changes.
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { formatCount } from "../renderer/src/format.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type App, browserPids, canvasForeground, canvasForegroundPixels, cpuSeconds, dropFiles, openApp, repoRoot, screenshot, setRange, type WebMode } from "./harness.js";

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
const folder = mkdtempSync(join(tmpdir(), "vggt-e2e-viewer-"));

beforeAll(async () => {
  app = await openApp({ removeOnClose: [folder] });
  ({ web, page, pageErrors } = app);
  copyFileSync(join(repoRoot, "assets/sample/view-1.png"), join(folder, "view-1.png"));
  copyFileSync(join(repoRoot, "assets/sample/view-3.png"), join(folder, "view-3.png"));
});

afterAll(async () => {
  await app?.close();
});

/** CPU seconds the whole browser (renderer, GPU and browser processes) uses over `ms`. */
async function browserCpuOver(ms: number): Promise<number> {
  const pids = browserPids();
  expect(pids.length).toBeGreaterThan(0);
  const before = cpuSeconds(pids);
  await page.waitForTimeout(ms);
  return cpuSeconds(pids) - before;
}

/** Vertex count and xyz bounds of our binary PLY (x y z float, r g b uchar, confidence float). */
function readPly(buf: Buffer): { count: number; min: number[]; max: number[] } {
  const end = buf.indexOf("end_header\n") + "end_header\n".length;
  const header = buf.subarray(0, end).toString("latin1");
  expect(header).toMatch(/format binary_little_endian 1\.0/);
  expect(header).toMatch(/property float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nproperty float confidence\n/);
  const count = Number(/element vertex (\d+)/.exec(header)![1]);
  const stride = 12 + 3 + 4;
  expect(buf.length - end).toBe(count * stride);
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let k = 0; k < count; k++)
    for (let a = 0; a < 3; a++) {
      const v = buf.readFloatLE(end + k * stride + 4 * a);
      min[a] = Math.min(min[a], v);
      max[a] = Math.max(max[a], v);
    }
  return { count, min, max };
}

describe("the 3-D viewer", () => {
  it("shows a reconstruction", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    await dropFiles(page, [join(folder, "view-1.png"), join(folder, "view-3.png")]);
    await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
    await page.locator("[data-testid=run-button]").click();
    // The run's progress sits in the main area while the run has no cloud yet.
    const progress = page.locator("[data-testid=viewer-run-progress]");
    await progress.waitFor({ timeout: 60_000 }).catch(async (e) => {
      // A run faster than the first poll is done already; anything else is a failure.
      if ((await page.locator("[data-testid=run-item][data-status=done]").count()) === 0) throw e;
    });
    if (await progress.count()) expect(await progress.textContent()).toMatch(/\d+% · elapsed .* · ETA/);
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

  it("frames points and cameras clear of the controls panel", async () => {
    await page.locator("[data-testid=reset-view]").click();
    await page.waitForTimeout(500);
    const panel = (await page.locator("[data-testid=viewer-controls]").boundingBox())!;
    const canvas = (await page.locator("[data-testid=viewer-canvas-host] canvas").boundingBox())!;
    const { total, inRect: underPanel } = await canvasForeground(page, { x: panel.x - canvas.x, y: panel.y - canvas.y, width: panel.width, height: panel.height });
    expect(total).toBeGreaterThan(5_000);
    // The robust bounds leave out the farthest tenth of the points: a few may reach under the panel.
    expect(underPanel / total).toBeLessThan(0.02);
    await screenshot(page, "viewer-framed");
  });

  it("keeps the view across branch switches when the points stay in place", async () => {
    const before = await canvasForeground(page);
    // The default is the depth branch (the official demo's).
    expect(await page.locator("[data-testid=viewer]").getAttribute("data-branch")).toBe("depth");
    await page.locator("[data-testid=branch-select]").selectOption("pointmap");
    await expect.poll(() => page.locator("[data-testid=viewer]").getAttribute("data-branch"), { timeout: 30_000 }).toBe("pointmap");
    await page.waitForTimeout(800);
    await screenshot(page, "viewer-pointmap-branch");
    // The tiny test model's pointmap lies elsewhere than its depth points; back on the depth
    // branch the view is the framed one again, not a blank canvas.
    await page.locator("[data-testid=branch-select]").selectOption("depth");
    await expect.poll(() => page.locator("[data-testid=viewer]").getAttribute("data-branch"), { timeout: 30_000 }).toBe("depth");
    await page.waitForTimeout(800);
    const after = await canvasForeground(page);
    expect(after.total).toBeGreaterThan(before.total * 0.8);
    expect(after.total).toBeLessThan(before.total * 1.25);
  });

  it("exports what the view selects: a hidden frame and the slider apply, count and bounds match", async () => {
    // Every point in the view (no decimation), so the view's numbers are the export's exactly.
    await page.locator("[data-testid=point-budget]").selectOption("1000000");
    await expect.poll(() => page.locator("[data-testid=export-button]").getAttribute("data-exact"), { timeout: 60_000 }).toBe("true");
    await page.locator(".viewer-controls summary").click();
    await page.locator(".frame-filter input[type=checkbox]").nth(1).uncheck();
    await setRange(page, "conf-slider", 70);
    const button = page.locator("[data-testid=export-button]");
    await expect.poll(() => page.locator("[data-testid=point-count]").getAttribute("data-visible")).toBe(await button.getAttribute("data-count"));
    const shown = Number(await button.getAttribute("data-count"));
    const total = Number(await page.locator("[data-testid=point-count]").getAttribute("data-total"));
    // One of two frames, top 30 % of its confidences: about 15 % of all points.
    expect(shown / total).toBeGreaterThan(0.1);
    expect(shown / total).toBeLessThan(0.2);
    expect(await page.locator("[data-testid=export-count]").textContent()).toBe(`The export writes ${formatCount(shown)} points.`);
    const bounds = JSON.parse((await page.locator("[data-testid=point-count]").getAttribute("data-bounds"))!);

    await page.locator("[data-testid=export-format]").selectOption("ply");
    const download = page.waitForEvent("download");
    await button.click();
    const file = join(folder, "export.ply");
    await (await download).saveAs(file);
    const ply = readPly(readFileSync(file));
    expect(ply.count).toBe(shown);
    for (let a = 0; a < 3; a++) {
      expect(ply.min[a]).toBeCloseTo(bounds.min[a], 5);
      expect(ply.max[a]).toBeCloseTo(bounds.max[a], 5);
    }

    // The GLB download holds the same points and one frustum per shown frame.
    await page.locator("[data-testid=export-format]").selectOption("glb");
    const glbDownload = page.waitForEvent("download");
    await button.click();
    const glbFile = join(folder, "scene.glb");
    await (await glbDownload).saveAs(glbFile);
    const glb = readFileSync(glbFile);
    expect(glb.readUInt32LE(0)).toBe(0x46546c67); // "glTF"
    const json = JSON.parse(glb.subarray(20, 20 + glb.readUInt32LE(12)).toString("utf8"));
    const meshes = json.meshes.map((m: any) => ({ mode: m.primitives[0].mode, count: json.accessors[m.primitives[0].attributes.POSITION].count }));
    expect(meshes.filter((m: any) => m.mode === 0)).toEqual([{ mode: 0, count: shown }]);
    expect(meshes.filter((m: any) => m.mode === 1)).toHaveLength(1);
  });

  it("had no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

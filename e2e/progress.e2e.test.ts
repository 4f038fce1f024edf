// Progress where the eye is (web mode, real engine): the main area shows the job's stage, percentage,
// elapsed time and ETA with a clock that ticks between the engine's events, for a reconstruction run
// and for a benchmark; after a finished run the next estimate comes from the per-stage rates measured.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type App, openApp, screenshot, type WebMode } from "./harness.js";

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  app = await openApp();
  ({ web, page, pageErrors } = app);
}, 240_000);

afterAll(async () => {
  await app?.close();
});

const LINE = /^\d{1,3}% · elapsed (<1 s|\d+ s|\d+ min) · ETA (<1 s|\d+ s|\d+ min|\d+\.\d h)$/;

/** The element's data-elapsed, read twice `ms` apart. */
async function ticks(page: Page, testId: string, ms: number): Promise<[number, number]> {
  const el = page.locator(`[data-testid=${testId}]`);
  const a = Number(await el.getAttribute("data-elapsed"));
  await page.waitForTimeout(ms);
  const b = Number(await el.getAttribute("data-elapsed"));
  return [a, b];
}

describe("progress in the main area", () => {
  it("after a run, the estimate comes from the per-stage rates measured on it", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    // The run and the estimate after it must use the same switches: wait for this machine's
    // default (a run clicked while it is measured starts exact, and the default may differ).
    await page.locator("[data-testid=default-preset][data-state=ready]").waitFor({ timeout: 180_000 });
    await page.locator("[data-testid=load-sample]").click();
    await page.locator("[data-testid=frame-count]").getByText("4 of 4 frames selected").waitFor();
    expect(await page.locator("[data-testid=estimate-basis]").textContent()).toMatch(/default throughput/);
    await page.locator("[data-testid=run-button]").click();
    await page.locator("[data-testid=run-item][data-status=done]").waitFor({ timeout: 180_000 });
    // Any change of the selection asks for a new estimate.
    await page.locator("[data-testid=load-sample]").click();
    await expect.poll(() => page.locator("[data-testid=estimate-basis]").textContent(), { timeout: 30_000 }).toMatch(/^per-stage rates measured on earlier runs and benchmarks on this machine \(.*aggregator.*\)$/);
  }, 240_000);

  it("a run: stage, percentage, elapsed and ETA in the main area, the clock ticking", async () => {
    // The full VGGT-1B architecture (random weights): long enough to watch.
    await page.locator("[data-testid=benchmark-toggle]").check();
    await page.locator("[data-testid=run-button]").click();
    const main = page.locator("[data-testid=viewer-run-progress]");
    await main.waitFor({ timeout: 60_000 });
    const [a, b] = await ticks(page, "viewer-run-progress", 3500);
    expect(b - a).toBeGreaterThanOrEqual(2);
    expect(await main.locator(".hint").textContent()).toMatch(LINE);
    expect(await main.locator(".grow").textContent()).toMatch(/ — (starting|queued|load|read_input|encoder|aggregator|waiting for)/);
    await screenshot(page, "progress-run");
    await page.locator("[data-testid=cancel-button]").first().click();
    await page.locator("[data-testid=run-item][data-status=cancelled]").waitFor({ timeout: 120_000 });
  }, 240_000);

  it("a benchmark: stage, percentage, elapsed and ETA in the main area, the clock ticking", async () => {
    // The tiny model on the 4 sample frames, many repeats: long enough to watch, light on memory.
    await page.locator("[data-testid=benchmark-toggle]").uncheck();
    await page.locator("[data-testid=tab-perf]").click();
    await page.locator("[data-testid=bench-kind-ab]").check();
    await page.locator("[data-testid=bench-repeats]").fill("20");
    await page.locator("[data-testid=bench-run]").click();
    const main = page.locator("[data-testid=bench-running]");
    await main.waitFor({ timeout: 60_000 });
    await expect.poll(() => page.locator("[data-testid=bench-stage]").textContent(), { timeout: 60_000 }).toMatch(/^(A|B) run \d+\/20$/);
    const [a, b] = await ticks(page, "bench-running", 3500);
    expect(b - a).toBeGreaterThanOrEqual(2);
    expect(await page.locator("[data-testid=bench-eta]").textContent()).toMatch(LINE);
    expect(await page.locator("[data-testid=bench-eta]").textContent()).not.toMatch(/ETA –/);
    await screenshot(page, "progress-benchmark");
    await page.locator("[data-testid=bench-cancel]").click();
    await page.locator("[data-testid=bench-item][data-status=cancelled]").waitFor({ timeout: 60_000 });
  }, 240_000);

  it("had no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

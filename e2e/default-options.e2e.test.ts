// The default option set per machine, in web mode with the real engine: a fresh profile (new data
// folder, new browser profile) calibrates this machine once, the Reconstruct panel names the chosen
// default and why, the exact set is one click away, a reload reads the cached calibration instead
// of measuring again, and "re-measure" measures again.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { isExact, PRESET_LABELS, presetSet, type PresetId } from "../common/option-catalog.js";
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

const block = () => page.locator("[data-testid=default-preset]");
const summary = async () => (await page.locator("[data-testid=options-summary]").textContent()) ?? "";

function cached(): { file: string; chosen: { preset: PresetId; reason: string }; measuredAt: string } {
  const dir = join(web.dataDir, "calibration");
  const ids = readdirSync(dir);
  expect(ids).toHaveLength(1);
  const file = join(dir, ids[0], "calibration.json");
  return { file, ...JSON.parse(readFileSync(file, "utf8")) };
}

describe("default option set per machine (web mode, real engine)", () => {
  it("a fresh profile calibrates, and the Reconstruct panel shows the chosen default with its reason", async () => {
    await page.goto(web.url);
    // Calibration takes a few seconds of the machine (longer when it is shared).
    await page.locator("[data-testid=default-preset][data-state=ready]").waitFor({ timeout: 180_000 });
    const cal = cached();
    expect(["fastest-exact", "all", "fastest-int8", "int8-fp32"]).toContain(cal.chosen.preset);
    expect(await block().getAttribute("data-preset")).toBe(cal.chosen.preset);
    const label = PRESET_LABELS[cal.chosen.preset];
    const why = (await page.locator("[data-testid=default-preset-why]").textContent()) ?? "";
    expect(why).toContain(`Default on this machine: ${label}`);
    expect(why).toContain(cal.chosen.reason);
    expect(why).toMatch(/fastest inside the official bf16 accuracy bound on this CPU: .* is \d+\.\d\dx faster than exact here|no set inside the official bf16 accuracy bound is at least 1\.05x faster/);
    // New runs start from it.
    expect(await summary()).toContain(`Preset: ${label}`);
    expect(await summary()).toContain(isExact(presetSet(cal.chosen.preset)) ? "fp32-exact outputs" : "lossy");
    await screenshot(page, "default-options");
  }, 240_000);

  it("the exact set is one click away, and the machine's default one click back", async () => {
    const defaultPreset = (await block().getAttribute("data-preset")) as PresetId;
    // From any other set (the default may itself be the exact one on a machine where nothing beats it).
    if (defaultPreset === "fastest-exact") await page.locator("[data-testid=preset-reference]").click();
    await page.locator("[data-testid=use-exact]").click();
    expect(await summary()).toMatch(/Preset: Fastest exact.*fp32-exact outputs/);
    expect(await page.locator("[data-testid=use-exact]").count()).toBe(0);
    await page.locator("[data-testid=use-default]").click();
    expect(await summary()).toContain(`Preset: ${PRESET_LABELS[defaultPreset]}`);
    expect(await page.locator("[data-testid=use-default]").count()).toBe(0);
  });

  it("a reload reads the cached calibration; re-measure measures again", async () => {
    const before = cached();
    const mtime = statSync(before.file).mtimeMs;
    await page.reload();
    await page.locator("[data-testid=default-preset][data-state=ready]").waitFor({ timeout: 30_000 });
    expect(await block().getAttribute("data-preset")).toBe(before.chosen.preset);
    expect(statSync(before.file).mtimeMs).toBe(mtime);
    expect(cached().measuredAt).toBe(before.measuredAt);

    await page.locator("[data-testid=remeasure-default]").click();
    await page.locator("[data-testid=remeasure-default]").getByText("re-measure", { exact: true }).waitFor({ timeout: 180_000 });
    await page.locator("[data-testid=default-preset][data-state=ready]").waitFor({ timeout: 10_000 });
    const after = cached();
    expect(after.measuredAt > before.measuredAt).toBe(true);
    expect(await block().getAttribute("data-preset")).toBe(after.chosen.preset);
    expect(pageErrors).toEqual([]);
  }, 240_000);
});

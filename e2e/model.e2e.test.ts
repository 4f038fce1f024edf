// Getting a model from inside the app in web mode: the banner's path field takes a checkpoint file
// or a folder on the server; a wrong path gets a message naming it; a good one makes runs possible.
import { dirname, join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type App, openApp, screenshot, tinyModel, type WebMode } from "./harness.js";

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  // The operator lets the browser choose models in the goldens folder (web mode reads nothing else).
  app = await openApp({ model: null, args: ["--model-root", dirname(tinyModel)] });
  ({ web, page, pageErrors } = app);
});

afterAll(async () => {
  await app?.close();
});

describe("the model from inside the app (web mode)", () => {
  it("starts without a model and says how to get one", async () => {
    await page.goto(web.url);
    const banner = page.locator("[data-testid=no-model]");
    await banner.waitFor({ timeout: 60_000 });
    const hint = (await page.locator("[data-testid=no-model-hint]").textContent()) ?? "";
    expect(hint).toMatch(/vggt-workbench model download/);
    expect(hint).toMatch(/model\.safetensors or model\.pt/);
    expect(hint).not.toMatch(/No model is installed/);
    await screenshot(page, "model-none");
  });

  it("a path outside the model folders web mode may read: refused, naming the path and where models can be", async () => {
    await page.locator("[data-testid=model-path]").fill("/etc/passwd");
    await page.locator("[data-testid=use-model]").click();
    await expect.poll(() => page.locator("[data-testid=notices]").textContent()).toContain(`/etc/passwd: not accessible in web mode; models can be chosen inside ${dirname(tinyModel)}`);
    expect(await page.locator("[data-testid=no-model]").count()).toBe(1);
  });

  it("a path that does not exist inside a model folder: the message names it", async () => {
    const missing = join(dirname(tinyModel), "no-such-model.safetensors");
    await page.locator("[data-testid=model-path]").fill(missing);
    await page.locator("[data-testid=use-model]").click();
    await expect.poll(() => page.locator("[data-testid=notices]").textContent()).toContain(`${missing}: no such file or folder.`);
    expect(await page.locator("[data-testid=no-model]").count()).toBe(1);
  });

  it("a model folder: ready, and the run button reconstructs with it", async () => {
    await page.locator("[data-testid=model-path]").fill(tinyModel);
    await page.locator("[data-testid=use-model]").click();
    await page.locator("[data-testid=model-state]").getByText("tiny-2f").waitFor();
    expect(await page.locator("[data-testid=no-model]").count()).toBe(0);
    expect(await page.locator("[data-testid=random-banner]").count()).toBe(0);
    await page.locator("[data-testid=load-sample]").click();
    await page.locator("[data-testid=frame-count]").getByText("4 of 4 frames selected").waitFor();
    expect(await page.locator("[data-testid=run-button]").textContent()).toBe("Reconstruct");
    await screenshot(page, "model-ready");
  });

  it("had no page errors but the two refused paths' HTTP 400s", () => {
    expect(pageErrors).toEqual(Array(2).fill("Failed to load resource: the server responded with a status of 400 (Bad Request)"));
  });
});

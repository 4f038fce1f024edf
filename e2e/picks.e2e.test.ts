// Every folder pick and drop gets an answer in web mode: an empty folder, a folder without images,
// the official demo's scene layout (images/ inside the picked folder: used, and said so). A pick
// that yields nothing keeps the previous selection.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type App, dropFiles, openApp, repoRoot, screenshot, type WebMode } from "./harness.js";

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
const root = mkdtempSync(join(tmpdir(), "vggt-e2e-picks-"));
const sample = (n: number) => join(repoRoot, "assets/sample", `view-${n}.png`);

beforeAll(async () => {
  app = await openApp({ removeOnClose: [root] });
  ({ web, page, pageErrors } = app);
  mkdirSync(join(root, "empty"));
  mkdirSync(join(root, "text-only"));
  writeFileSync(join(root, "text-only", "notes.txt"), "camera notes\n");
  mkdirSync(join(root, "scene", "images"), { recursive: true });
  mkdirSync(join(root, "scene", "sparse"), { recursive: true });
  writeFileSync(join(root, "scene", "README.txt"), "a scene in the official demo's layout\n");
  writeFileSync(join(root, "scene", "sparse", "points.txt"), "0 0 0\n");
  copyFileSync(sample(2), join(root, "scene", "images", "view-2.png"));
  copyFileSync(sample(4), join(root, "scene", "images", "view-4.png"));
});

afterAll(async () => {
  await app?.close();
});

const frameCount = () => page.locator("[data-testid=frame-count]").textContent();
const thumbNames = () => page.locator("[data-testid=thumbs] .thumb-name").allTextContents();
const notices = () => page.locator("[data-testid=notices]").textContent();

async function dismissNotices(): Promise<void> {
  for (const b of await page.locator("[data-testid=notices] button[aria-label=Dismiss]").all()) await b.click();
  await expect.poll(() => page.locator("[data-testid=notices] .notice").count()).toBe(0);
}

describe("every pick gets an answer", () => {
  it("starts with two dropped frames", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    await dropFiles(page, [sample(1), sample(3)]);
    await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
    expect(await thumbNames()).toEqual(["view-1.png", "view-3.png"]);
  });

  it("an empty folder from the picker: a message, the selection kept", async () => {
    await page.locator("[data-testid=folder-input]").setInputFiles(join(root, "empty"));
    await expect.poll(notices).toMatch(/No files in the chosen folder \(an empty folder\?\)\. The previous selection is kept\./);
    expect(await frameCount()).toBe("2 of 2 frames selected");
    expect(await thumbNames()).toEqual(["view-1.png", "view-3.png"]);
    await screenshot(page, "pick-empty-folder");
    await dismissNotices();
  });

  it("a folder without images: each file's reason, the selection kept", async () => {
    await page.locator("[data-testid=folder-input]").setInputFiles(join(root, "text-only"));
    await expect.poll(notices).toMatch(/No usable images in the chosen folder: notes\.txt: not an image \(text file\)\. The previous selection is kept\./);
    expect(await thumbNames()).toEqual(["view-1.png", "view-3.png"]);
    await dismissNotices();
  });

  it("the demo's scene layout from the picker: images/ is used, and the app says so", async () => {
    await page.locator("[data-testid=folder-input]").setInputFiles(join(root, "scene"));
    await expect.poll(thumbNames).toEqual(["view-2.png", "view-4.png"]);
    expect(await frameCount()).toBe("2 of 2 frames selected");
    expect(await notices()).toMatch(/“scene” holds no images of its own: using its images\/ subfolder/);
    // Nothing from beside images/ was taken or reported.
    expect(await page.locator("[data-testid=rejected]").count()).toBe(0);
    await screenshot(page, "pick-scene-layout");
    await dismissNotices();
  });

  it("a dropped file that is not an image: its reason, the selection kept", async () => {
    // Script drops carry files only (no folder entries); dropped folders share the picker's folder
    // rule (common/scene-folder.ts, unit-tested).
    await dropFiles(page, [join(root, "text-only", "notes.txt")]);
    await expect.poll(notices).toMatch(/No usable images in the dropped items: notes\.txt: not an image \(text file\)\. The previous selection is kept\./);
    expect(await thumbNames()).toEqual(["view-2.png", "view-4.png"]);
  });

  it("had no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

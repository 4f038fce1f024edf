// The model from inside the app, web mode, real engine: "Download VGGT-1B" from a local hub
// (model-manager/hub-test-server.ts, `npm run web -- --hub-url`) serving a small checkpoint and its
// config. A corrupted download fails verification with a clear message and installs nothing;
// then the real one: progress, Pause, Resume (an HTTP Range request), verify, convert for the chosen
// options, and a run with the model.
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { HubTestServer } from "../electron/services/model-manager/hub-test-server.js";
import { type App, openApp, screenshot, tinyModel, type WebMode } from "./harness.js";

const REPO = "facebook/VGGT-1B";
const COMMIT = "e".repeat(40);
// The hub serves the tiny golden model's weights and config (read from ../shared, never copied): a
// small checkpoint whose forward pass gives finite geometry the viewer can show.
const weights = readFileSync(join(tinyModel, "weights.safetensors"));
const config = readFileSync(join(tinyModel, "config.json"));

let hub: HubTestServer;
let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
let home: string;

const hubCache = () => join(home, "hub");
const repoDir = () => join(hubCache(), "models--facebook--VGGT-1B");
const figures = () => page.locator("[data-testid=model-install-figures]").textContent();
const phase = () => page.locator("[data-testid=model-install]").getAttribute("data-phase");

beforeAll(async () => {
  hub = new HubTestServer();
  await hub.start();
  // Published hash of other bytes: what a corrupted transfer or a tampered mirror looks like.
  hub.addFile(REPO, "main", "model.safetensors", { data: weights, commit: COMMIT, publishedSha256: "0".repeat(64) });
  hub.addFile(REPO, "main", "config.json", { data: config, commit: COMMIT });
  home = mkdtempSync(join(tmpdir(), "vggt-e2e-model-home-"));
  app = await openApp({
    model: null,
    args: ["--hub-url", hub.hubUrl],
    // A private model cache, converted cache and token-free environment (never the developer's).
    env: { HF_HUB_CACHE: hubCache(), VGGT_WORKBENCH_CACHE: join(home, "cache"), VGGT_WORKBENCH_DATA: join(home, "data"), HF_TOKEN: "", HF_ENDPOINT: "", HF_HUB_OFFLINE: "" },
    removeOnClose: [home],
  });
  ({ web, page, pageErrors } = app);
}, 240_000);

afterAll(async () => {
  await app?.close();
  await hub?.stop();
});

describe("Download VGGT-1B from the Model panel (web mode, local hub)", () => {
  it("a corrupted download fails verification with a clear message; nothing is installed", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=no-model]").waitFor({ timeout: 60_000 });
    // `all` (bf16) chosen by hand, so the download converts a bf16 copy whatever this machine's default is.
    await page.locator("[data-testid=preset-all]").click();
    expect(await page.locator("[data-testid=no-model-hint]").textContent()).toMatch(/"Download VGGT-1B" in the Model panel below/);
    await page.locator("[data-testid=model-download]").click();
    const error = page.locator("[data-testid=model-install-error]");
    await error.waitFor({ timeout: 60_000 });
    expect(await error.textContent()).toMatch(/downloaded facebook\/VGGT-1B\/model\.safetensors does not match the published SHA-256 \(expected 0{64}, got [0-9a-f]{64}\); the file was deleted/);
    expect(await page.locator("[data-testid=model-install-message]").textContent()).toBe("download failed; nothing was installed");
    expect(await page.locator("[data-testid=model-state]").textContent()).toBe("model: none");
    expect(readdirSync(join(repoDir(), "blobs"))).toEqual([]);
    expect(existsSync(join(repoDir(), "snapshots"))).toBe(false);
    await screenshot(page, "model-download-corrupted");
  });

  it("downloads with progress, pauses keeping the partial file, resumes with a Range request", async () => {
    hub.addFile(REPO, "main", "model.safetensors", { data: weights, commit: COMMIT });
    // Slow enough to watch and pause on a loaded machine: ~150 chunks, 100 ms apart (~15 s).
    hub.behaviour = { hashVia: "x-linked-etag", chunkSize: Math.ceil(weights.length / 150), chunkDelayMs: 100 };
    hub.log.length = 0;
    await page.locator("[data-testid=model-resume]").click(); // after a failure the button says "Resume download"
    await expect.poll(figures, { timeout: 30_000, interval: 50 }).toMatch(/^\d+(\.\d)? [KM]iB of \d+(\.\d)? MiB · \d+(\.\d)? [KM]iB\/s · (<1 s|\d+ s) left$/);
    await page.locator("[data-testid=model-pause]").click();
    await expect.poll(phase, { timeout: 30_000 }).toBe("paused");
    const message = (await page.locator("[data-testid=model-install-message]").textContent()) ?? "";
    expect(message).toBe("paused: the part downloaded so far is kept; Resume download continues from there");
    expect(await figures()).toMatch(/^\d+(\.\d)? [KM]iB of 19\.5 MiB$/); // what is kept, no rate while paused
    const partial = readdirSync(join(repoDir(), "blobs")).filter((f) => f.endsWith(".incomplete"));
    expect(partial).toHaveLength(1);
    expect(await page.locator("[data-testid=model-state]").textContent()).toBe("model: none");
    await screenshot(page, "model-download-paused");

    hub.behaviour = { hashVia: "x-linked-etag" };
    await page.locator("[data-testid=model-resume]").click();
    // Installed: the header names the file; the hint banner is gone.
    await page.locator("[data-testid=model-state]").getByText("model.safetensors").waitFor({ timeout: 120_000 });
    expect(await page.locator("[data-testid=no-model]").count()).toBe(0);
    const ranged = hub.log.filter((r) => r.server === "cdn" && r.method === "GET" && r.range);
    expect(ranged).toHaveLength(1);
    expect(ranged[0].range).toMatch(/^bytes=[1-9]\d*-$/);
  }, 180_000);

  it("verified, converted for the chosen options (`all`: bf16), and the panel says so", async () => {
    await page.locator("[data-testid=model-button]").click();
    await page.locator("[data-testid=model-banner]").waitFor();
    expect(await phase()).toBe("done");
    expect(await page.locator("[data-testid=model-install-message]").textContent()).toMatch(/^installed .*snapshots\/e{40}\/model\.safetensors \(with its bf16 copy for the chosen options\)$/);
    const converted = readdirSync(join(home, "cache", "converted"));
    expect(converted.filter((f) => /^[0-9a-f]{64}-bf16-engine.*\.safetensors$/.test(f))).toHaveLength(1);
    expect(converted.filter((f) => /\.json$/.test(f))).toHaveLength(1);
    await screenshot(page, "model-download-done");
    await page.locator("[data-testid=model-button]").click();
  });

  it("a run uses the downloaded model", async () => {
    await page.locator("[data-testid=load-sample]").click();
    await page.locator("[data-testid=frame-count]").getByText("4 of 4 frames selected").waitFor();
    expect(await page.locator("[data-testid=random-banner]").count()).toBe(0);
    await page.locator("[data-testid=run-button]").click();
    const item = page.locator("[data-testid=run-item]").first();
    await expect.poll(() => item.getAttribute("data-status"), { timeout: 240_000, interval: 500 }).toBe("done");
    const u = new URL(web.url);
    const res = await fetch(`${u.origin}/api/invoke/listRuns`, { method: "POST", headers: { "x-vggt-token": u.searchParams.get("token")!, "content-type": "application/json" }, body: "[]" });
    const list = (await res.json()) as { id: string; model: string; randomWeights: boolean }[];
    const detail = await fetch(`${u.origin}/api/invoke/getRun`, { method: "POST", headers: { "x-vggt-token": u.searchParams.get("token")!, "content-type": "application/json" }, body: JSON.stringify([list[0].id]) });
    // The run's switches (`all`: bf16 Linears) loaded the copy converted after the download.
    expect(((await detail.json()) as { weightsFile?: string }).weightsFile).toMatch(new RegExp(`^${join(home, "cache", "converted")}/[0-9a-f]{64}-bf16-engine[^/]+\\.safetensors$`));
    expect(list[0].randomWeights).toBe(false);
    expect(list[0].model).toMatch(/model\.safetensors$/);
    await screenshot(page, "model-download-run");
  }, 300_000);

  it("had no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

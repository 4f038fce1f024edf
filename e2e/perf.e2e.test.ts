// The performance lab in web mode with the real engine and the tiny golden model: toggle
// options and see a run record them (and the engine's output file confirm them), run an A/B
// benchmark and flip the 3-D view between A and B, run the cumulative benchmark and check that the
// chart's bars are the numbers of the JSON the engine printed, export PNG/CSV, and find every
// benchmark in the history after a reload. Small frames (518×84) keep each forward well under a
// second on the shared 2-core machine.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { encodePng } from "../assets/sample/make-sample.js";
import { parseCsv } from "../common/bench-csv.js";
import { PRESET_LABELS, type PresetId } from "../common/option-catalog.js";
import { readSafetensors } from "../electron/services/tensors/safetensors.js";
import { type App, artifacts, descendantPids, dropFiles, openApp, processName, screenshot, type WebMode } from "./harness.js";

const OPTION_NAMES = ["sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln", "bf16", "w8a8", "prepack", "flash-attn", "global-early-frame", "global-kv-subsample", "global-block-sparse"];
const MANY_FRAMES = ["global-early-frame", "global-kv-subsample", "global-block-sparse"];

let app: App | undefined;
let web: WebMode;
let page: Page;
let pageErrors: string[] = [];
const folder = mkdtempSync(join(tmpdir(), "vggt-e2e-perf-images-"));
const frames = [join(folder, "frame-1.png"), join(folder, "frame-2.png")];

/** A textured 518×84 frame (crop mode keeps 518 wide: 6 patch rows, a fast forward). */
function frame(seed: number): Buffer {
  const w = 518;
  const h = 84;
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      rgb[o] = (x * 3 + seed * 40) & 255;
      rgb[o + 1] = (y * 5 + seed * 17) & 255;
      rgb[o + 2] = ((x ^ y) * 7) & 255;
    }
  return encodePng(rgb, w, h);
}

beforeAll(async () => {
  app = await openApp({ removeOnClose: [folder] });
  ({ web, page, pageErrors } = app);
  frames.forEach((f, i) => writeFileSync(f, frame(i)));
});

afterAll(async () => {
  await app?.close();
});

async function dropFrames(): Promise<void> {
  await dropFiles(page, frames);
  await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
}

async function checkedOptions(): Promise<string[]> {
  const on: string[] = [];
  for (const n of OPTION_NAMES) if (await page.locator(`[data-testid=option-${n}]`).isChecked()) on.push(n);
  return on;
}

/** Runs the benchmark set up in the form; returns its id once it is done. */
async function runBenchmark(timeout = 120_000): Promise<string> {
  const before = await page.locator("[data-testid=bench-item]").count();
  await page.locator("[data-testid=bench-run]").click();
  await expect.poll(() => page.locator("[data-testid=bench-item]").count()).toBe(before + 1);
  const item = page.locator("[data-testid=bench-item]").first();
  const id = (await item.getAttribute("data-id"))!;
  await page.locator(`[data-testid=bench-item][data-id=${id}][data-status=done]`).waitFor({ timeout }).catch(async (e) => {
    throw new Error(`benchmark ${id} did not finish: ${await item.textContent()} (${(e as Error).message})`);
  });
  await page.locator(`[data-testid=bench-detail][data-id=${id}][data-status=done]`).waitFor();
  return id;
}

function engineJson(id: string): any {
  return JSON.parse(readFileSync(join(web.dataDir, "benchmarks", id, "engine-output.json"), "utf8"));
}

interface DrawnBar {
  series: string;
  row: string;
  value: number;
  y: number;
  width: number;
  height: number;
}

async function bars(chart: string): Promise<DrawnBar[]> {
  return page.locator(`[data-testid=chart-${chart}] [data-testid=bar]`).evaluateAll((els) =>
    els.map((e) => ({
      series: e.getAttribute("data-series")!,
      row: e.getAttribute("data-row")!,
      value: Number(e.getAttribute("data-value")),
      y: Number(e.getAttribute("y")),
      width: Number(e.getAttribute("width")),
      height: Number(e.getAttribute("height")),
    })),
  );
}

/** Bars are drawn to one linear scale from zero: height / value is the same for every bar. */
function expectHeightsProportional(drawn: DrawnBar[], length: "height" | "width" = "height"): void {
  const big = drawn.reduce((a, b) => (b.value > a.value ? b : a));
  const pxPerMs = big[length] / big.value;
  expect(pxPerMs).toBeGreaterThan(0);
  // Half a pixel: anything a reader could see.
  for (const b of drawn) expect(Math.abs(b[length] - b.value * pxPerMs), `${b.series} of ${b.row}`).toBeLessThan(0.5);
}

function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast of the chart's axis text against the card it sits on. */
async function axisContrast(): Promise<number> {
  const [text, bg] = await page.evaluate(() => {
    const tick = document.querySelector("[data-testid=chart-latency] .recharts-cartesian-axis-tick-value");
    const card = document.querySelector("[data-testid=chart-latency]")!;
    return [getComputedStyle(tick!).fill, getComputedStyle(card).backgroundColor];
  });
  const [a, b] = [luminance(text), luminance(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

describe("performance lab (web mode, real engine, tiny model)", () => {
  it("toggles options; a run records the exact set, and the engine's output file confirms it", async () => {
    await page.goto(web.url);
    await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 60_000 });
    await dropFrames();
    // First start: this machine's calibrated default (e2e/default-options.e2e.test.ts), explained,
    // with the exact set one click away.
    await page.locator("[data-testid=default-preset][data-state=ready]").waitFor({ timeout: 180_000 });
    const chosen = (await page.locator("[data-testid=default-preset]").getAttribute("data-preset")) as PresetId;
    expect(await page.locator("[data-testid=options-summary]").textContent()).toContain(`Preset: ${PRESET_LABELS[chosen]}`);
    expect(await page.locator("[data-testid=default-preset-why]").textContent()).toMatch(/official bf16 accuracy bound/);
    if (chosen === "fastest-exact") await page.locator("[data-testid=preset-all]").click();
    await page.locator("[data-testid=use-exact]").click();
    expect(await page.locator("[data-testid=options-summary]").textContent()).toMatch(/Preset: Fastest exact.*fp32-exact/);
    expect(await page.locator("[data-testid=use-exact]").count()).toBe(0);
    await page.locator("[data-testid=preset-reference]").click();
    expect(await checkedOptions()).toEqual([]);
    expect(await page.locator("[data-testid=options-summary]").textContent()).toMatch(/Preset: Reference \(fp32\).*fp32-exact/);
    await page.locator("[data-testid=preset-writeup]").click();
    expect(await checkedOptions()).toEqual(["sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln", "bf16", "prepack"]);
    await page.locator("[data-testid=preset-reference]").click();
    await page.locator("[data-testid=option-bf16]").check();
    await page.locator("[data-testid=option-flash-attn]").check();
    expect(await page.locator("[data-testid=options-summary]").textContent()).toMatch(/Custom option set.*lossy/);
    // Parallelism: this engine build has MPI (version --json); the mode can be chosen, the degree
    // once a mode is set, and the note says what it applies to.
    await expect.poll(() => page.locator("[data-testid=parallel-note]").textContent()).toMatch(/mpirun with one rank per degree/i);
    expect(await page.locator("[data-testid=parallel-mode]").isDisabled()).toBe(false);
    expect(await page.locator("[data-testid=parallel-degree]").isDisabled()).toBe(true);
    await screenshot(page, "perf-toggles");

    await page.locator("[data-testid=run-button]").click();
    const run = page.locator("[data-testid=run-item]").first();
    await page.locator("[data-testid=run-item][data-status=done]").waitFor({ timeout: 120_000 });
    const recorded = run.locator("[data-testid=run-options]");
    expect(await recorded.getAttribute("data-enabled")).toBe("bf16,flash-attn");
    expect(await recorded.getAttribute("data-source")).toBe("engine");
    // On disk: the run record and the engine's own metadata in its output.
    const runId = (await run.locator(".run-select").getAttribute("title"))!;
    const detail = JSON.parse(readFileSync(join(web.dataDir, "runs", runId, "run.json"), "utf8"));
    expect(detail.engineOptions).toMatchObject({ source: "engine", parallel: { mode: "none", degree: 1 } });
    expect(Object.entries(detail.engineOptions.flags).filter(([, v]) => v).map(([k]) => k).sort()).toEqual(["bf16", "flash-attn"]);
    const meta = JSON.parse(readSafetensors(join(web.dataDir, "runs", runId, "output.safetensors")).metadata.options);
    for (const n of OPTION_NAMES) expect(meta[n], n).toBe(n === "bf16" || n === "flash-attn");
    await run.scrollIntoViewIfNeeded();
    await screenshot(page, "perf-run-recorded");
  });

  let abId = "";
  it("runs an A/B benchmark on the current images and flips the 3-D view between A and B", async () => {
    await page.locator("[data-testid=tab-perf]").click();
    await page.locator("[data-testid=bench-kind-ab]").check();
    await page.locator("[data-testid=ab-set-A]").selectOption("reference");
    await page.locator("[data-testid=ab-set-B]").selectOption("current");
    await page.locator("[data-testid=bench-repeats]").fill("2");
    await page.locator("[data-testid=bench-keep-outputs]").check();
    expect(await page.locator("[data-testid=bench-input]").textContent()).toMatch(/the 2 selected frames/);
    abId = await runBenchmark();
    const j = engineJson(abId);
    expect(j).toMatchObject({ schema: "vggt-bench/1", kind: "ab", frames: 2, width: 518, height: 84, repeats: 2 });
    // The engine ran exactly the chosen sets.
    expect(Object.entries(j.rows[0].options).filter(([, v]) => v)).toEqual([]);
    expect(Object.entries(j.rows[1].options).filter(([, v]) => v).map(([k]) => k).sort()).toEqual(["bf16", "flash-attn"]);
    expect(Number(await page.locator("[data-testid=ab-median-A]").getAttribute("data-value"))).toBe(j.rows[0].median_ms);
    expect(Number(await page.locator("[data-testid=ab-median-B]").getAttribute("data-value"))).toBe(j.rows[1].median_ms);
    // The cards' memory figure is the engine process's peak RSS of each side (tensor peak as a detail).
    for (const [side, row] of [["A", j.rows[0]], ["B", j.rows[1]]] as const) {
      expect(row.peak_rss_bytes).toBeGreaterThan(row.peak_bytes);
      const card = page.locator(`[data-testid=ab-rss-${side}]`);
      expect(Number(await card.getAttribute("data-value"))).toBe(row.peak_rss_bytes);
      expect(await card.textContent()).toMatch(/^process peak .+ · tensor peak .+ · weights /);
    }
    const ratio = page.locator("[data-testid=ab-ratio]");
    expect([await ratio.getAttribute("data-median"), await ratio.getAttribute("data-min"), await ratio.getAttribute("data-max")].map(Number)).toEqual([j.ratio.median, j.ratio.min, j.ratio.max]);
    expect(await ratio.textContent()).toContain(`${j.ratio.median.toFixed(3)}×`);
    // Each side's CPU share from the engine's own CPU and wall times, and the verdict that follows.
    const cores = (r: any) => {
      const s = r.cpu_ms.map((c: number, i: number) => c / r.latency_ms[i]).sort((x: number, y: number) => x - y);
      return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    const shown = page.locator("[data-testid=ab-cores]");
    expect(Number(await shown.getAttribute("data-a"))).toBeCloseTo(cores(j.rows[0]), 9);
    expect(Number(await shown.getAttribute("data-b"))).toBeCloseTo(cores(j.rows[1]), 9);
    const shareDiff = Math.abs(cores(j.rows[0]) - cores(j.rows[1])) / Math.max(cores(j.rows[0]), cores(j.rows[1]));
    const spread = j.ratio.max / j.ratio.min;
    const reliable = shareDiff <= 0.2 && spread <= 1.25;
    expect(await page.locator("[data-testid=ab-summary]").getAttribute("data-reliable")).toBe(String(reliable));
    expect(await page.locator("[data-testid=ab-unreliable]").count()).toBe(reliable ? 0 : 1);
    // bf16 is lossy: B's outputs differ from A's, and the app shows by how much.
    expect(j.rows[1].accuracy.depth_rel).toBeGreaterThan(0);
    expect(await page.locator("[data-testid=ab-depth-rel]").textContent()).toBe(j.rows[1].accuracy.depth_rel.toExponential(2));
    expect(await page.locator("[data-testid=ab-rotation]").textContent()).toBe(`${j.rows[1].accuracy.rotation_deg.toFixed(4)}°`);
    const abBars = await bars("ab");
    expect(abBars.map((b) => b.value)).toEqual([j.rows[0].median_ms, j.rows[1].median_ms]);
    // Horizontal bars: their length is the width.
    expectHeightsProportional(abBars, "width");

    const viewer = page.locator("[data-testid=viewer]");
    await expect.poll(() => viewer.getAttribute("data-cloud"), { timeout: 60_000 }).toBe(`bench-${abId}-A`);
    await page.locator("[data-testid=point-count]").waitFor();
    await page.locator("[data-testid=viewer]").scrollIntoViewIfNeeded();
    await page.waitForTimeout(500); // a few frames rendered
    await screenshot(page, "perf-ab-A");
    await page.locator("[data-testid=ab-flip-B]").click();
    await expect.poll(() => viewer.getAttribute("data-cloud"), { timeout: 60_000 }).toBe(`bench-${abId}-B`);
    await expect.poll(() => page.locator("[data-testid=ab-showing]").getAttribute("data-side")).toBe("B");
    await page.locator("[data-testid=point-count]").waitFor();
    await page.waitForTimeout(500);
    await screenshot(page, "perf-ab-B");
  });

  let cumId = "";
  it("runs the cumulative benchmark; the chart's bars are the engine's JSON", async () => {
    await page.locator("[data-testid=bench-kind-cumulative]").check();
    await page.locator("[data-testid=bench-repeats]").fill("1");
    cumId = await runBenchmark();
    const j = engineJson(cumId);
    expect(j).toMatchObject({ schema: "vggt-bench/1", kind: "cumulative" });
    expect(j.rows[0].added).toBeNull();
    const label = (r: any) => (r.added === null ? "baseline" : `+ ${r.added}`);

    const latency = await bars("latency");
    const ours = latency.filter((b) => b.series === "ours");
    expect(ours.map((b) => b.row)).toEqual(j.rows.map(label));
    expect(ours.map((b) => b.value)).toEqual(j.rows.map((r: any) => r.median_ms));
    // The write-up's figures stand next to the rows that complete each of its table's lines.
    const npu = latency.filter((b) => b.series === "npu");
    const want = Object.entries(j.writeup_npu_ms as Record<string, number>)
      .map(([key, ms]) => {
        const parts = key.split("+");
        const index = j.rows.findIndex((r: any) => parts.every((p) => r.options[p] === true));
        return { index, row: label(j.rows[index]), value: ms };
      })
      .sort((a, b) => a.index - b.index)
      .map(({ row, value }) => ({ row, value }));
    expect(want).toHaveLength(6);
    expect(npu.map((b) => ({ row: b.row, value: b.value }))).toEqual(want);
    expectHeightsProportional(latency);
    expect(await page.locator("[data-testid=npu-note]").textContent()).toMatch(/reference only: not measured on this machine/);

    // Stacked stages, from BENCH-JSON.md's rule: "a.b" is part of "a".
    const stages = await bars("stages");
    for (const r of j.rows) {
      const ms = (name: string) => r.stages.filter((s: any) => s.stage === name).reduce((a: number, s: any) => a + s.ms, 0);
      const parts = ms("aggregator.frame_attention") + ms("aggregator.global_attention") + ms("aggregator.mlp");
      const expected: Record<string, number> = {
        encoder: ms("encoder"),
        frame_attention: ms("aggregator.frame_attention"),
        global_attention: ms("aggregator.global_attention"),
        mlp: ms("aggregator.mlp"),
        aggregator_rest: Math.max(0, ms("aggregator") - parts),
        heads: ms("camera_head") + ms("depth_head") + ms("point_head"),
        other: r.stages.filter((s: any) => !s.stage.includes(".") && !["encoder", "aggregator", "camera_head", "depth_head", "point_head"].includes(s.stage)).reduce((a: number, s: any) => a + s.ms, 0),
      };
      const drawn = stages.filter((b) => b.row === label(r));
      expect(Object.fromEntries(drawn.map((b) => [b.series, b.value]))).toEqual(Object.fromEntries(Object.entries(expected).filter(([, v]) => v > 0)));
      // Stacked: each segment starts where the one below it ends.
      const byY = [...drawn].sort((a, b) => b.y - a.y);
      for (let i = 1; i < byY.length; i++) expect(Math.abs(byY[i].y + byY[i].height - byY[i - 1].y)).toBeLessThan(0.5);
    }
    expectHeightsProportional(stages.filter((b) => b.value > 0));
    await page.locator("[data-testid=chart-latency]").scrollIntoViewIfNeeded();
    await screenshot(page, "perf-cumulative-dark");
    expect(await axisContrast()).toBeGreaterThan(4.5);
    await page.getByRole("button", { name: /Light theme/ }).click();
    expect(await axisContrast()).toBeGreaterThan(4.5);
    await screenshot(page, "perf-cumulative-light");
    await page.getByRole("button", { name: /Dark theme/ }).click();
  });

  it("exports the chart as PNG and the table as CSV with the engine's numbers", async () => {
    mkdirSync(artifacts, { recursive: true });
    let download = page.waitForEvent("download");
    await page.locator("[data-testid=export-png-latency]").click();
    let d = await download;
    expect(d.suggestedFilename()).toBe(`vggt-bench-${cumId}-latency.png`);
    const pngPath = join(artifacts, "perf-latency-chart.png");
    await d.saveAs(pngPath);
    const png = readFileSync(pngPath);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    const box = (await page.locator("[data-testid=chart-latency] svg.recharts-surface[role=application]").boundingBox())!;
    // 2× the chart's CSS size, plus the title and legend lines.
    expect(png.readUInt32BE(16)).toBe(Math.ceil(box.width * 2));
    expect(png.readUInt32BE(20)).toBeGreaterThan(box.height * 2);

    download = page.waitForEvent("download");
    await page.locator("[data-testid=export-csv]").click();
    d = await download;
    const csvPath = join(artifacts, "perf-cumulative.csv");
    await d.saveAs(csvPath);
    const rows = parseCsv(readFileSync(csvPath, "utf8"));
    const j = engineJson(cumId);
    const col = (n: string) => rows[0].indexOf(n);
    expect(rows.slice(1).map((r) => Number(r[col("median_ms")]))).toEqual(j.rows.map((r: any) => r.median_ms));
    expect(rows.slice(1).map((r) => r[col("latency_ms")])).toEqual(j.rows.map((r: any) => r.latency_ms.join(";")));
  });

  it("cancels a running benchmark (the engine process goes away)", async () => {
    await page.locator("[data-testid=bench-repeats]").fill("5");
    await page.locator("[data-testid=bench-run]").click();
    const progress = page.locator("[data-testid=bench-progress]");
    // The engine's own stderr progress reaches the page, put into words.
    await progress.getByText(/timed run \d+ of 5 took \d+\.\d s/).waitFor({ timeout: 60_000 });
    const id = (await page.locator("[data-testid=bench-item]").first().getAttribute("data-id"))!;
    const engines = () => descendantPids(web.proc.pid!).filter((p) => processName(p) === "vggt-engine").length;
    expect(engines()).toBe(2); // the app's serve process and the benchmark
    await page.locator("[data-testid=bench-cancel]").click();
    await page.locator(`[data-testid=bench-item][data-id=${id}][data-status=cancelled]`).waitFor({ timeout: 30_000 });
    expect(await progress.count()).toBe(0);
    await expect.poll(engines).toBe(1);
    const rec = JSON.parse(readFileSync(join(web.dataDir, "benchmarks", id, "benchmark.json"), "utf8"));
    expect(rec).toMatchObject({ status: "cancelled", error: "cancelled by the user" });
  });

  it("keeps every benchmark on disk with machine, engine version and options, and compares them after a reload", async () => {
    for (const id of [abId, cumId]) {
      const rec = JSON.parse(readFileSync(join(web.dataDir, "benchmarks", id, "benchmark.json"), "utf8"));
      expect(rec).toMatchObject({ id, status: "done", engineVersion: engineJson(id).engine_version, machine: { cores: engineJson(id).machine.cores } });
      expect(rec.machine.cpu.length).toBeGreaterThan(0);
      expect(rec.result.rows.map((r: any) => r.options)).toEqual(engineJson(id).rows.map((r: any) => r.options));
    }
    await page.reload();
    await page.locator("[data-testid=tab-perf]").click();
    await expect.poll(() => page.locator("[data-testid=bench-item][data-status=done]").count()).toBe(2);
    for (const id of [abId, cumId]) await page.locator(`[data-testid=bench-item][data-id=${id}] [data-testid=bench-compare]`).check();
    const table = page.locator("[data-testid=bench-comparison]");
    await table.waitFor();
    const text = (await table.textContent()) ?? "";
    expect(text).toContain("+ flash-attn");
    expect(text).toMatch(/A: Reference \(fp32\)/);
    // Every column says what it ran on; the two ran on the same input here.
    const inputs = await page.locator("[data-testid=comparison-input]").allTextContents();
    for (const [k, id] of [abId, cumId].entries()) {
      const j = engineJson(id);
      expect(inputs[k]).toContain(`${j.frames} frame${j.frames === 1 ? "" : "s"} of ${j.width}×${j.height}, ${j.threads || "all"} threads`);
    }
    const same = engineJson(abId).frames === engineJson(cumId).frames && engineJson(abId).width === engineJson(cumId).width && engineJson(abId).threads === engineJson(cumId).threads;
    expect(await table.getAttribute("data-same-input")).toBe(String(same));
    expect(await page.locator("[data-testid=comparison-different-inputs]").count()).toBe(same ? 0 : 1);
    await screenshot(page, "perf-history-compare");
  });

  it("had no page errors (CSP violations included)", () => {
    expect(pageErrors).toEqual([]);
  });
  // Many frames from the app: `all` vs `all` + the many-frame toggles at their defaults on 8
  // frames. Reduced config: the e2e's tiny golden model (4 layers, so the default early-frame
  // k = 8 turns every global layer into frame attention) and 518x84 frames, seconds not minutes.
  it("shows the many-frame group with its parameters and runs an A/B of all vs many-frame defaults on 8 frames", async () => {
    await page.locator("[data-testid=tab-perf]").click();
    const group = page.locator("[data-testid=option-group-many-frames]");
    expect(await group.locator("h3").textContent()).toBe("Many frames");
    for (const n of MANY_FRAMES) expect(await page.locator(`[data-testid=option-${n}]`).isChecked()).toBe(false);
    expect(await page.locator("[data-testid=option-params-global-kv-subsample]").textContent()).toMatch(/stride = 4 \[1–16\].*first = 8 \[0–63\].*last = 21 \[0–63\]/);
    expect(await page.locator("[data-testid=option-params-global-block-sparse]").textContent()).toMatch(/keep = 0\.25/);
    const eight = Array.from({ length: 8 }, (_, i) => join(folder, `many-${i}.png`));
    eight.forEach((f, i) => writeFileSync(f, frame(10 + i)));
    await dropFiles(page, eight);
    await page.locator("[data-testid=frame-count]").getByText("8 of 8 frames selected").waitFor();
    await page.locator("[data-testid=tab-perf]").click();
    await page.locator("[data-testid=bench-kind-ab]").check();
    await page.locator("[data-testid=ab-set-A]").selectOption("all");
    await page.locator("[data-testid=ab-set-B]").selectOption("many-frames");
    await page.locator("[data-testid=bench-repeats]").fill("1");
    await page.locator("[data-testid=bench-keep-outputs]").uncheck();
    expect(await page.locator("[data-testid=bench-input]").textContent()).toMatch(/the 8 selected frames/);
    const id = await runBenchmark(240_000);
    const j = engineJson(id);
    expect(j).toMatchObject({ schema: "vggt-bench/1", kind: "ab", frames: 8 });
    const on = (row: any) => Object.entries(row.options).filter(([, v]) => v).map(([k]) => k);
    for (const n of MANY_FRAMES) {
      expect(on(j.rows[0])).not.toContain(n);
      expect(on(j.rows[1])).toContain(n);
    }
    expect(on(j.rows[1]).filter((n) => !MANY_FRAMES.includes(n))).toEqual(on(j.rows[0]));
    // The engine records the parameters it ran with: the defaults.
    expect(j.rows[1].option_params).toEqual({
      "global-early-frame": { k: 8 },
      "global-kv-subsample": { stride: 4, first: 8, last: 21 },
      "global-block-sparse": { keep: 0.25, cdf: 0 },
    });
    // Lossy: the outputs moved, and the app shows the engine's ratio and deviation.
    expect(j.rows[1].accuracy.depth_rel).toBeGreaterThan(0);
    expect(Number(await page.locator("[data-testid=ab-ratio]").getAttribute("data-median"))).toBe(j.ratio.median);
    expect(await page.locator("[data-testid=ab-depth-rel]").textContent()).toBe(j.rows[1].accuracy.depth_rel.toExponential(2));
    await screenshot(page, "perf-ab-many-frames");
  });
});

// Benchmark (not a test): does the 3-D viewer slow the engine down? The same A/B benchmark (the
// current option set on both sides, so every forward is the same work) runs with the Reconstruct
// tab showing a point cloud, then with the performance-lab tab shown (no viewer), interleaved
// ABBA over rounds. Prints the engine's own per-forward medians for each condition, their ratio,
// and the browser's CPU seconds during each benchmark.
//   npx tsx e2e/viewer-interference.bench.ts [rounds=3] [repeats=3]
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { browserPids, cpuSeconds, dropFiles, openApp, repoRoot } from "./harness.js";

const rounds = Number(process.argv[2] ?? 3);
const repeats = Number(process.argv[3] ?? 3);
const folder = mkdtempSync(join(tmpdir(), "vggt-bench-viewer-"));
const app = await openApp({ removeOnClose: [folder] });
const { web, page } = app;
try {
  for (const f of ["view-1.png", "view-3.png"]) copyFileSync(join(repoRoot, "assets/sample", f), join(folder, f));
  await page.goto(web.url);
  await page.locator("[data-testid=engine-state][data-state=ready]").waitFor({ timeout: 120_000 });
  await dropFiles(page, [join(folder, "view-1.png"), join(folder, "view-3.png")]);
  await page.locator("[data-testid=frame-count]").getByText("2 of 2 frames selected").waitFor();
  // A reconstruction to look at.
  await page.locator("[data-testid=run-button]").click();
  await page.locator("[data-testid=run-item][data-status=done]").waitFor({ timeout: 600_000 });
  await page.locator("[data-testid=point-count]").waitFor({ timeout: 120_000 });

  await page.locator("[data-testid=tab-perf]").click({ force: true, timeout: 120_000 });
  await page.locator("[data-testid=bench-kind-ab]").check();
  await page.locator("[data-testid=ab-set-A]").selectOption("current");
  await page.locator("[data-testid=ab-set-B]").selectOption("current");
  await page.locator("[data-testid=bench-repeats]").fill(String(repeats));
  const keep = page.locator("[data-testid=bench-keep-outputs]");
  if (await keep.isChecked()) await keep.uncheck();

  const benchDir = join(web.dataDir, "benchmarks");
  const list = () => (existsSync(benchDir) ? readdirSync(benchDir) : []);
  const results: Record<"viewer" | "lab", { ms: number[]; cpu: number[] }> = { viewer: { ms: [], cpu: [] }, lab: { ms: [], cpu: [] } };
  for (let r = 0; r < rounds; r++) {
    const order: ("viewer" | "lab")[] = r % 2 === 0 ? ["viewer", "lab"] : ["lab", "viewer"];
    for (const cond of order) {
      await page.locator("[data-testid=tab-perf]").click({ force: true, timeout: 120_000 });
      const before = new Set(list());
      await page.locator("[data-testid=bench-run]").click({ force: true, timeout: 120_000 });
      if (cond === "viewer") {
        await page.locator("[data-testid=tab-reconstruct]").click({ force: true, timeout: 120_000 });
        await page.locator("[data-testid=point-count]").waitFor({ timeout: 60_000 });
      }
      const pids = browserPids();
      const cpu0 = cpuSeconds(pids);
      let id = "";
      for (;;) {
        id = id || (list().find((d) => !before.has(d)) ?? "");
        if (id && existsSync(join(benchDir, id, "engine-output.json"))) break;
        await page.waitForTimeout(250);
      }
      const cpu = cpuSeconds(pids) - cpu0;
      const j = JSON.parse(readFileSync(join(benchDir, id, "engine-output.json"), "utf8"));
      const ms = (j.rows[0].median_ms + j.rows[1].median_ms) / 2;
      results[cond].ms.push(ms);
      results[cond].cpu.push(cpu);
      console.log(`round ${r + 1} ${cond.padEnd(6)} forward median ${ms.toFixed(0)} ms, browser CPU ${cpu.toFixed(2)} s`);
      // Let the UI settle on the result before the next one starts.
      await page.waitForTimeout(1000);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const v = median(results.viewer.ms);
  const l = median(results.lab.ms);
  console.log(`median forward: viewer shown ${v.toFixed(0)} ms, lab shown ${l.toFixed(0)} ms, ratio ${(v / l).toFixed(2)}x`);
  console.log(`browser CPU per benchmark (median): viewer ${median(results.viewer.cpu).toFixed(2)} s, lab ${median(results.lab.cpu).toFixed(2)} s`);
} finally {
  await app.close();
}

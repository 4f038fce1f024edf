// A parallel run from the app's engine runner: `mpirun -np 2 vggt-engine serve --parallel ring`
// with the real engine and the tiny golden model, outputs within the goldens' tolerance.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectMatchesGolden } from "../engine/test-fixtures.js";
import { SupervisedEngine } from "./engine-adapter.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(import.meta.dirname, "../../../../shared"));
const golden = join(shared, "goldens", "tiny-2f");
const haveMpi = (() => {
  try {
    execFileSync("mpirun", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const ready = haveMpi && existsSync(join(golden, "weights.safetensors"));
if (!ready) console.warn("*** mpirun or ../shared/goldens missing: parallel engine-runner test SKIPPED ***");

describe.skipIf(!ready)("SupervisedEngine parallel runs", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vggt-par-run-"));
  const engine = new SupervisedEngine({ eager: false });
  afterAll(async () => {
    await engine.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("runs ring attention on 2 ranks and matches the single-process engine", async () => {
    const model = { kind: "weights" as const, weights: join(golden, "weights.safetensors"), config: join(golden, "config.json") };
    const dir = join(shared, "goldens", "preprocess-crop", "images");
    const images = ["frame_00.png", "frame_01.jpg", "frame_02.png"].map((f) => join(dir, f));
    const single = join(tmp, "single.safetensors");
    await engine.infer({ model, images, preprocess: "crop", output: single }, () => undefined, new AbortController().signal);
    const stages: string[] = [];
    const out = join(tmp, "ring2.safetensors");
    await engine.infer(
      { model, images, preprocess: "crop", output: out, parallel: { mode: "ring", degree: 2 } },
      (p) => stages.push(p.stage),
      new AbortController().signal,
    );
    expect(stages).toContain("aggregator");
    // Ring sums the softmax in another order: within the goldens' fp32 tolerance of one process.
    expectMatchesGolden(out, single);
  }, 120_000);
});

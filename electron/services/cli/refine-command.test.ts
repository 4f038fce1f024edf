// `vggt-workbench refine` argument and input checks (in process). The refine pipeline itself is
// tested in services/refine; with the engine's track head, in the e2e suite.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { syntheticOutput, writeEngineOutputFile, cropMapping } from "../export/test-fixtures.js";
import { runCli } from "./main.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-refine-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe("vggt-workbench refine: arguments and inputs", () => {
  mkdirSync(tmp, { recursive: true });
  const tensorRun = join(tmp, "tensor.safetensors");
  writeEngineOutputFile(tensorRun, syntheticOutput({ S: 2 }));
  const imageRun = join(tmp, "images.safetensors");
  writeEngineOutputFile(imageRun, syntheticOutput({ S: 2, frames: [cropMapping(join(tmp, "gone-a.png"), 112, 84, 56, 42), cropMapping(join(tmp, "gone-b.png"), 112, 84, 56, 42)] }));

  it("is listed and documents its options", async () => {
    const r = await cli(["help", "refine"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--queries N/);
    expect(r.stdout).toMatch(/--query-frames K/);
  });

  it("needs --out, and never overwrites its input", async () => {
    expect((await cli(["refine", tensorRun])).stderr).toMatch(/--out FILE is required/);
    const r = await cli(["refine", tensorRun, "--out", tensorRun]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out must differ from the input/);
  });

  it("rejects a bad --queries with exit code 2", async () => {
    const r = await cli(["refine", tensorRun, "--out", join(tmp, "o.safetensors"), "--queries", "lots"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--queries expects a non-negative integer, got 'lots'/);
  });

  it("names the problem for a tensor-made run and for missing images", async () => {
    const a = await cli(["refine", tensorRun, "--out", join(tmp, "o.safetensors")]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/tensor\.safetensors: made from an input tensor, not image files/);
    const b = await cli(["refine", imageRun, "--out", join(tmp, "o.safetensors")]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/its image .*gone-a\.png is missing/);
  });
});

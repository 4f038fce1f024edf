// `vggt-workbench reconstruct` end to end with the real engine: the bundled sample through the
// tiny golden model (the README's main job runs the same code with VGGT-1B or random weights).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSafetensors } from "../tensors/safetensors.js";

const repo = resolve(import.meta.dirname, "../../..");
const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(repo, "../shared"));
const tiny = join(shared, "goldens", "tiny-2f");
const have = existsSync(join(tiny, "weights.safetensors"));
if (!have) console.warn(`*** ${tiny} not found: reconstruct CLI test SKIPPED ***`);

describe.skipIf(!have)("vggt-workbench reconstruct", () => {
  const out = mkdtempSync(join(tmpdir(), "vggt-reconstruct-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("reconstructs the bundled sample into engine output, PLY and a COLMAP model", () => {
    const r = spawnSync(
      process.execPath,
      [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", join(repo, "assets/sample"), "--out", out,
        "--weights", join(tiny, "weights.safetensors"), "--config", join(tiny, "config.json"), "--frames", "2"],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const engineOut = readSafetensors(join(out, "reconstruction.safetensors"));
    expect(engineOut.tensors.get("world_points")?.shape).toEqual([2, 350, 518, 3]);
    expect(engineOut.metadata.random_weights).toBe("false");
    // The default set `all`: bf16 on, int8 off.
    const options = JSON.parse(engineOut.metadata.options);
    expect([options.bf16, options["flash-attn"], options.w8a8]).toEqual([true, true, false]);
    const ply = readFileSync(join(out, "points.ply"));
    const count = Number(/element vertex (\d+)/.exec(ply.subarray(0, 400).toString("latin1"))![1]);
    expect(count).toBeGreaterThan(1000);
    for (const f of ["cameras.bin", "images.bin", "points3D.bin"]) expect(existsSync(join(out, "colmap/sparse/0", f))).toBe(true);
    expect(r.stdout).toMatch(/point cloud: .*points\.ply/);
  }, 150_000);

  it("explains the default option set in its help", () => {
    const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", "--help"], { encoding: "utf8" });
    const help = (r.stdout + r.stderr).replace(/\s+/g, " ");
    expect(help).toMatch(/default: all = every option but int8/);
    expect(help).toMatch(/sincos-lowp,rope-fused,rope-cache,dpt-pos-cache,fused-add-ln,prepack,flash-attn for fp32-exact/);
    expect(help).toMatch(/closer to the fp32 outputs than the official bf16 run/);
  });

  it("fails clearly on a folder without images", () => {
    const empty = mkdtempSync(join(tmpdir(), "vggt-empty-"));
    const r = spawnSync(process.execPath, [join(repo, "bin/vggt-workbench.mjs"), "reconstruct", empty, "--out", join(empty, "o")], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no PNG or JPEG images/);
    rmSync(empty, { recursive: true, force: true });
  });
});

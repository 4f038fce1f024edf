// Non-finite engine outputs (NaN/Inf cameras or points) must never reach an export file.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exportReconstruction, EXPORT_FORMATS } from "./index.js";
import { syntheticOutput } from "./test-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-finite-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(tmp, `out${n++}`);

describe("exports of non-finite outputs", () => {
  it.each(["colmap", "colmap-bin", "json", "nerfstudio", "glb"] as const)("%s: a camera value that is Inf/NaN is refused, naming the frame, and nothing is written", async (format) => {
    for (const [tensor, index, value] of [
      ["intrinsic", 9 * 1 + 0, Infinity], // frame 1's fx (the official random init gives fx = inf)
      ["extrinsic", 12 * 2 + 3, NaN], // frame 2's tx
    ] as const) {
      const out = syntheticOutput({ S: 3, W: 28, H: 14, seed: 4 });
      out[tensor][index] = value;
      const dir = fresh();
      const frame = tensor === "intrinsic" ? 1 : 2;
      await expect(exportReconstruction(out, { format, outDir: dir })).rejects.toThrow(
        new RegExp(`frame ${frame}.*${tensor === "intrinsic" ? "intrinsic\\[0\\]\\[0\\] \\(fx\\) is Infinity" : "extrinsic\\[0\\]\\[3\\] is NaN"}`),
      );
      expect(existsSync(dir)).toBe(false);
      expect(readdirSync(tmp).filter((f) => f.startsWith("."))).toEqual([]);
    }
  });

  it("PLY ignores cameras; points with non-finite coordinates are skipped and counted", async () => {
    const out = syntheticOutput({ S: 2, W: 28, H: 14, seed: 5 });
    out.intrinsic[0] = Infinity; // PLY does not use cameras
    const wp = out.worldPoints!;
    wp[0] = NaN;
    wp[3 * 7 + 1] = Infinity;
    wp[3 * 30 + 2] = -Infinity;
    const all = 2 * 28 * 14;
    const dir = fresh();
    const r = await exportReconstruction(out, { format: "ply", outDir: dir, points: "pointmap", confPercentile: 0 });
    expect(r.pointCount).toBe(all - 3);
    expect(r.notes.join("\n")).toContain("3 points with non-finite coordinates were skipped");
    const text = readFileSync(join(dir, "points.ply"));
    expect(Number(/element vertex (\d+)/.exec(text.toString("latin1", 0, 400))![1])).toBe(all - 3);
  });

  it("GLB: points with non-finite coordinates are skipped and counted, as in PLY", async () => {
    const out = syntheticOutput({ S: 2, W: 28, H: 14, seed: 6 });
    out.worldPoints![3 * 11] = NaN;
    out.worldPoints![3 * 40 + 2] = Infinity;
    const r = await exportReconstruction(out, { format: "glb", outDir: fresh(), points: "pointmap", confPercentile: 0 });
    expect(r.pointCount).toBe(2 * 28 * 14 - 2);
    expect(r.notes.join("\n")).toContain("2 points with non-finite coordinates were skipped");
  });

  it("formats list is what this file covers", () => {
    expect([...EXPORT_FORMATS].sort()).toEqual(["colmap", "colmap-bin", "glb", "json", "nerfstudio", "ply"]);
  });
});

// Export staging: on the target's own file system, clear messages for unwritable targets, and a
// commit that fails half-way restores the earlier model instead of leaving a mix.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch } from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exportReconstruction } from "./index.js";
import { syntheticOutput } from "./test-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-stage-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(tmp, `out${n++}`);
const out = syntheticOutput({ S: 2, W: 28, H: 14, seed: 9 });
const errno = (code: string) => Object.assign(new Error(`${code}: simulated`), { code });
const inside = (root: string, p: string) => !relative(root, p).startsWith("..");

/** Every file under dir (relative path -> bytes), hidden ones included. */
function snapshot(dir: string): Record<string, string> {
  const r: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else r[relative(dir, p)] = readFileSync(p).toString("base64");
    }
  };
  walk(dir);
  return r;
}

describe("export staging", () => {
  it("works when the target is a mount point: nothing is renamed across its boundary", async () => {
    const dir = fresh();
    await fsp.mkdir(dir);
    // The target folder stands for the root of another file system (a USB stick): a rename from
    // outside into it fails with EXDEV, as the kernel does.
    const rename = async (a: string, b: string) => {
      if (inside(dir, a) !== inside(dir, b)) throw errno("EXDEV");
      return fsp.rename(a, b);
    };
    // And what is created in the parent (a different file system in that case) is watched: nothing.
    const parent = mkdtempSync(join(tmp, "parent-"));
    const target = join(parent, "stick");
    await fsp.mkdir(target);
    const seen: string[] = [];
    const watcher = watch(parent, (_ev, name) => name && name !== "stick" && seen.push(name));
    await exportReconstruction(out, { format: "colmap", outDir: target, force: true });
    await new Promise((ok) => setTimeout(ok, 100));
    watcher.close();
    expect(seen).toEqual([]);
    const r = await exportReconstruction(out, { format: "colmap", outDir: dir, force: true, fs: { rename } });
    expect(r.files).toContain(join(dir, "sparse/0/points3D.txt"));
    expect(readdirSync(dir).sort()).toEqual(["images", "sparse"]);
    expect(readdirSync(tmp).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("a read-only target gives a sentence, not a raw EROFS ... mkdtemp", async () => {
    const dir = fresh();
    const ro = async () => {
      throw errno("EROFS");
    };
    await expect(exportReconstruction(out, { format: "json", outDir: dir, fs: { mkdir: ro, mkdtemp: ro } })).rejects.toThrow(
      `cannot export into ${dir}: creating the folder failed (the file system is read-only)`,
    );
    await expect(exportReconstruction(out, { format: "json", outDir: dir, fs: { mkdtemp: ro } })).rejects.toThrow(
      `cannot export into ${dir}: creating a staging folder failed (the file system is read-only)`,
    );
    expect(existsSync(dir)).toBe(false); // the folder it had created is removed again
  });

  it("a conflict found before moving (a folder where a file goes) leaves no staging folder", async () => {
    const dir = fresh();
    await fsp.mkdir(join(dir, "cameras.json"), { recursive: true });
    await expect(exportReconstruction(out, { format: "json", outDir: dir, force: true })).rejects.toThrow(/cameras.json: is a folder, cannot replace it with a file/);
    expect(readdirSync(dir)).toEqual(["cameras.json"]);
  });

  it.each(["colmap", "colmap-bin"] as const)("%s: a commit failing half-way restores the earlier model whole and leaves no staging folder", async (format) => {
    const dir = fresh();
    await exportReconstruction(out, { format, outDir: dir, confPercentile: 0 });
    const before = snapshot(dir);
    const points = format === "colmap" ? "points3D.txt" : "points3D.bin";
    // The new model differs (other confidence filter); moving its points file into place fails.
    const rename = async (a: string, b: string) => {
      if (b.endsWith(join("sparse", "0", points)) && a.includes(".vggt-export-") && !a.includes(".replaced")) throw errno("EIO");
      return fsp.rename(a, b);
    };
    await expect(exportReconstruction(out, { format, outDir: dir, force: true, confPercentile: 80, fs: { rename } })).rejects.toThrow(
      /moving the files into place failed .*; the folder was left as it was before/,
    );
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([]);
    // Without the fault the new model replaces the old one as a whole.
    await exportReconstruction(out, { format, outDir: dir, force: true, confPercentile: 80 });
    const after = snapshot(dir);
    for (const f of ["cameras", "images", "points3D"].map((b) => `sparse/0/${b}.${format === "colmap" ? "txt" : "bin"}`)) expect(after[f]).toBeDefined();
    expect(after[`sparse/0/${points}`]).not.toEqual(before[`sparse/0/${points}`]);
  });
});

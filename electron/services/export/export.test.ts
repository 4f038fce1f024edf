// Exports of synthetic engine outputs with known cameras, read back and checked geometrically.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cameraCenter, project, type Mat3, type Vec3 } from "./camera-math.js";
import { readColmapBinary, readColmapText } from "./colmap-reader.js";
import { ExportCancelledError, exportReconstruction, selectPoints, type EngineOutput } from "./index.js";
import { cropMapping, padMapping, syntheticOutput, writeOriginals } from "./test-fixtures.js";
import { colmapRoundTrip } from "./test-checks.js";
import { imageSize } from "./images-folder.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-export-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(tmp, `out${n++}`);

// Float32 points and cameras, float64 maths: at ~10x upscaling the projection error stays ~1e-5 px;
// 1e-3 px is far below any real convention slip (half a pixel) or scale error.
const PX_TOL = 1e-3;

function setup(kind: "crop" | "pad" | "tensor") {
  const W = 56;
  const H = kind === "pad" ? 56 : 42;
  const frames =
    kind === "crop"
      ? [cropMapping("f0.png", 560, 420, W, H), cropMapping("f1.png", 560, 600, W, H), cropMapping("f2.png", 560, 420, W, H)]
      : kind === "pad"
        ? [padMapping("p0.png", 300, 400, W, H), padMapping("p1.png", 640, 480, W, H), padMapping("p2.png", 400, 400, W, H)]
        : undefined;
  const out = syntheticOutput({ S: 3, W, H, frames, seed: kind.length });
  const imagesDir = join(tmp, `orig-${kind}`);
  if (frames && !existsSync(imagesDir)) writeOriginals(imagesDir, frames);
  return { out, imagesDir: frames ? imagesDir : undefined };
}

function parsePly(buf: Buffer) {
  const end = buf.indexOf("end_header\n") + "end_header\n".length;
  const header = buf.toString("latin1", 0, end);
  const count = Number(/element vertex (\d+)/.exec(header)![1]);
  const pts: { xyz: number[]; rgb: number[]; conf: number }[] = [];
  if (header.includes("format ascii")) {
    const lines = buf.toString("utf8", end).trim().split("\n");
    for (const l of lines) {
      const f = l.split(" ").map(Number);
      pts.push({ xyz: f.slice(0, 3), rgb: f.slice(3, 6), conf: f[6] });
    }
  } else {
    for (let k = 0, o = end; k < count; k++, o += 19)
      pts.push({
        xyz: [buf.readFloatLE(o), buf.readFloatLE(o + 4), buf.readFloatLE(o + 8)],
        rgb: [buf[o + 12], buf[o + 13], buf[o + 14]],
        conf: buf.readFloatLE(o + 15),
      });
    expect(buf.length).toBe(end + 19 * count);
  }
  return { header, count, pts };
}

describe("PLY", () => {
  for (const ascii of [false, true])
    it(`${ascii ? "ASCII" : "binary"}: the selected points with colours and confidence, exactly`, async () => {
      const { out } = setup("crop");
      const dir = fresh();
      const res = await exportReconstruction(out, { format: "ply", outDir: dir, confPercentile: 40, frames: [0, 2], points: "pointmap", ascii });
      const sel = selectPoints(out, { confPercentile: 40, frames: [0, 2], points: "pointmap" });
      expect(res.files).toEqual([join(dir, "points.ply")]);
      const ply = parsePly(readFileSync(join(dir, "points.ply")));
      expect(ply.count).toBe(sel.indices.length);
      expect(ply.pts.length).toBe(sel.indices.length);
      expect(ply.header).toContain("property float confidence");
      const HW = out.H * out.W;
      sel.indices.forEach((i, k) => {
        const p = ply.pts[k];
        // ASCII prints float32 with 9 significant digits, which parse back to the identical float32.
        for (let c = 0; c < 3; c++) expect(Math.fround(p.xyz[c])).toBe(out.worldPoints![3 * i + c]);
        expect(Math.fround(p.conf)).toBe(out.worldPointsConf![i]);
        const s = Math.floor(i / HW);
        for (let c = 0; c < 3; c++) expect(p.rgb[c]).toBe(Math.round(out.images![s * 3 * HW + c * HW + (i - s * HW)] * 255));
      });
    });
});

describe("COLMAP", () => {
  for (const kind of ["crop", "pad", "tensor"] as const)
    for (const binary of [false, true])
      it(`${kind}, ${binary ? "binary" : "text"}: cameras at original resolution, projections round-trip < ${PX_TOL} px`, async () => {
        const { out, imagesDir } = setup(kind);
        const dir = fresh();
        const res = await exportReconstruction(out, {
          format: binary ? "colmap-bin" : "colmap",
          outDir: dir,
          imagesDir,
          confPercentile: 30,
          points: "depth",
        });
        const sel = selectPoints(out, { confPercentile: 30, points: "depth" });
        const model = (binary ? readColmapBinary : readColmapText)(join(dir, "sparse", "0"));
        expect(model.cameras.size).toBe(3);
        expect(model.images.size).toBe(3);
        expect(model.points.size).toBe(sel.indices.length);
        for (const [id, cam] of model.cameras) {
          const f = out.frames?.[id - 1];
          expect(cam.model).toBe("PINHOLE");
          expect([cam.width, cam.height]).toEqual(f ? [f.orig_width, f.orig_height] : [out.W, out.H]);
        }
        const rt = colmapRoundTrip(model, out, out.worldPointsFromDepth!);
        expect(rt.points).toBe(sel.indices.length);
        expect(rt.maxProjErr).toBeLessThan(PX_TOL);
        expect(rt.maxPixelErr).toBeLessThan(1e-6);
        expect(rt.maxCenterErr).toBeLessThan(1e-6);
        // Images named as on disk and present (copied, or written as PNG from the tensor).
        for (const im of model.images.values()) {
          const file = join(dir, "images", im.name);
          expect(existsSync(file)).toBe(true);
          expect(await imageSize(file)).toEqual([model.cameras.get(im.cameraId)!.width, model.cameras.get(im.cameraId)!.height]);
        }
        expect(res.notes.some((m) => /model resolution/.test(m))).toBe(kind === "tensor");
      });

  it("text and binary hold the same model", async () => {
    const { out, imagesDir } = setup("pad");
    const a = fresh();
    const b = fresh();
    await exportReconstruction(out, { format: "colmap", outDir: a, imagesDir, confPercentile: 50 });
    await exportReconstruction(out, { format: "colmap-bin", outDir: b, imagesDir, confPercentile: 50 });
    const ta = readColmapText(join(a, "sparse/0"));
    const tb = readColmapBinary(join(b, "sparse/0"));
    expect([...ta.cameras.values()]).toEqual([...tb.cameras.values()]);
    // Text holds float32 coordinates with 9 digits and pixel positions with 6 decimals; binary holds doubles.
    const imgs = (m: typeof ta) => [...m.images.values()].map((im) => ({ ...im, points2D: im.points2D.map((p) => ({ ...p, x: Math.round(p.x * 1e5), y: Math.round(p.y * 1e5) })) }));
    expect(imgs(ta)).toEqual(imgs(tb));
    const pts = (m: typeof ta) => [...m.points.values()].map((p) => ({ ...p, xyz: p.xyz.map(Math.fround), error: 0 }));
    expect(pts(ta)).toEqual(pts(tb));
    // Errors are printed with 6 significant digits.
    for (const [id, p] of ta.points) expect(Math.abs(p.error - tb.points.get(id)!.error)).toBeLessThanOrEqual(1e-5 * Math.abs(p.error) + 1e-12);
    expect(ta.points.size).toBeGreaterThan(100);
  });

  it("shared SIMPLE_PINHOLE camera: one camera, mean focal; empty tracks when asked", async () => {
    const { out, imagesDir } = setup("crop");
    const dir = fresh();
    // Frames 0 and 2 have the same original size (560x420); frame 1 differs.
    await expect(
      exportReconstruction(out, { format: "colmap", outDir: fresh(), imagesDir, sharedCamera: true }),
    ).rejects.toThrow(/shared camera needs images of one size/);
    await exportReconstruction(out, {
      format: "colmap-bin",
      outDir: dir,
      imagesDir,
      frames: [0, 2],
      sharedCamera: true,
      cameraModel: "SIMPLE_PINHOLE",
      tracks: "none",
    });
    const m = readColmapBinary(join(dir, "sparse/0"));
    expect(m.cameras.size).toBe(1);
    const cam = m.cameras.get(1)!;
    expect(cam.model).toBe("SIMPLE_PINHOLE");
    const f = out.frames![0];
    const fx = (out.intrinsic[0] * f.scale_x + out.intrinsic[18] * f.scale_x) / 2;
    const fy = (out.intrinsic[4] * f.scale_y + out.intrinsic[22] * f.scale_y) / 2;
    expect(cam.params[0]).toBeCloseTo((fx + fy) / 2, 9);
    expect([...m.images.keys()]).toEqual([1, 3]);
    for (const im of m.images.values()) {
      expect(im.cameraId).toBe(1);
      expect(im.points2D.length).toBe(0);
    }
    for (const p of m.points.values()) {
      expect(p.track.length).toBe(0);
      expect(p.error).toBe(-1);
    }
  });

  it("intrinsics rescale exactly: cx = scale * (cx_model + 0.5 - offset_x) in COLMAP's pixel convention", async () => {
    const { out, imagesDir } = setup("pad");
    const dir = fresh();
    await exportReconstruction(out, { format: "colmap", outDir: dir, imagesDir });
    const m = readColmapText(join(dir, "sparse/0"));
    for (let s = 0; s < 3; s++) {
      const f = out.frames![s];
      const [fx, fy, cx, cy] = m.cameras.get(s + 1)!.params;
      expect(fx).toBeCloseTo(out.intrinsic[9 * s] * f.scale_x, 9);
      expect(fy).toBeCloseTo(out.intrinsic[9 * s + 4] * f.scale_y, 9);
      expect(cx).toBeCloseTo(f.scale_x * (out.intrinsic[9 * s + 2] + 0.5 - f.offset_x), 9);
      expect(cy).toBeCloseTo(f.scale_y * (out.intrinsic[9 * s + 5] + 0.5 - f.offset_y), 9);
      // VGGT puts cx = W/2 in pixel-index coordinates, i.e. half a model pixel right of the frame centre
      // (its own unprojection uses that K); so the exported point is half a model pixel off the original's
      // centre, where the official demo writes the exact centre and misaligns its depth points by as much.
      expect(cx).toBeCloseTo(f.orig_width / 2 + f.scale_x / 2, 6);
      expect(cy).toBeCloseTo(f.orig_height / 2 + f.scale_y / 2, 6);
    }
  });
});

describe("cameras JSON and nerfstudio", () => {
  it("cameras.json: camera-from-world and K at both resolutions reproject the engine's points", async () => {
    const { out, imagesDir } = setup("pad");
    const dir = fresh();
    await exportReconstruction(out, { format: "json", outDir: dir, imagesDir });
    const j = JSON.parse(readFileSync(join(dir, "cameras.json"), "utf8"));
    expect(j.cameras.length).toBe(3);
    for (const c of j.cameras) {
      const s = c.frame;
      const f = out.frames![s];
      expect(c.name).toBe(f.path);
      expect([c.width, c.height]).toEqual([f.orig_width, f.orig_height]);
      const T = c.camera_from_world;
      const R = [...T[0].slice(0, 3), ...T[1].slice(0, 3), ...T[2].slice(0, 3)] as Mat3;
      const t = [T[0][3], T[1][3], T[2][3]] as Vec3;
      expect(T[3]).toEqual([0, 0, 0, 1]);
      const Km = c.K_model.flat() as Mat3;
      const Ko = c.K_original.flat() as Mat3;
      for (const [u, v] of [[3, 4], [30, 20], [55, 55]]) {
        const i = (s * out.H + v) * out.W + u;
        const p = out.worldPointsFromDepth!.subarray(3 * i, 3 * i + 3);
        const pm = project(R, t, Km, p);
        expect(Math.abs(pm[0] - u) + Math.abs(pm[1] - v)).toBeLessThan(PX_TOL);
        const po = project(R, t, Ko, p);
        // OpenCV convention in the original: x = (u + 0.5 - ox) * sx - 0.5.
        expect(Math.abs(po[0] - ((u + 0.5 - f.offset_x) * f.scale_x - 0.5))).toBeLessThan(PX_TOL);
        expect(Math.abs(po[1] - ((v + 0.5 - f.offset_y) * f.scale_y - 0.5))).toBeLessThan(PX_TOL);
      }
      cameraCenter(R, t).forEach((v, i) => expect(c.center[i]).toBeCloseTo(v, 12));
    }
  });

  it("transforms.json: OpenGL camera-to-world, original-resolution intrinsics, relative file paths, point cloud", async () => {
    const { out, imagesDir } = setup("crop");
    const dir = fresh();
    const res = await exportReconstruction(out, { format: "nerfstudio", outDir: dir, imagesDir, confPercentile: 20 });
    const j = JSON.parse(readFileSync(join(dir, "transforms.json"), "utf8"));
    expect(j.ply_file_path).toBe("sparse_pc.ply");
    expect(res.files).toContain(join(dir, "sparse_pc.ply"));
    expect(j.frames.length).toBe(3);
    j.frames.forEach((fr: any, s: number) => {
      const f = out.frames![s];
      expect(fr.file_path).toBe(`images/${f.path}`);
      expect(existsSync(join(dir, fr.file_path))).toBe(true);
      expect([fr.w, fr.h]).toEqual([f.orig_width, f.orig_height]);
      const M = fr.transform_matrix as number[][];
      // A point in front of an OpenGL camera has negative camera z; project it with nerfstudio's model.
      for (const [u, v] of [[5, 6], [40, 30]]) {
        const i = (s * out.H + v) * out.W + u;
        const p = Array.from(out.worldPointsFromDepth!.subarray(3 * i, 3 * i + 3));
        const d = [p[0] - M[0][3], p[1] - M[1][3], p[2] - M[2][3]];
        const xc = M[0][0] * d[0] + M[1][0] * d[1] + M[2][0] * d[2];
        const yc = M[0][1] * d[0] + M[1][1] * d[1] + M[2][1] * d[2];
        const zc = M[0][2] * d[0] + M[1][2] * d[1] + M[2][2] * d[2];
        expect(zc).toBeLessThan(0);
        const x = fr.fl_x * (xc / -zc) + fr.cx;
        const y = fr.fl_y * (-yc / -zc) + fr.cy;
        expect(Math.abs(x - (u + 0.5 - f.offset_x) * f.scale_x)).toBeLessThan(PX_TOL);
        expect(Math.abs(y - (v + 0.5 - f.offset_y) * f.scale_y)).toBeLessThan(PX_TOL);
      }
    });
  });
});

describe("output folder", () => {
  it("refuses a non-empty folder unless forced or confirmed, and keeps it intact on refusal or failure", async () => {
    const { out, imagesDir } = setup("crop");
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, "keep.txt"), "earlier result");
    await expect(exportReconstruction(out, { format: "ply", outDir: dir })).rejects.toThrow(/not empty.*--force/);
    let asked: string[] = [];
    await expect(
      exportReconstruction(out, { format: "ply", outDir: dir, confirmOverwrite: (_d, e) => ((asked = e), false) }),
    ).rejects.toBeInstanceOf(ExportCancelledError);
    expect(asked).toEqual(["keep.txt"]);
    // A failure half-way (missing originals) must leave the folder as it was and no staging folder behind.
    await expect(
      exportReconstruction(out, { format: "colmap", outDir: dir, imagesDir: join(tmp, "nowhere"), force: true }),
    ).rejects.toThrow(/f0\.png: original image of frame 0 not found/);
    expect(readdirSync(dir)).toEqual(["keep.txt"]);
    const res = await exportReconstruction(out, { format: "colmap", outDir: dir, imagesDir, confirmOverwrite: () => true });
    expect(readdirSync(dir).sort()).toEqual(["images", "keep.txt", "sparse"]);
    expect(res.files).toContain(join(dir, "sparse/0/points3D.txt"));
    expect(readdirSync(tmp).filter((f) => f.includes(".export-"))).toEqual([]);
    // Re-export over it (force) replaces files in place.
    await exportReconstruction(out, { format: "colmap", outDir: dir, imagesDir, force: true, confPercentile: 90 });
    const m = readColmapText(join(dir, "sparse/0"));
    expect(m.points.size).toBe(selectPoints(out, { confPercentile: 90 }).indices.length);
  });

  it("checks original image sizes against the frame metadata", async () => {
    const { out, imagesDir } = setup("crop");
    const wrong: EngineOutput = { ...out, frames: out.frames!.map((f) => ({ ...f, orig_width: f.orig_width + 2 })) };
    await expect(exportReconstruction(wrong, { format: "colmap", outDir: fresh(), imagesDir })).rejects.toThrow(
      /f0\.png: is 560x420 but frame 0 was made from a 562x420 image/,
    );
  });
});

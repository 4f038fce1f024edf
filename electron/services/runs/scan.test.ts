import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { crc32, inspectImageBytes, scanPaths } from "./scan.js";
import { jpegBytes, pngBytes } from "./test-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "vggt-scan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("inspectImageBytes", () => {
  it("reads PNG and JPEG sizes", () => {
    expect(inspectImageBytes(pngBytes(8, 6))).toEqual({ format: "png", width: 8, height: 6 });
    expect(inspectImageBytes(jpegBytes(640, 480))).toEqual({ format: "jpeg", width: 640, height: 480 });
  });

  it("crc32 matches the reference value", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
  });

  it("names each kind of damage", () => {
    const png = pngBytes(8, 6);
    expect(() => inspectImageBytes(png.subarray(0, png.length - 20))).toThrow(/corrupt PNG: truncated/);
    const flipped = Buffer.from(png);
    flipped[45] ^= 0xff; // inside IDAT: the chunk checksum no longer matches
    expect(() => inspectImageBytes(flipped)).toThrow(/bad checksum in "IDAT"/);
    const jpg = jpegBytes();
    expect(() => inspectImageBytes(jpg.subarray(0, jpg.length - 2))).toThrow(/corrupt JPEG: truncated/);
    expect(() => inspectImageBytes(Buffer.from("hello, world\n"))).toThrow("not an image (text file)");
    expect(() => inspectImageBytes(Buffer.from("GIF89a\x01\x00\x01\x00"))).toThrow(/unsupported image format \(GIF\)/);
    expect(() => inspectImageBytes(Buffer.alloc(0))).toThrow("empty file");
  });
});

describe("scanPaths", () => {
  it("lists good images in natural order and every other file with its reason", () => {
    const d = join(dir, "scene");
    mkdirSync(join(d, "sub"), { recursive: true });
    writeFileSync(join(d, "frame_10.png"), pngBytes());
    writeFileSync(join(d, "frame_2.png"), pngBytes(10, 4));
    writeFileSync(join(d, "photo.JPG"), jpegBytes(320, 200));
    writeFileSync(join(d, "notes.txt"), "not an image");
    writeFileSync(join(d, "broken.png"), pngBytes().subarray(0, 30));
    writeFileSync(join(d, "fake.jpg"), Buffer.from("<html></html>"));
    writeFileSync(join(d, ".DS_Store"), "x");
    const r = scanPaths([d]);
    expect(r.images.map((i) => i.name)).toEqual(["frame_2.png", "frame_10.png", "photo.JPG"]);
    expect(r.images[0]).toMatchObject({ width: 10, height: 4, format: "png" });
    const reasons = Object.fromEntries(r.rejected.map((x) => [x.name, x.reason]));
    expect(reasons).toEqual({
      "broken.png": expect.stringMatching(/^corrupt PNG/),
      "fake.jpg": "not an image (text file)",
      "notes.txt": "not an image (text file)",
      sub: "folder (subfolders are not scanned)",
    });
  });

  it("reads a scene folder's images/ subfolder when the folder has no images itself, and says so", () => {
    const d = join(dir, "demo-scene");
    mkdirSync(join(d, "images"), { recursive: true });
    mkdirSync(join(d, "sparse"), { recursive: true });
    writeFileSync(join(d, "README.txt"), "scene");
    writeFileSync(join(d, "images", "b.png"), pngBytes());
    writeFileSync(join(d, "images", "a.jpg"), jpegBytes(64, 48));
    const r = scanPaths([d]);
    expect(r.images.map((i) => i.path)).toEqual([join(d, "images", "a.jpg"), join(d, "images", "b.png")]);
    expect(r.rejected).toEqual([]);
    expect(r.notes).toEqual([expect.stringMatching(/“demo-scene” holds no images of its own: using its images\/ subfolder/)]);
    // A folder with images of its own keeps them (images/ is then just a skipped subfolder).
    writeFileSync(join(d, "top.png"), pngBytes());
    const own = scanPaths([d]);
    expect(own.images.map((i) => i.name)).toEqual(["top.png"]);
    expect(own.notes).toBeUndefined();
  });

  it("names an empty folder", () => {
    const d = join(dir, "empty");
    mkdirSync(d);
    writeFileSync(join(d, ".hidden"), "x");
    expect(scanPaths([d])).toEqual({ images: [], rejected: [{ path: d, name: "empty", reason: "empty folder" }] });
  });

  it("reports missing paths instead of throwing", () => {
    const r = scanPaths([join(dir, "nope")]);
    expect(r.images).toEqual([]);
    expect(r.rejected[0].reason).toBe("file not found");
  });
});

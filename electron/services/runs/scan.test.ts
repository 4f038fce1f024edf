import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { crc32, deflateSync } from "node:zlib";
import { inspectImageBytes, MAX_IMAGE_PIXELS, scanPaths } from "./scan.js";
import { jpegBytes, pngBytes } from "../testing/images.js";

const dir = mkdtempSync(join(tmpdir(), "vggt-scan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("inspectImageBytes", () => {
  it("reads PNG and JPEG sizes", async () => {
    expect(await inspectImageBytes(pngBytes(8, 6))).toEqual({ format: "png", width: 8, height: 6 });
    expect(await inspectImageBytes(jpegBytes(640, 480))).toEqual({ format: "jpeg", width: 640, height: 480 });
  });

  it("names each kind of damage", async () => {
    const png = pngBytes(8, 6);
    await expect(inspectImageBytes(png.subarray(0, png.length - 20))).rejects.toThrow(/corrupt PNG: truncated/);
    const flipped = Buffer.from(png);
    flipped[45] ^= 0xff; // inside IDAT: the chunk checksum no longer matches
    await expect(inspectImageBytes(flipped)).rejects.toThrow(/bad checksum in "IDAT"/);
    const jpg = jpegBytes();
    await expect(inspectImageBytes(jpg.subarray(0, jpg.length - 2))).rejects.toThrow(/corrupt JPEG: truncated/);
    await expect(inspectImageBytes(Buffer.from("hello, world\n"))).rejects.toThrow("not an image (text file)");
    await expect(inspectImageBytes(Buffer.from("GIF89a\x01\x00\x01\x00"))).rejects.toThrow(/unsupported image format \(GIF\)/);
    await expect(inspectImageBytes(Buffer.alloc(0))).rejects.toThrow("empty file");
  });
});

describe("scanPaths", () => {
  it("lists good images in natural order and every other file with its reason", async () => {
    const d = join(dir, "scene");
    mkdirSync(join(d, "sub"), { recursive: true });
    writeFileSync(join(d, "frame_10.png"), pngBytes());
    writeFileSync(join(d, "frame_2.png"), pngBytes(10, 4));
    writeFileSync(join(d, "photo.JPG"), jpegBytes(320, 200));
    writeFileSync(join(d, "notes.txt"), "not an image");
    writeFileSync(join(d, "broken.png"), pngBytes().subarray(0, 30));
    writeFileSync(join(d, "fake.jpg"), Buffer.from("<html></html>"));
    writeFileSync(join(d, ".DS_Store"), "x");
    const r = await scanPaths([d]);
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

  it("reads a scene folder's images/ subfolder when the folder has no images itself, and says so", async () => {
    const d = join(dir, "demo-scene");
    mkdirSync(join(d, "images"), { recursive: true });
    mkdirSync(join(d, "sparse"), { recursive: true });
    writeFileSync(join(d, "README.txt"), "scene");
    writeFileSync(join(d, "images", "b.png"), pngBytes());
    writeFileSync(join(d, "images", "a.jpg"), jpegBytes(64, 48));
    const r = await scanPaths([d]);
    expect(r.images.map((i) => i.path)).toEqual([join(d, "images", "a.jpg"), join(d, "images", "b.png")]);
    expect(r.rejected).toEqual([]);
    expect(r.notes).toEqual([expect.stringMatching(/“demo-scene” holds no images of its own: using its images\/ subfolder/)]);
    // A folder with images of its own keeps them (images/ is then just a skipped subfolder).
    writeFileSync(join(d, "top.png"), pngBytes());
    const own = await scanPaths([d]);
    expect(own.images.map((i) => i.name)).toEqual(["top.png"]);
    expect(own.notes).toBeUndefined();
  });

  it("names an empty folder", async () => {
    const d = join(dir, "empty");
    mkdirSync(d);
    writeFileSync(join(d, ".hidden"), "x");
    expect(await scanPaths([d])).toEqual({ images: [], rejected: [{ path: d, name: "empty", reason: "empty folder" }] });
  });

  it("reports missing paths instead of throwing", async () => {
    const r = await scanPaths([join(dir, "nope")]);
    expect(r.images).toEqual([]);
    expect(r.rejected[0].reason).toBe("file not found");
  });
});

/** A PNG with any header and the given IDAT payload (chunk CRCs correct). */
function pngWith(width: number, height: number, bitDepth: number, colorType: number, idat: Buffer): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]);
}

describe("the engine's image limits", () => {
  it("refuses an aspect ratio above 16:1 either way, with the engine's wording", async () => {
    await expect(inspectImageBytes(pngBytes(1, 2000))).rejects.toThrow("image is 1 x 2000: aspect ratio above the limit of 1:16");
    await expect(inspectImageBytes(pngBytes(2000, 1))).rejects.toThrow("image is 2000 x 1: aspect ratio above the limit of 1:16");
    await expect(inspectImageBytes(pngBytes(16, 257))).rejects.toThrow(/aspect ratio above/);
    expect(await inspectImageBytes(pngBytes(16, 256))).toEqual({ format: "png", width: 16, height: 256 });
    await expect(inspectImageBytes(jpegBytes(100, 1700))).rejects.toThrow("image is 100 x 1700: aspect ratio above the limit of 1:16");
  });

  it("refuses more pixels than the engine from the header alone (a 16384^2 16-bit PNG is never inflated)", async () => {
    // The pixel data here is 12 bytes of garbage: only the header can have been read to refuse it.
    const huge = pngWith(16384, 16384, 16, 6, Buffer.from("not deflate!"));
    await expect(inspectImageBytes(huge)).rejects.toThrow(`image is 16384 x 16384: more than the limit of ${MAX_IMAGE_PIXELS} pixels`);
    await expect(inspectImageBytes(pngWith(16385, 100, 8, 0, Buffer.from("x")))).rejects.toThrow("image is 16385 x 100: larger than the limit of 16384 pixels per side");
  });

  it("checks a large PNG's pixel data without blocking: the event loop keeps turning while it inflates", async () => {
    const w = 4096;
    const h = 4096;
    const big = pngWith(w, h, 8, 0, deflateSync(Buffer.alloc((w + 1) * h)));
    let ticks = 0;
    let scanning = true;
    const spin = () => {
      if (!scanning) return;
      ticks++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const r = await inspectImageBytes(big);
    scanning = false;
    expect(r).toEqual({ format: "png", width: w, height: h });
    // 16 MiB inflated in 64 KiB pieces: other work runs between them (a synchronous inflate gives 0).
    expect(ticks).toBeGreaterThan(10);
    // A stream that ends early is still caught.
    const short = pngWith(w, h, 8, 0, deflateSync(Buffer.alloc(((w + 1) * h) / 2)));
    await expect(inspectImageBytes(short)).rejects.toThrow(/pixel data is incomplete/);
  });
});

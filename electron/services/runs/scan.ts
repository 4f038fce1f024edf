// Finding usable images in dropped/opened files and folders. Every file that cannot be used is
// reported with the reason instead of failing the whole scan; the engine only decodes PNG and
// JPEG, so those are validated here (structure, checksums, complete pixel data) before a run.
// The size comes from the header (sharp reads only that) and is checked against the engine's
// limits before any pixel data is touched; the PNG data check then inflates as a stream in
// zlib's thread pool, counting bytes, so a huge image neither blocks the app nor fills memory.
import { readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, extname, join, relative, resolve, sep } from "node:path";
import { crc32, createInflate } from "node:zlib";
import sharp, { type Metadata } from "sharp";

import { SCENE_IMAGES_SUBFOLDER, subfolderNote, useImagesSubfolder } from "../../../common/scene-folder.js";
import type { ImageEntry, ImageFormat, RejectedEntry, ScanResult } from "../../ipc/types.js";

export const MAX_IMAGE_BYTES = 256 * 1024 * 1024;
// The engine's limits, so that the scan refuses exactly what a run would refuse.
export const MAX_IMAGE_SIDE = 16384;
export const MAX_IMAGE_PIXELS = 2 * 89478485;
/** Longer side over shorter side, either orientation. */
export const MAX_ASPECT = 16;

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

export class ImageProblem extends Error {}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The engine's size limits, with its wording ("image is 1 x 2000: aspect ratio above ..."). */
export function checkImageSize(width: number, height: number): void {
  const is = `image is ${width} x ${height}`;
  if (!(width > 0 && height > 0)) throw new ImageProblem(`${is}: invalid size`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) throw new ImageProblem(`${is}: larger than the limit of ${MAX_IMAGE_SIDE} pixels per side`);
  if (width * height > MAX_IMAGE_PIXELS) throw new ImageProblem(`${is}: more than the limit of ${MAX_IMAGE_PIXELS} pixels`);
  if (Math.max(width, height) > MAX_ASPECT * Math.min(width, height)) throw new ImageProblem(`${is}: aspect ratio above the limit of 1:${MAX_ASPECT}`);
}

/** Width and height from the header, read by sharp (libvips) without decoding pixels. */
async function headerSize(b: Uint8Array, kind: string, parsed: { width: number; height: number }): Promise<{ width: number; height: number }> {
  let m: Metadata;
  try {
    m = await sharp(b, { limitInputPixels: MAX_IMAGE_PIXELS, sequentialRead: true }).metadata();
  } catch (e) {
    // sharp's own pixel limit (the engine's): report it in the engine's words.
    if (/exceeds pixel limit/.test((e as Error).message)) checkImageSize(parsed.width, parsed.height);
    throw new ImageProblem(`corrupt ${kind}: ${(e as Error).message.replace(/:\s*$/, "")}`);
  }
  if (!m.width || !m.height) throw new ImageProblem(`corrupt ${kind}: no image size in the header`);
  return { width: m.width, height: m.height };
}

/** Inflates in zlib's thread pool, discarding the output, until `expected` bytes came out. */
function inflatedAtLeast(chunks: Uint8Array[], expected: number): Promise<number> {
  return new Promise((ok, fail) => {
    const z = createInflate({ chunkSize: 1 << 16 });
    let n = 0;
    let done = false;
    const finish = (v: number) => {
      if (done) return;
      done = true;
      z.destroy();
      ok(v);
    };
    z.on("data", (c: Buffer) => {
      n += c.length;
      if (n >= expected) finish(n); // enough: trailing data is none of our business
    });
    z.on("end", () => finish(n));
    z.on("error", (e) => {
      if (!done) {
        done = true;
        fail(e);
      }
    });
    (async () => {
      for (const c of chunks) {
        if (done) return;
        if (!z.write(c)) await new Promise((r) => z.once("drain", r));
      }
      if (!done) z.end();
    })().catch(fail);
  });
}

async function inspectPng(b: Uint8Array): Promise<ImageHeader> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = 0;
  let interlace = 0;
  let sawEnd = false;
  const idat: Uint8Array[] = [];
  while (pos < b.length) {
    if (pos + 12 > b.length) throw new ImageProblem("corrupt PNG: truncated chunk header");
    const len = view.getUint32(pos);
    const type = String.fromCharCode(b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]);
    if (pos === 8 && (type !== "IHDR" || len !== 13)) throw new ImageProblem("corrupt PNG: missing or damaged header (IHDR)");
    if (pos + 12 + len > b.length) throw new ImageProblem(`corrupt PNG: truncated ${JSON.stringify(type)} chunk`);
    const crc = view.getUint32(pos + 8 + len);
    if (crc32(b.subarray(pos + 4, pos + 8 + len)) !== crc) throw new ImageProblem(`corrupt PNG: bad checksum in ${JSON.stringify(type)} chunk`);
    const data = b.subarray(pos + 8, pos + 8 + len);
    if (pos === 8) {
      if (type !== "IHDR" || len !== 13) throw new ImageProblem("corrupt PNG: missing IHDR");
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      bitDepth = data[8];
      colorType = data[9];
      interlace = data[12];
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") {
      sawEnd = true;
      break;
    }
    pos += 12 + len;
  }
  if (!sawEnd) throw new ImageProblem("corrupt PNG: truncated (no IEND chunk)");
  const hdr = await headerSize(b, "PNG", { width, height });
  if (hdr.width !== width || hdr.height !== height) throw new ImageProblem("corrupt PNG: inconsistent header");
  checkImageSize(width, height);
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (!channels || ![1, 2, 4, 8, 16].includes(bitDepth)) throw new ImageProblem(`corrupt PNG: invalid colour type ${colorType} / bit depth ${bitDepth}`);
  if (idat.length === 0) throw new ImageProblem("corrupt PNG: no image data");
  const rowBytes = (w: number) => Math.ceil((w * channels * bitDepth) / 8) + 1;
  let expected = 0;
  if (interlace) {
    // Adam7 passes: [x0, y0, dx, dy].
    for (const [x0, y0, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]) {
      const pw = Math.ceil((width - x0) / dx);
      const ph = Math.ceil((height - y0) / dy);
      if (pw > 0 && ph > 0) expected += ph * rowBytes(pw);
    }
  } else expected = height * rowBytes(width);
  let got: number;
  try {
    got = await inflatedAtLeast(idat, expected);
  } catch (e) {
    throw new ImageProblem(`corrupt PNG: image data does not decompress (${(e as Error).message})`);
  }
  if (got < expected) throw new ImageProblem(`corrupt PNG: pixel data is incomplete (${got} of ${expected} bytes)`);
  return { format: "png", width, height };
}

async function inspectJpeg(b: Uint8Array): Promise<ImageHeader> {
  let pos = 2;
  let size: { width: number; height: number } | null = null;
  while (pos < b.length) {
    if (b[pos] !== 0xff) throw new ImageProblem("corrupt JPEG: bad marker");
    const marker = b[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (pos + 4 > b.length) break;
    const len = (b[pos + 2] << 8) | b[pos + 3];
    if (len < 2 || pos + 2 + len > b.length) throw new ImageProblem("corrupt JPEG: truncated segment");
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (len < 8) throw new ImageProblem("corrupt JPEG: bad frame header");
      size = { height: (b[pos + 5] << 8) | b[pos + 6], width: (b[pos + 7] << 8) | b[pos + 8] };
    }
    if (marker === 0xda) {
      if (!size) throw new ImageProblem("corrupt JPEG: scan before frame header");
      // Entropy-coded data follows. FF D9 cannot occur inside it (FF is byte-stuffed there), so a
      // complete file has it after this point; trailing bytes after EOI are tolerated.
      let eoi = false;
      for (let i = b.length - 2; i > pos + 2; i--) {
        if (b[i] === 0xff && b[i + 1] === 0xd9) {
          eoi = true;
          break;
        }
      }
      if (!eoi) throw new ImageProblem("corrupt JPEG: truncated (no end-of-image marker)");
      const hdr = await headerSize(b, "JPEG", size);
      checkImageSize(hdr.width, hdr.height);
      return { format: "jpeg", ...hdr };
    }
    pos += 2 + len;
  }
  throw new ImageProblem("corrupt JPEG: no image data");
}

/** Identifies other formats so the user learns what the file is, not just "not an image". */
function sniffOther(b: Uint8Array): string | null {
  const ascii = (s: number, n: number) => String.fromCharCode(...b.subarray(s, s + n));
  if (ascii(0, 4) === "GIF8") return "GIF";
  if (ascii(0, 2) === "BM") return "BMP";
  if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") return "WebP";
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") return "TIFF";
  if (ascii(4, 4) === "ftyp") return "HEIF/AVIF";
  return null;
}

function looksLikeText(b: Uint8Array): boolean {
  const n = Math.min(b.length, 512);
  for (let i = 0; i < n; i++) {
    const c = b[i];
    if (c === 0 || (c < 9 && c !== 0) || (c > 13 && c < 32 && c !== 27)) return false;
  }
  return true;
}

/** Validates an image's bytes; rejects with ImageProblem and a user-facing reason. */
export async function inspectImageBytes(b: Uint8Array): Promise<ImageHeader> {
  if (b.length === 0) throw new ImageProblem("empty file");
  if (b.length >= 8 && PNG_SIG.every((v, i) => b[i] === v)) return inspectPng(b);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return inspectJpeg(b);
  const other = sniffOther(b);
  if (other) throw new ImageProblem(`unsupported image format (${other}); use PNG or JPEG`);
  throw new ImageProblem(looksLikeText(b) ? "not an image (text file)" : "not an image (unknown file type)");
}

function errnoReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM") return "cannot read: permission denied";
  if (code === "ENOENT") return "file not found";
  if (code === "EISDIR") return "is a folder";
  return `cannot read: ${(e as Error).message}`;
}

export async function inspectImageFile(path: string, name = basename(path)): Promise<ImageEntry | RejectedEntry> {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return { path, name, reason: "folder (subfolders are not scanned)" };
    if (!st.isFile()) return { path, name, reason: "not a regular file" };
    if (st.size > MAX_IMAGE_BYTES) return { path, name, reason: `file too large (${(st.size / 2 ** 20).toFixed(0)} MiB)` };
    const bytes = await readFile(path);
    if (bytes.length !== st.size) return { path, name, reason: "file changed while it was read" };
    const h = await inspectImageBytes(bytes);
    return { path, name, format: h.format, width: h.width, height: h.height, bytes: st.size };
  } catch (e) {
    if (e instanceof ImageProblem) return { path, name, reason: e.message };
    return { path, name, reason: errnoReason(e) };
  }
}

/** Natural sort so frame_2 comes before frame_10. */
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export function isWithin(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && !/^[a-zA-Z]:/.test(rel));
}

/**
 * Scans files and folders (folders one level deep, in natural name order; a folder without images
 * of its own but with an images/ subfolder is read from there, with a note). Hidden files
 * (.DS_Store, ...) are skipped silently; everything else that is not a usable image is rejected
 * with its reason.
 */
export async function scanPaths(paths: string[], opts: { allow?: (path: string) => boolean } = {}): Promise<ScanResult> {
  const images: ImageEntry[] = [];
  const rejected: RejectedEntry[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  const add = (r: ImageEntry | RejectedEntry) => {
    if (seen.has(r.path)) return;
    seen.add(r.path);
    if ("reason" in r) rejected.push(r);
    else images.push(r);
  };
  for (const raw of paths) {
    const p = resolve(raw);
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      add({ path: p, name: basename(p), reason: errnoReason(e) });
      continue;
    }
    if (!isDir) {
      add(await inspectImageFile(p));
      continue;
    }
    let dir = p;
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => !n.startsWith("."));
      const isFolder = (n: string) => {
        try {
          return statSync(join(dir, n)).isDirectory();
        } catch {
          return false;
        }
      };
      const listing = { files: names.filter((n) => !isFolder(n)), folders: names.filter(isFolder) };
      if (useImagesSubfolder(listing)) {
        dir = join(p, SCENE_IMAGES_SUBFOLDER);
        names = readdirSync(dir).filter((n) => !n.startsWith("."));
        notes.push(subfolderNote(basename(p)));
      }
    } catch (e) {
      add({ path: dir, name: basename(dir), reason: errnoReason(e) });
      continue;
    }
    if (names.length === 0) add({ path: dir, name: basename(dir), reason: "empty folder" });
    names.sort(collator.compare);
    for (const n of names) {
      const full = join(dir, n);
      const shown = paths.length === 1 ? n : `${basename(p)}/${n}`;
      // A folder entry may be a symlink to somewhere the caller may not read (web mode).
      if (opts.allow && !opts.allow(full)) {
        add({ path: full, name: shown, reason: "not accessible in web mode" });
        continue;
      }
      add(await inspectImageFile(full, shown));
    }
  }
  return notes.length ? { images, rejected, notes } : { images, rejected };
}

export function mimeOf(path: string): string {
  const e = extname(path).toLowerCase();
  return e === ".png" ? "image/png" : e === ".jpg" || e === ".jpeg" ? "image/jpeg" : "application/octet-stream";
}

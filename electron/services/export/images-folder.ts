// The `images/` folder COLMAP, gsplat and ns-process-data expect next to `sparse/0/`: the original files under
// their on-disk names, or (output made from a tensor) the preprocessed frames written as PNG.
import { copyFile, constants, mkdir, open, stat, symlink } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { EngineOutput } from "./engine-output.js";
import { encodePng } from "./png.js";
import { withWriter } from "./stream-writer.js";

export type ImagesMode = "copy" | "symlink" | "none";

export interface ExportImage {
  frame: number;
  /** Name in the model and under images/ (the on-disk base name of the original). */
  name: string;
  /** Original file, when there is one. */
  source?: string;
}

/** Names and source files of the frames; checks that originals exist and have the recorded size. */
export async function resolveImages(
  out: EngineOutput,
  frames: number[],
  imagesDir?: string,
  warnings: string[] = [],
  checkFiles = true,
): Promise<ExportImage[]> {
  const result: ExportImage[] = [];
  const names = new Map<string, number>();
  for (const s of frames) {
    const f = out.frames?.[s];
    let img: ExportImage;
    if (!f) {
      img = { frame: s, name: `frame_${String(s).padStart(4, "0")}.png` };
    } else {
      const name = basename(f.path.replace(/\\/g, "/"));
      const source = imagesDir ? join(imagesDir, name) : resolve(f.path);
      if (!checkFiles) {
        img = { frame: s, name, source: f.path };
        const prev = names.get(img.name);
        if (prev !== undefined) throw new Error(`frames ${prev} and ${s} both have the image name '${img.name}'`);
        names.set(img.name, s);
        result.push(img);
        continue;
      }
      let st;
      try {
        st = await stat(source);
      } catch {
        throw new Error(
          `${source}: original image of frame ${s} not found` + (imagesDir ? ` in --images ${imagesDir}` : ` (pass the images folder)`),
        );
      }
      if (!st.isFile()) throw new Error(`${source}: not a file`);
      const size = await imageSize(source);
      if (size) {
        if (size[0] === f.orig_height && size[1] === f.orig_width && size[0] !== size[1])
          warnings.push(
            `${source}: stored ${size[0]}x${size[1]} but the engine saw it rotated (${f.orig_width}x${f.orig_height}, EXIF orientation); tools that ignore EXIF will see a rotated image`,
          );
        else if (size[0] !== f.orig_width || size[1] !== f.orig_height)
          throw new Error(
            `${source}: is ${size[0]}x${size[1]} but frame ${s} was made from a ${f.orig_width}x${f.orig_height} image; wrong images folder?`,
          );
      }
      img = { frame: s, name, source };
    }
    const prev = names.get(img.name);
    if (prev !== undefined) throw new Error(`frames ${prev} and ${s} both have the image name '${img.name}'; COLMAP needs unique names`);
    names.set(img.name, s);
    result.push(img);
  }
  return result;
}

/** Writes the images folder; returns the written paths. */
export async function writeImagesFolder(dir: string, out: EngineOutput, images: ExportImage[], mode: ImagesMode): Promise<string[]> {
  if (mode === "none") return [];
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const img of images) {
    const dst = join(dir, img.name);
    if (img.source) {
      // Reflink where the file system can, a real copy otherwise; never a hard link that edits would share.
      if (mode === "symlink") await symlink(resolve(img.source), dst);
      else await copyFile(img.source, dst, constants.COPYFILE_FICLONE);
    } else {
      if (!out.images) throw new Error(`${out.source}: missing tensor 'images' to write frame ${img.frame} as an image`);
      const HW = out.H * out.W;
      const rgb = new Uint8Array(HW * 3);
      const base = img.frame * 3 * HW;
      for (let p = 0; p < HW; p++)
        for (let c = 0; c < 3; c++) {
          const v = Math.round(out.images[base + c * HW + p] * 255);
          rgb[3 * p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
      await withWriter(dst, (w) => w.write(encodePng(out.W, out.H, rgb)));
    }
    written.push(dst);
  }
  return written;
}

/** [width, height] from a PNG or JPEG header; undefined for other formats. */
export async function imageSize(path: string): Promise<[number, number] | undefined> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const b = head.subarray(0, bytesRead);
    if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return [b.readUInt32BE(16), b.readUInt32BE(20)];
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
      let pos = 2;
      let buf = b;
      for (;;) {
        if (pos + 9 > buf.length) {
          // Big EXIF/ICC segments can push the frame header past the first read.
          const more = Buffer.alloc(pos + 64 * 1024);
          const r = await fh.read(more, 0, more.length, 0);
          if (r.bytesRead <= buf.length) return undefined;
          buf = more.subarray(0, r.bytesRead);
          continue;
        }
        if (buf[pos] !== 0xff) return undefined;
        const marker = buf[pos + 1];
        if (marker === 0xff) {
          pos++;
          continue;
        }
        const len = buf.readUInt16BE(pos + 2);
        const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
        if (sof) return [buf.readUInt16BE(pos + 7), buf.readUInt16BE(pos + 5)];
        pos += 2 + len;
      }
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

// PLY point cloud: x y z float32, red green blue uchar, confidence float32 (extra property; MeshLab,
// CloudCompare and Open3D read the standard ones and ignore or expose the extra one).
import { pointArrays, type EngineOutput } from "./engine-output.js";
import { pixelColor, requireColors, type PointSelection } from "./point-selection.js";
import { f32, withWriter } from "./stream-writer.js";

export interface PlyOptions {
  ascii?: boolean;
  comment?: string;
}

const BLOCK = 65536;
const RECORD = 4 * 3 + 3 + 4;

export function plyHeader(count: number, ascii: boolean, comments: string[]): string {
  return [
    "ply",
    `format ${ascii ? "ascii" : "binary_little_endian"} 1.0`,
    ...comments.map((c) => `comment ${c.replace(/[\r\n]+/g, " ")}`),
    `element vertex ${count}`,
    "property float x",
    "property float y",
    "property float z",
    "property uchar red",
    "property uchar green",
    "property uchar blue",
    "property float confidence",
    "end_header",
    "",
  ].join("\n");
}

export async function writePly(path: string, out: EngineOutput, sel: PointSelection, opts: PlyOptions = {}): Promise<string> {
  requireColors(out);
  const { xyz, conf } = pointArrays(out, sel.points);
  const idx = sel.indices;
  const comments = ["VGGT Workbench export", `points ${sel.points === "depth" ? "world_points_from_depth" : "world_points"}`];
  if (opts.comment) comments.push(opts.comment);
  return withWriter(path, async (w) => {
    await w.write(plyHeader(idx.length, !!opts.ascii, comments));
    const rgb = new Uint8Array(3);
    for (let b = 0; b < idx.length; b += BLOCK) {
      const end = Math.min(idx.length, b + BLOCK);
      if (opts.ascii) {
        const lines: string[] = [];
        for (let k = b; k < end; k++) {
          const i = idx[k];
          pixelColor(out, i, rgb, 0);
          lines.push(`${f32(xyz[3 * i])} ${f32(xyz[3 * i + 1])} ${f32(xyz[3 * i + 2])} ${rgb[0]} ${rgb[1]} ${rgb[2]} ${f32(conf[i])}\n`);
        }
        await w.write(lines.join(""));
      } else {
        const buf = Buffer.allocUnsafe((end - b) * RECORD);
        const rgbView = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
        let o = 0;
        for (let k = b; k < end; k++) {
          const i = idx[k];
          buf.writeFloatLE(xyz[3 * i], o);
          buf.writeFloatLE(xyz[3 * i + 1], o + 4);
          buf.writeFloatLE(xyz[3 * i + 2], o + 8);
          pixelColor(out, i, rgbView, o + 12);
          buf.writeFloatLE(conf[i], o + 15);
          o += RECORD;
        }
        await w.write(buf);
      }
    }
  });
}

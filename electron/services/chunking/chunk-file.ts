// A chunk's engine output read piecewise (header, then frame ranges of single tensors by positional
// reads), so that aligning and merging hold a few frames of one tensor at a time, not whole files.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { DType } from "../tensors/safetensors.js";

export const DTYPE_SIZE: Record<DType, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4, I64: 8 };

export interface ChunkTensor {
  dtype: DType;
  shape: number[];
  /** Absolute byte offsets in the file. */
  start: number;
  end: number;
}

export class ChunkFileError extends Error {}

export class ChunkFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly tensors: Map<string, ChunkTensor>,
    readonly metadata: Record<string, string>,
  ) {}

  static open(path: string): ChunkFile {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const len = Buffer.alloc(8);
      readFull(fd, len, 0, path);
      const n = len.readBigUInt64LE(0);
      if (n > BigInt(Math.min(100 * 2 ** 20, size - 8))) throw new ChunkFileError(`${path}: truncated or not a safetensors file (header length ${n})`);
      const head = Buffer.alloc(Number(n));
      readFull(fd, head, 8, path);
      let parsed: unknown;
      try {
        parsed = JSON.parse(head.toString("utf8"));
      } catch {
        throw new ChunkFileError(`${path}: corrupt safetensors header`);
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ChunkFileError(`${path}: corrupt safetensors header`);
      const dataStart = 8 + Number(n);
      const tensors = new Map<string, ChunkTensor>();
      let metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(parsed as Record<string, any>)) {
        if (k === "__metadata__") {
          metadata = v;
          continue;
        }
        const bad = () => new ChunkFileError(`${path}: tensor '${k}' is mis-described in the header`);
        if (!v || !Object.prototype.hasOwnProperty.call(DTYPE_SIZE, v.dtype) || !Array.isArray(v.shape) || !Array.isArray(v.data_offsets)) throw bad();
        let bytes = DTYPE_SIZE[v.dtype as DType];
        for (const d of v.shape) {
          if (!Number.isSafeInteger(d) || d < 0) throw bad();
          bytes *= d;
        }
        const [a, b] = v.data_offsets;
        if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b - a !== bytes || dataStart + b > size) throw bad();
        tensors.set(k, { dtype: v.dtype, shape: v.shape, start: dataStart + a, end: dataStart + b });
      }
      return new ChunkFile(path, fd, tensors, metadata);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Raw bytes of frames [from, to) of a tensor whose first dimension is the frame. */
  frames(name: string, from: number, to: number): Uint8Array {
    const t = this.tensors.get(name);
    if (!t) throw new ChunkFileError(`${this.path}: missing tensor '${name}'`);
    const per = (t.end - t.start) / t.shape[0];
    // A fresh ArrayBuffer: 4-aligned for Float32Array views.
    const out = new Uint8Array((to - from) * per);
    readFull(this.fd, out, t.start + from * per, this.path);
    return out;
  }

  /** Frames [from, to) of an F32 tensor as floats. */
  framesF32(name: string, from: number, to: number): Float32Array {
    const t = this.tensors.get(name);
    if (t && t.dtype !== "F32") throw new ChunkFileError(`${this.path}: tensor '${name}' is ${t.dtype}, the merge expects F32`);
    const b = this.frames(name, from, to);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function readFull(fd: number, buf: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < buf.byteLength) {
    const n = readSync(fd, buf, done, buf.byteLength - done, position + done);
    if (n === 0) throw new ChunkFileError(`${path}: unexpected end of file`);
    done += n;
  }
}

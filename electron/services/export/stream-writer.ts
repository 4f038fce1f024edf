// Buffered sequential file writing so that multi-million-point exports never build one giant string/buffer.
import { open, type FileHandle } from "node:fs/promises";

const CHUNK = 4 << 20;

export class StreamWriter {
  private parts: Uint8Array[] = [];
  private pending = 0;
  bytes = 0;

  private constructor(
    private fh: FileHandle,
    readonly path: string,
  ) {}

  static async create(path: string): Promise<StreamWriter> {
    return new StreamWriter(await open(path, "wx"), path);
  }

  async write(data: Uint8Array | string): Promise<void> {
    const b = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    this.parts.push(b);
    this.pending += b.byteLength;
    this.bytes += b.byteLength;
    if (this.pending >= CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending === 0) return;
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.pending = 0;
    let off = 0;
    while (off < buf.byteLength) off += (await this.fh.write(buf, off, buf.byteLength - off)).bytesWritten;
  }

  /** Flush, fsync, close. */
  async close(): Promise<void> {
    try {
      await this.flush();
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  /** Close without caring about the content (error path). */
  async discard(): Promise<void> {
    this.parts = [];
    await this.fh.close().catch(() => {});
  }
}

/** Runs fn with a writer and always closes it. */
export async function withWriter(path: string, fn: (w: StreamWriter) => Promise<void>): Promise<string> {
  const w = await StreamWriter.create(path);
  try {
    await fn(w);
  } catch (e) {
    await w.discard();
    throw e;
  }
  await w.close();
  return path;
}

/** Shortest round-trip text of a number (float32 inputs print exactly as stored once widened to float64). */
export function num(x: number): string {
  return Object.is(x, -0) ? "0" : String(x);
}

/** A float32 value in text: 9 significant digits always parse back to the same float32, and format
 *  3x faster than the shortest float64 form of the widened value. */
export function f32(x: number): string {
  return Object.is(x, -0) ? "0" : x.toPrecision(9);
}

/** A pixel coordinate in text: 1e-6 px is far below any use (and far below float32 point precision). */
export function pix(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(6);
}

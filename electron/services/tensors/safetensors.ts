// Reading and writing .safetensors files (the engine's input and output format) in plain Node.
import { closeSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";

export type DType = "F32" | "F64" | "F16" | "BF16" | "I8" | "U8" | "I32" | "I64";

export interface TensorEntry {
  dtype: DType;
  shape: number[];
  /** Raw little-endian bytes of the tensor. */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

const DTYPE_SIZE: Record<DType, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4, I64: 8 };

/** A file that is not a well-formed safetensors file (names the file and the problem). */
export class SafetensorsError extends Error {}

/** Headers are a few hundred KB for VGGT-1B; a bigger one is damage or an attack on memory. */
export const MAX_HEADER_BYTES = 100 * 2 ** 20;

/** One tensor as the header describes it; begin/end are byte offsets into the data section. */
export interface HeaderTensor {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Length of the header's JSON text (the data section starts at 8 + this). */
  headerLength: number;
  tensors: HeaderTensor[];
  metadata: Record<string, string>;
}

export interface HeaderCheckOptions {
  /** dtypes accepted and their element sizes (default: every dtype the format names that we meet). */
  dtypes?: Record<string, number>;
  /** Require the tensors to tile the data section exactly (no holes, overlaps or trailing bytes). */
  exactTiling?: boolean;
}

/** Element sizes of the dtypes checkpoints use; readers of values support the DType subset. */
const HEADER_DTYPE_SIZE: Record<string, number> = { ...DTYPE_SIZE, I16: 2, BOOL: 1 };

/** The header length field of a file of `fileSize` bytes, checked; throws naming `source`. */
function headerLength(lengthField: bigint, fileSize: number, source: string): number {
  const bad = (msg: string) => new SafetensorsError(`${source}: ${msg}`);
  if (lengthField < 2n || lengthField > BigInt(MAX_HEADER_BYTES)) throw bad(`not a safetensors file (header length ${lengthField} is implausible)`);
  const n = Number(lengthField);
  if (8 + n > fileSize) throw bad(`truncated: the header needs ${8 + n} bytes but the file has ${fileSize}`);
  return n;
}

/**
 * Parses and checks a header's JSON text (`json`, from a file of `fileSize` bytes): dtypes, shapes
 * (checked element counts), offsets that match each tensor's size and lie inside the data section.
 */
function checkHeader(json: Uint8Array, fileSize: number, source: string, opts: HeaderCheckOptions): SafetensorsHeader {
  const bad = (msg: string) => new SafetensorsError(`${source}: ${msg}`);
  const sizes = opts.dtypes ?? HEADER_DTYPE_SIZE;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch {
    // JSON.parse quotes what it choked on: the message names the file, never echoes its bytes.
    throw bad("corrupt safetensors header (not valid UTF-8 JSON)");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw bad("corrupt safetensors header (not a JSON object)");
  const dataStart = 8 + json.byteLength;
  const dataSize = fileSize - dataStart;
  const tensors: HeaderTensor[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof info !== "object" || info === null || Array.isArray(info) || Object.values(info).some((v) => typeof v !== "string"))
        throw bad("__metadata__ must map names to strings");
      metadata = info as Record<string, string>;
      continue;
    }
    if (typeof info !== "object" || info === null) throw bad(`tensor '${name}' is not described by an object`);
    const { dtype, shape, data_offsets: off } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== "string" || !Object.prototype.hasOwnProperty.call(sizes, dtype))
      throw bad(`tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor '${name}' has an invalid shape`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0])
      throw bad(`tensor '${name}' has invalid data_offsets`);
    // Checked element count: a product past 2^53 can never match a real byte span.
    let bytes = sizes[dtype];
    for (const d of shape as number[]) {
      bytes *= d;
      if (bytes > Number.MAX_SAFE_INTEGER) throw bad(`tensor '${name}' has an impossible shape ${JSON.stringify(shape)}`);
    }
    if (off[1] - off[0] !== bytes) throw bad(`tensor '${name}' ${dtype}${JSON.stringify(shape)} needs ${bytes} bytes but its offsets span ${off[1] - off[0]}`);
    if (off[1] > dataSize)
      throw bad(`truncated: tensor '${name}' ends at byte ${dataStart + off[1]} but the file has ${fileSize} bytes (incomplete download or copy?)`);
    tensors.push({ name, dtype, shape: shape as number[], begin: off[0], end: off[1] });
  }
  if (opts.exactTiling) {
    // The format requires the tensors to tile the data section exactly: holes or overlaps mean damage.
    const ranges = [...tensors].sort((a, b) => a.begin - b.begin);
    let pos = 0;
    for (const t of ranges) {
      if (t.begin !== pos) throw bad(`corrupt: tensor '${t.name}' starts at data offset ${t.begin}, expected ${pos} (${t.begin < pos ? "overlap" : "hole"})`);
      pos = t.end;
    }
    if (pos !== dataSize) throw bad(`corrupt: ${dataSize - pos} unexpected trailing bytes after the last tensor`);
  }
  return { headerLength: json.byteLength, tensors, metadata };
}

/** Up to `len` bytes at `pos` (fewer only at the end of the file). */
export function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got === len ? b : b.subarray(0, got);
}

/** A file's header alone (the tensors are not read): for checks, listings and parameter counts. */
export function readSafetensorsHeader(path: string, opts: HeaderCheckOptions = {}): SafetensorsHeader {
  const st = statSync(path);
  // A FIFO or a device would block or never end.
  if (!st.isFile()) throw new SafetensorsError(`${path}: not a regular file`);
  if (st.size < 8) throw new SafetensorsError(`${path}: not a safetensors file (only ${st.size} bytes)`);
  const fd = openSync(path, "r");
  try {
    const n = headerLength(readAt(fd, 0, 8).readBigUInt64LE(0), st.size, path);
    return checkHeader(readAt(fd, 8, n), st.size, path, opts);
  } finally {
    closeSync(fd);
  }
}

export function parseSafetensors(buf: Uint8Array, source = "<buffer>"): SafetensorsFile {
  if (buf.byteLength < 8) throw new SafetensorsError(`${source}: not a safetensors file (only ${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = headerLength(view.getBigUint64(0, true), buf.byteLength, source);
  const h = checkHeader(buf.subarray(8, 8 + n), buf.byteLength, source, { dtypes: DTYPE_SIZE });
  const dataStart = 8 + n;
  const tensors = new Map<string, TensorEntry>();
  for (const t of h.tensors) tensors.set(t.name, { dtype: t.dtype as DType, shape: t.shape, bytes: buf.subarray(dataStart + t.begin, dataStart + t.end) });
  return { tensors, metadata: h.metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  // A FIFO or a device would block or never end.
  if (!statSync(path).isFile()) throw new SafetensorsError(`${path}: not a regular file`);
  return parseSafetensors(readFileSync(path), path);
}

/** A float32 copy of a tensor (F32, F64, F16 and BF16 are converted). */
export function toFloat32(t: TensorEntry, name = "tensor"): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case "BF16": {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, view.getUint16(2 * i, true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      return out;
    }
    case "F16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    default:
      throw new Error(`${name}: dtype ${t.dtype} is not floating point`);
  }
}

export function getFloat32(file: SafetensorsFile, name: string, source = "safetensors file"): { shape: number[]; data: Float32Array } {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`${source}: missing tensor '${name}'`);
  return { shape: t.shape, data: toFloat32(t, name) };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

export interface TensorToWrite {
  dtype: DType;
  shape: number[];
  data: ArrayBufferView;
}

export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8) json += " ";
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const parts: Uint8Array[] = [head, Buffer.from(json)];
  for (const t of Object.values(tensors)) parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return Buffer.concat(parts);
}

/** Atomic write: temp file beside the target, fsync, rename. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

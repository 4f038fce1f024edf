// Web-mode wire format for values that hold typed arrays (point clouds, thumbnails, exports).
// Electron's structured clone carries typed arrays natively; HTTP needs this instead of JSON
// (JSON would turn 4.5 M floats into ~60 MB of text).
//
// Layout: "VGB1" | u32 LE json byte length | json (space-padded to 8 bytes) | buffers (each 8-aligned).
// In the json a typed array is {"$ta": "<ctor>", "o": byte offset after the json, "n": element count}.

type TypedArray = Float32Array | Float64Array | Uint8Array | Uint16Array | Uint32Array | Int32Array | Int16Array | Int8Array;

const CTORS = {
  Float32Array,
  Float64Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int32Array,
  Int16Array,
  Int8Array,
} as const;
type CtorName = keyof typeof CTORS;

const MAGIC = [0x56, 0x47, 0x42, 0x31]; // "VGB1"
export const WIRE_MIME = "application/x-vggt-wire";

function ctorName(v: unknown): CtorName | null {
  if (!ArrayBuffer.isView(v) || v instanceof DataView) return null;
  const name = (v as TypedArray).constructor.name as CtorName;
  // Node Buffers are Uint8Arrays.
  if (name in CTORS) return name;
  if (v instanceof Uint8Array) return "Uint8Array";
  return null;
}

export function hasTypedArrays(value: unknown): boolean {
  if (ctorName(value)) return true;
  if (Array.isArray(value)) return value.some(hasTypedArrays);
  if (value && typeof value === "object") return Object.values(value).some(hasTypedArrays);
  return false;
}

export function encodeWire(value: unknown): Uint8Array {
  const buffers: { arr: TypedArray; offset: number }[] = [];
  let offset = 0;
  const json = JSON.stringify(value, function (this: unknown, _key, v) {
    const name = ctorName(v);
    if (!name) return v;
    const arr = v as TypedArray;
    const entry = { arr, offset };
    buffers.push(entry);
    offset += Math.ceil(arr.byteLength / 8) * 8;
    return { $ta: name, o: entry.offset, n: arr.length };
  });
  let jsonBytes = new TextEncoder().encode(json);
  const padded = Math.ceil((8 + jsonBytes.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded + offset);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, padded, true);
  out.fill(0x20, 8, 8 + padded);
  out.set(jsonBytes, 8);
  jsonBytes = new Uint8Array(0);
  const base = 8 + padded;
  for (const { arr, offset: o } of buffers) out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), base + o);
  return out;
}

export function decodeWire<T = unknown>(buf: ArrayBuffer | Uint8Array): T {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  if (bytes.length < 8 || MAGIC.some((m, i) => bytes[i] !== m)) throw new Error("wire: not a VGB1 message");
  const jsonLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true);
  if (8 + jsonLen > bytes.length) throw new Error("wire: truncated header");
  const base = 8 + jsonLen;
  const text = new TextDecoder().decode(bytes.subarray(8, base));
  return JSON.parse(text, (_key, v) => {
    if (v && typeof v === "object" && typeof v.$ta === "string" && v.$ta in CTORS) {
      const Ctor = CTORS[v.$ta as CtorName];
      const start = base + v.o;
      const len = v.n * Ctor.BYTES_PER_ELEMENT;
      if (start + len > bytes.length) throw new Error("wire: truncated buffer");
      // Copy into a fresh, aligned buffer (the source offset is 8-aligned only relative to base).
      const copy = new Uint8Array(len);
      copy.set(bytes.subarray(start, start + len));
      return new Ctor(copy.buffer);
    }
    return v;
  }) as T;
}

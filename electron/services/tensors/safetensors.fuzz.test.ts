// Fuzz-style test of the safetensors reader: seeded mutations of valid files (bytes, and the JSON
// header by structure) may only ever raise SafetensorsError; what is accepted is self-consistent.
import { describe, expect, it } from "vitest";
import { expectOnlyTyped, mutateBytes, mutateJson, rng } from "../testing/mutate.js";
import { encodeSafetensors, parseSafetensors, SafetensorsError, toFloat32 } from "./safetensors.js";

const SIZE: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4, I64: 8 };

function seeds(): Buffer[] {
  return [
    encodeSafetensors({ a: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) } }, { frames: "[]" }),
    encodeSafetensors(
      {
        images: { dtype: "F32", shape: [1, 3, 2, 2], data: new Float32Array(12).fill(0.5) },
        depth: { dtype: "F32", shape: [1, 2, 2, 1], data: new Float32Array([1, 2, 3, 4]) },
      },
      { model: "x" },
    ),
  ];
}

/** Splits a file into its header object and data section, to mutate the header by structure. */
function split(b: Buffer): { header: unknown; data: Buffer } {
  const n = Number(b.readBigUInt64LE(0));
  return { header: JSON.parse(b.subarray(8, 8 + n).toString("utf8")), data: b.subarray(8 + n) };
}

function join(header: unknown, data: Buffer): Buffer {
  const h = Buffer.from(JSON.stringify(header) ?? "null");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

function parseAndUse(b: Buffer): void {
  const f = parseSafetensors(b, "fuzz.safetensors");
  for (const [name, t] of f.tensors) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    expect(t.bytes.length, name).toBe(n * SIZE[t.dtype]);
    if (["F32", "F64", "F16", "BF16"].includes(t.dtype) && n < 1e6) expect(toFloat32(t).length).toBe(n);
  }
}

describe("parseSafetensors under mutation (seeded, bounded)", () => {
  it("byte mutations: only SafetensorsError, never another exception", () => {
    const r = rng(1301);
    const inputs = function* () {
      for (let i = 0; i < 4000; i++) for (const s of seeds()) if (r() < 0.5) yield mutateBytes(s, r);
    };
    const { accepted, refused } = expectOnlyTyped(inputs(), parseAndUse, [SafetensorsError]);
    expect(refused).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(10); // mutations of data bytes stay valid files
  });

  it("header mutations (shapes past 2^53, negative offsets, nulls, wrong types): only SafetensorsError", () => {
    const r = rng(1302);
    const inputs = function* () {
      for (let i = 0; i < 3000; i++)
        for (const s of seeds()) {
          const { header, data } = split(s);
          yield join(mutateJson(header, r), data);
        }
    };
    const { accepted, refused } = expectOnlyTyped(inputs(), parseAndUse, [SafetensorsError]);
    expect(refused).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(10);
  });

  it("the overflowing shape of a 2.5 KB hostile tensor is refused, not read past the buffer", () => {
    const data = Buffer.alloc(2352);
    const evil = join({ images: { dtype: "F32", shape: [2 ** 62 + 1, 3, 14, 14], data_offsets: [0, 2352] } }, data);
    expect(() => parseSafetensors(evil, "evil.safetensors")).toThrow(SafetensorsError);
    expect(() => parseSafetensors(evil, "evil.safetensors")).toThrow("evil.safetensors: tensor 'images'");
    const neg = join({ t: { dtype: "F32", shape: [-1, -4], data_offsets: [0, 16] } }, Buffer.alloc(16));
    expect(() => parseSafetensors(neg, "n")).toThrow("n: tensor 't' has an invalid shape");
  });
});

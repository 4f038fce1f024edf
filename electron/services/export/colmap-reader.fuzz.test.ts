// Fuzz-style test of the COLMAP model reader (text and binary): seeded mutations of a real export
// may only raise ColmapFormatError, never a RangeError, a SyntaxError from BigInt or a hang on a
// count of 2^64-1.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOnlyTyped, mutateBytes, rng } from "../testing/mutate.js";
import { ColmapFormatError, parseColmapBinary, parseColmapText, type ColmapBuffers } from "./colmap-reader.js";
import { exportReconstruction } from "./index.js";
import { syntheticOutput } from "./test-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-colmap-fuzz-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FILES = ["cameras", "images", "points3D"] as const;
let text: Record<(typeof FILES)[number], Buffer>;
let bin: Record<(typeof FILES)[number], Buffer>;

beforeAll(async () => {
  // A small model (few points) so that each mutation is cheap: 2 frames of 7x4 pixels.
  const out = syntheticOutput({ S: 2, W: 7, H: 4, seed: 3 });
  for (const format of ["colmap", "colmap-bin"] as const) {
    const dir = join(tmp, format);
    await exportReconstruction(out, { format, outDir: dir, confPercentile: 50 });
    const ext = format === "colmap" ? "txt" : "bin";
    const files = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(dir, "sparse", "0", `${f}.${ext}`))])) as typeof text;
    if (format === "colmap") text = files;
    else bin = files;
  }
});

function* mutants<T>(base: Record<(typeof FILES)[number], Buffer>, seed: number, n: number, wrap: (m: Record<string, Buffer>) => T) {
  const r = rng(seed);
  for (let i = 0; i < n; i++) {
    const which = FILES[i % 3];
    yield wrap({ ...base, [which]: mutateBytes(base[which], r) });
  }
}

describe("COLMAP reader under mutation (seeded, bounded)", () => {
  it("reads the unmutated models", () => {
    const a = parseColmapText({ cameras: text.cameras.toString(), images: text.images.toString(), points3D: text.points3D.toString() });
    const b = parseColmapBinary(bin as ColmapBuffers);
    expect(a.images.size).toBe(2);
    expect(b.points.size).toBe(a.points.size);
  });

  it("text: only ColmapFormatError", () => {
    const toText = (m: Record<string, Buffer>) => ({ cameras: m.cameras.toString(), images: m.images.toString(), points3D: m.points3D.toString() });
    const { refused, accepted } = expectOnlyTyped(mutants(text, 1305, 3000, toText), parseColmapText, [ColmapFormatError]);
    expect(refused).toBeGreaterThan(300);
    expect(accepted).toBeGreaterThan(300);
  });

  it("binary: only ColmapFormatError (counts of 2^64-1 are refused before looping)", () => {
    const { refused, accepted } = expectOnlyTyped(mutants(bin, 1306, 3000, (m) => m as unknown as ColmapBuffers), parseColmapBinary, [ColmapFormatError]);
    expect(refused).toBeGreaterThan(300);
    expect(accepted).toBeGreaterThan(100);
    const huge = Buffer.from(bin.points3D);
    huge.writeBigUInt64LE(0xffffffffffffffffn, 0);
    expect(() => parseColmapBinary({ ...bin, points3D: huge } as ColmapBuffers, "/m")).toThrow("/m/points3D.bin: 3-D point count 18446744073709551615 does not fit in the file");
  });
});

// Fuzz-style test of the checkpoint header readers (safetensors header, zip central directory of
// .pt files): seeded mutations of valid files may only raise ModelError INVALID_CHECKPOINT.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectOnlyTyped, mutateBytes, mutateJson, rng } from "../testing/mutate.js";
import { ModelError } from "./errors.js";
import { checkpointBytes, fakePtBytes } from "./test-fixtures.js";
import { readSafetensorsHeader, readZipDirectory } from "./validate.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-hdr-fuzz-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = join(tmp, "x");

/** Writes each input to one file and runs `read` on it; ModelError must say INVALID_CHECKPOINT. */
function viaFile(read: (p: string) => unknown) {
  return (b: Buffer) => {
    writeFileSync(file, b);
    try {
      return read(file);
    } catch (e) {
      if (e instanceof ModelError) expect(e.code).toBe("INVALID_CHECKPOINT");
      throw e;
    }
  };
}

describe("checkpoint header readers under mutation (seeded, bounded)", () => {
  it("safetensors header: byte and JSON-structure mutations only raise ModelError", () => {
    const seed = checkpointBytes();
    const n = Number(seed.readBigUInt64LE(0));
    const header = JSON.parse(seed.subarray(8, 8 + n).toString("utf8"));
    const data = seed.subarray(8 + n);
    const r = rng(1307);
    const inputs = function* () {
      for (let i = 0; i < 300; i++) {
        if (i % 2) yield mutateBytes(seed.subarray(0, 8 + n + 64), r); // header region (data truncated: refused anyway)
        else {
          const h = Buffer.from(JSON.stringify(mutateJson(header, r)) ?? "null");
          const len = Buffer.alloc(8);
          len.writeBigUInt64LE(BigInt(h.length));
          yield Buffer.concat([len, h, data]);
        }
      }
    };
    const { refused, accepted } = expectOnlyTyped(inputs(), viaFile(readSafetensorsHeader), [ModelError]);
    expect(refused).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(5);
  });

  it("zip central directory of .pt files: mutations only raise ModelError", () => {
    const seeds = [fakePtBytes(), fakePtBytes({ zip64: true })];
    const r = rng(1308);
    const inputs = function* () {
      for (let i = 0; i < 800; i++) yield mutateBytes(seeds[i % 2], r);
    };
    const { refused, accepted } = expectOnlyTyped(inputs(), viaFile(readZipDirectory), [ModelError]);
    expect(refused).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(50);
  });
});

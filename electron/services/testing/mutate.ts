// Seeded mutation of valid inputs for the fuzz-style tests of our parsers of outside data (the
// TypeScript counterpart of the engine's libFuzzer harnesses): reproducible from the seed, bounded
// in iterations, and aimed at what breaks parsers (lengths, counts, offsets, truncation).

import { rng } from "../../../common/rng.js";

export { rng };

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x5b, 0x7b, 0x2d, 0x30, 0x39];

/** One to four byte-level mutations of `input` (a new buffer). */
export function mutateBytes(input: Uint8Array, r: () => number): Buffer {
  let b = Buffer.from(input);
  const pick = (n: number) => Math.floor(r() * n);
  for (let k = 1 + pick(4); k > 0; k--) {
    const at = b.length ? pick(b.length) : 0;
    switch (pick(7)) {
      case 0: // bit flip
        if (b.length) b[at] ^= 1 << pick(8);
        break;
      case 1: // interesting byte
        if (b.length) b[at] = INTERESTING[pick(INTERESTING.length)];
        break;
      case 2: // truncate
        b = b.subarray(0, pick(b.length + 1));
        break;
      case 3: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256))), b.subarray(at)]);
        break;
      case 4: // duplicate a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + pick(64)), b.subarray(at)]);
        break;
      case 5: // 32/64-bit little- or big-endian extreme value
        if (b.length >= at + 8) {
          const v = [0xffffffffn, 0x7fffffffn, 0x80000000n, 0xffffffffffffffffn, 0x4000000000000001n, 0n][pick(6)];
          if (r() < 0.5) b.writeBigUInt64LE(v & 0xffffffffffffffffn, at);
          else b.writeUInt32BE(Number(v & 0xffffffffn), at);
        }
        break;
      case 6: // delete a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(32))]);
        break;
    }
  }
  return b;
}

const JSON_VALUES: unknown[] = [null, true, -1, 0, 1.5, 2 ** 53, 2 ** 62 + 1, 1e308, -1e308, "x", "", [], {}, [2 ** 62, 3, 14, 14], [-1, 4], [0, 1e20], { dtype: "F32" }];

/** A structure-aware mutation of a JSON value: replace, delete or add a field somewhere inside. */
export function mutateJson(v: unknown, r: () => number, depth = 0): unknown {
  const pick = (n: number) => Math.floor(r() * n);
  if (depth > 6 || v === null || typeof v !== "object" || r() < 0.15) return r() < 0.8 ? JSON_VALUES[pick(JSON_VALUES.length)] : v;
  if (Array.isArray(v)) {
    const a = [...v];
    if (a.length && r() < 0.8) a[pick(a.length)] = mutateJson(a[pick(a.length)], r, depth + 1);
    else if (r() < 0.5) a.pop();
    else a.push(JSON_VALUES[pick(JSON_VALUES.length)]);
    return a;
  }
  const o = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  const c = pick(10);
  if (keys.length && c < 7) {
    const k = keys[pick(keys.length)];
    o[k] = mutateJson(o[k], r, depth + 1);
  } else if (keys.length && c < 9) delete o[keys[pick(keys.length)]];
  else o[`k${pick(100)}`] = JSON_VALUES[pick(JSON_VALUES.length)];
  return o;
}

/** Runs `parse` on each input; any error must be an instance of one of `allowed`. Returns how
 *  many inputs were accepted (so a test can also check the fuzzer reached the parser's depths). */
export function expectOnlyTyped(inputs: Iterable<unknown>, parse: (x: any) => unknown, allowed: (new (...a: any[]) => Error)[]): { accepted: number; refused: number } {
  let accepted = 0;
  let refused = 0;
  let i = 0;
  for (const x of inputs) {
    try {
      parse(x);
      accepted++;
    } catch (e) {
      if (!allowed.some((A) => e instanceof A))
        throw new Error(`input #${i} raised ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} (not one of ${allowed.map((a) => a.name).join(", ")})`);
      refused++;
    }
    i++;
  }
  return { accepted, refused };
}

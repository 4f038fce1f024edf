// Fuzz-style test of the engine stdout framing and event parser: random byte streams cut into
// random chunks give exactly the lines a plain split gives (oversized lines dropped and reported),
// and parseEvent only ever raises ProtocolError.
import { describe, expect, it } from "vitest";
import { expectOnlyTyped, mutateBytes, rng } from "../testing/mutate.js";
import { LineSplitter } from "./line-framing.js";
import { parseEvent, ProtocolError } from "./protocol.js";

/** What the splitter must produce: split on \n, strip one \r, drop empty and oversized lines. */
function reference(bytes: Buffer, max: number): { lines: string[]; oversized: number } {
  const lines: string[] = [];
  let oversized = 0;
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    const piece = bytes.subarray(start, nl < 0 ? bytes.length : nl);
    if (piece.length > max) oversized++;
    else {
      let l = piece.toString("utf8");
      if (l.endsWith("\r")) l = l.slice(0, -1);
      if (l.length) lines.push(l);
    }
    if (nl < 0) break;
    start = nl + 1;
  }
  return { lines, oversized };
}

describe("LineSplitter under random streams (seeded, bounded)", () => {
  it("random bytes in random chunks: the same lines as a plain split, oversized ones reported", () => {
    const r = rng(1303);
    for (let iter = 0; iter < 1500; iter++) {
      const n = Math.floor(r() * 600);
      const alphabet = [0x0a, 0x0d, 0x41, 0x7b, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff, 0x00];
      const bytes = Buffer.from(Array.from({ length: n }, () => (r() < 0.6 ? alphabet[Math.floor(r() * alphabet.length)] : Math.floor(r() * 256))));
      const max = 1 + Math.floor(r() * 64);
      let reported = 0;
      const sp = new LineSplitter(max, () => reported++);
      const got: string[] = [];
      for (let at = 0; at < bytes.length; ) {
        const len = 1 + Math.floor(r() * 40);
        got.push(...sp.push(bytes.subarray(at, at + len)));
        at += len;
      }
      got.push(...sp.end());
      const want = reference(bytes, max);
      expect(got, `iteration ${iter}`).toEqual(want.lines);
      expect(reported, `iteration ${iter}`).toBe(want.oversized);
    }
  });

  it("parseEvent: mutated protocol lines only raise ProtocolError", () => {
    const r = rng(1304);
    const valid = [
      '{"type":"hello","version":"0.1.0","protocol":1}',
      '{"type":"progress","id":3,"stage":"encoder","step":1,"total":24,"elapsed_ms":10}',
      '{"type":"result","id":3,"ok":true,"result":{"stages":[]}}',
      '{"type":"error","id":null,"code":"bad_input","message":"x"}',
    ];
    const inputs = function* () {
      for (let i = 0; i < 4000; i++) yield mutateBytes(Buffer.from(valid[i % valid.length]), r).toString("utf8");
      yield* ["", "null", "[]", "[1]", '"type"', "1e999", '{"type":{}}', "{".repeat(100000)];
    };
    const { accepted, refused } = expectOnlyTyped(inputs(), parseEvent, [ProtocolError]);
    expect(refused).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(10);
  });
});

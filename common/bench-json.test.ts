import { describe, expect, it } from "vitest";

import { BenchJsonError, parseBenchJson, validateBenchJson } from "./bench-json.js";
import { abFixture, cumulativeFixture } from "./bench-fixtures.js";

const SRC = "bench.json";

function broken(mutate: (j: any) => void, base = cumulativeFixture()): unknown {
  const j = structuredClone(base) as any;
  mutate(j);
  return j;
}

describe("benchmark JSON (vggt-bench/1)", () => {
  it("accepts the documented shapes and keeps every row", () => {
    const c = parseBenchJson(JSON.stringify(cumulativeFixture()), SRC);
    expect(c.rows).toHaveLength(10);
    expect(c.rows[0].added).toBeNull();
    const ab = validateBenchJson(abFixture(), SRC);
    expect(ab.pairs).toHaveLength(3);
    expect(ab.rows[0].accuracy).toBeNull();
    expect(ab.rows[1].accuracy?.depth_rel).toBe(0.004);
  });

  it("keeps fields a newer engine adds", () => {
    const j = validateBenchJson(broken((x) => (x.rows[0].stages[0].gflops = 12.5)), SRC) as any;
    expect(j.rows[0].stages[0].gflops).toBe(12.5);
  });

  it("reads each row's process peak RSS and its scope, and the process's lifetime peak", () => {
    const j = validateBenchJson(broken((x) => {
      x.rows[0].peak_rss_bytes = 8.6e9;
      x.rows[0].peak_rss_scope = "row";
      x.peak_rss_bytes = 9e9;
    }, abFixture()), SRC);
    expect(j.rows[0]).toMatchObject({ peak_rss_bytes: 8.6e9, peak_rss_scope: "row" });
    expect(j.rows[1].peak_rss_bytes).toBeUndefined();
    expect(j.peak_rss_bytes).toBe(9e9);
  });

  const cases: [string, unknown, RegExp][] = [
    ["negative process peak", JSON.stringify(broken((j) => (j.rows[0].peak_rss_bytes = -1))), /rows\[0\]\.peak_rss_bytes: must be >= 0/],
    ["string lifetime peak", JSON.stringify(broken((j) => (j.peak_rss_bytes = "9 GB"))), /peak_rss_bytes: expected a finite number/],
    ["empty stdout", "", /printed nothing/],
    ["not JSON", "vggt-engine bench: error: --ab needs a value", /not valid JSON/],
    ["the old bench format", JSON.stringify({ median_ms: 1, latency_ms: [1] }), /schema: expected "vggt-bench\/1"/],
    ["wrong kind", JSON.stringify(broken((j) => (j.kind = "sweep"))), /kind: expected "single", "cumulative" or "ab"/],
    ["missing median", JSON.stringify(broken((j) => delete j.rows[2].median_ms)), /rows\[2\]\.median_ms: expected a finite number, got undefined/],
    ["string latency", JSON.stringify(broken((j) => (j.rows[1].latency_ms[0] = "12"))), /rows\[1\]\.latency_ms\[0\]: expected a non-negative number/],
    ["empty latency", JSON.stringify(broken((j) => (j.rows[1].latency_ms = []))), /rows\[1\]\.latency_ms: is empty/],
    ["negative stage time", JSON.stringify(broken((j) => (j.rows[0].stages[1].ms = -1))), /rows\[0\]\.stages\[1\]\.ms: must be >= 0/],
    ["non-boolean option", JSON.stringify(broken((j) => (j.rows[0].options.bf16 = 1))), /rows\[0\]\.options\.bf16: expected true or false/],
    ["baseline not first", JSON.stringify(broken((j) => (j.rows[0].added = "bf16"))), /rows\[0\]\.added: the first cumulative row is the baseline/],
    ["NaN smuggled as null", JSON.stringify(broken((j) => (j.rows[3].speedup = null))), /rows\[3\]\.speedup: expected a finite number, got null/],
    ["machine missing", JSON.stringify(broken((j) => delete j.machine)), /machine: expected an object, got undefined/],
    ["A/B with three rows", JSON.stringify(broken((j) => j.rows.push(j.rows[0]), abFixture())), /rows: an A\/B benchmark has 2 rows/],
    ["A/B without pairs", JSON.stringify(broken((j) => delete j.pairs, abFixture())), /pairs: expected an array/],
    ["A/B ratio out of order", JSON.stringify(broken((j) => (j.ratio.min = 5), abFixture())), /ratio: expected min <= median <= max/],
    ["accuracy incomplete", JSON.stringify(broken((j) => delete j.rows[1].accuracy.rotation_deg, abFixture())), /rows\[1\]\.accuracy\.rotation_deg/],
  ];
  for (const [name, text, re] of cases)
    it(`rejects ${name} with an error naming the source and the field`, () => {
      const err = (() => {
        try {
          parseBenchJson(text as string, SRC);
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(BenchJsonError);
      expect(err!.message.startsWith(`${SRC}: `)).toBe(true);
      expect(err!.message).toMatch(re);
    });
});

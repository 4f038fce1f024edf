// Parses and checks `vggt-engine bench --json` output against docs/BENCH-JSON.md (vggt-bench/1).
// Malformed output is rejected with an error that names the source and the offending field, so
// a bad engine build never turns into a chart of garbage. Unknown extra fields are kept
// (newer engines may add some). No Node imports: the renderer uses this module too.
import type { BenchAccuracy, BenchJson, BenchKind, BenchPair, BenchRow, BenchStage, OptionSet } from "./bench-schema.js";

export const BENCH_SCHEMA = "vggt-bench/1";

export class BenchJsonError extends Error {}

type Obj = Record<string, unknown>;

class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, problem: string): never {
    throw new BenchJsonError(`${this.source}: ${path}: ${problem}`);
  }

  obj(v: unknown, path: string): Obj {
    if (!v || typeof v !== "object" || Array.isArray(v)) this.fail(path, `expected an object, got ${kind(v)}`);
    return v as Obj;
  }

  num(o: Obj, key: string, path: string, opts: { min?: number; optional?: boolean } = {}): number {
    const v = o[key];
    if (v === undefined && opts.optional) return NaN;
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(`${path}.${key}`, `expected a finite number, got ${kind(v)}`);
    if (opts.min !== undefined && v < opts.min) this.fail(`${path}.${key}`, `must be >= ${opts.min}, got ${v}`);
    return v;
  }

  int(o: Obj, key: string, path: string, min = 0): number {
    const v = this.num(o, key, path, { min });
    if (!Number.isInteger(v)) this.fail(`${path}.${key}`, `expected an integer, got ${v}`);
    return v;
  }

  str(o: Obj, key: string, path: string, optional = false): string {
    const v = o[key];
    if (v === undefined && optional) return "";
    if (typeof v !== "string") this.fail(`${path}.${key}`, `expected a string, got ${kind(v)}`);
    return v;
  }

  bool(o: Obj, key: string, path: string, optional = false): boolean {
    const v = o[key];
    if (v === undefined && optional) return false;
    if (typeof v !== "boolean") this.fail(`${path}.${key}`, `expected true or false, got ${kind(v)}`);
    return v;
  }

  arr(o: Obj, key: string, path: string): unknown[] {
    const v = o[key];
    if (!Array.isArray(v)) this.fail(`${path}.${key}`, `expected an array, got ${kind(v)}`);
    return v;
  }

  numbers(o: Obj, key: string, path: string): Record<string, number> {
    const m = this.obj(o[key], `${path}.${key}`);
    for (const [k, v] of Object.entries(m))
      if (typeof v !== "number" || !Number.isFinite(v)) this.fail(`${path}.${key}.${k}`, `expected a finite number, got ${kind(v)}`);
    return m as Record<string, number>;
  }
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "number") return String(v);
  return typeof v;
}

function checkRow(c: Checker, v: unknown, path: string): BenchRow {
  const r = c.obj(v, path);
  const name = c.str(r, "name", path);
  const added = r.added === null || r.added === undefined ? null : c.str(r, "added", path);
  const opts = c.obj(r.options, `${path}.options`);
  for (const [k, b] of Object.entries(opts)) if (typeof b !== "boolean") c.fail(`${path}.options.${k}`, `expected true or false, got ${kind(b)}`);
  const lat = c.arr(r, "latency_ms", path);
  if (lat.length === 0) c.fail(`${path}.latency_ms`, "is empty (no timed run)");
  lat.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isFinite(x) || x < 0) c.fail(`${path}.latency_ms[${i}]`, `expected a non-negative number, got ${kind(x)}`);
  });
  const stages: BenchStage[] = c.arr(r, "stages", path).map((s, i) => {
    const p = `${path}.stages[${i}]`;
    const o = c.obj(s, p);
    return { ...o, stage: c.str(o, "stage", p), ms: c.num(o, "ms", p, { min: 0 }), gflop: o.gflop === undefined ? 0 : c.num(o, "gflop", p, { min: 0 }) };
  });
  let accuracy: BenchAccuracy | null = null;
  if (r.accuracy !== undefined && r.accuracy !== null) {
    const p = `${path}.accuracy`;
    const a = c.obj(r.accuracy, p);
    accuracy = {
      ...a,
      depth_rel: c.num(a, "depth_rel", p, { min: 0 }),
      points_rel: c.num(a, "points_rel", p, { min: 0 }),
      rotation_deg: c.num(a, "rotation_deg", p, { min: 0 }),
      translation_rel: c.num(a, "translation_rel", p, { min: 0 }),
    };
  }
  return {
    ...r,
    name,
    added,
    options: opts as OptionSet,
    latency_ms: lat as number[],
    median_ms: c.num(r, "median_ms", path, { min: 0 }),
    speedup: c.num(r, "speedup", path, { min: 0 }),
    peak_bytes: c.num(r, "peak_bytes", path, { min: 0 }),
    ...(r.peak_rss_bytes === undefined ? {} : { peak_rss_bytes: c.num(r, "peak_rss_bytes", path, { min: 0 }), peak_rss_scope: r.peak_rss_scope === "row" ? ("row" as const) : ("process" as const) }),
    weight_bytes: c.num(r, "weight_bytes", path, { min: 0 }),
    stages,
    accuracy,
  };
}

/** Checks an already-parsed value. */
export function validateBenchJson(value: unknown, source = "benchmark output"): BenchJson {
  const c = new Checker(source);
  const j = c.obj(value, "(top level)");
  if (j.schema !== BENCH_SCHEMA) c.fail("schema", `expected ${JSON.stringify(BENCH_SCHEMA)}, got ${kind(j.schema)}`);
  const k = j.kind;
  if (k !== "single" && k !== "cumulative" && k !== "ab") c.fail("kind", `expected "single", "cumulative" or "ab", got ${kind(k)}`);
  const machine = c.obj(j.machine, "machine");
  const rows = c.arr(j, "rows", "(top level)").map((r, i) => checkRow(c, r, `rows[${i}]`));
  const expect = (ok: boolean, path: string, problem: string) => ok || c.fail(path, problem);
  if (k === "single") expect(rows.length === 1, "rows", `a single benchmark has 1 row, got ${rows.length}`);
  if (k === "ab") expect(rows.length === 2, "rows", `an A/B benchmark has 2 rows (A, B), got ${rows.length}`);
  if (k === "cumulative") {
    expect(rows.length >= 1, "rows", "a cumulative benchmark needs at least the baseline row");
    expect(rows[0].added === null, "rows[0].added", "the first cumulative row is the baseline (added: null)");
    rows.slice(1).forEach((r, i) => expect(r.added !== null, `rows[${i + 1}].added`, "each cumulative row after the baseline names the option it adds"));
  }
  const out: BenchJson = {
    ...j,
    schema: BENCH_SCHEMA,
    kind: k as BenchKind,
    engine_version: c.str(j, "engine_version", "(top level)"),
    isa: c.str(j, "isa", "(top level)", true),
    // The CPU name comes from /proc/cpuinfo's "model name", which some platforms lack.
    machine: { ...machine, cpu: c.str(machine, "cpu", "machine", true), cores: c.int(machine, "cores", "machine", 1), memory_bytes: c.num(machine, "memory_bytes", "machine", { min: 0 }) },
    threads: c.int(j, "threads", "(top level)"),
    weights: c.str(j, "weights", "(top level)", true),
    random_weights: c.bool(j, "random_weights", "(top level)", true),
    config: c.str(j, "config", "(top level)", true),
    input: c.str(j, "input", "(top level)", true),
    frames: c.int(j, "frames", "(top level)", 1),
    height: c.int(j, "height", "(top level)", 1),
    width: c.int(j, "width", "(top level)", 1),
    repeats: c.int(j, "repeats", "(top level)", 1),
    machine_gemm_gflops: j.machine_gemm_gflops === undefined ? {} : c.numbers(j, "machine_gemm_gflops", "(top level)"),
    rows,
  };
  if (j.peak_rss_bytes !== undefined) out.peak_rss_bytes = c.num(j, "peak_rss_bytes", "(top level)", { min: 0 });
  if (j.writeup_npu_ms !== undefined) out.writeup_npu_ms = c.numbers(j, "writeup_npu_ms", "(top level)");
  if (k === "ab") {
    out.pairs = c.arr(j, "pairs", "(top level)").map((p, i): BenchPair => {
      const path = `pairs[${i}]`;
      const o = c.obj(p, path);
      return { a_ms: c.num(o, "a_ms", path, { min: 0 }), b_ms: c.num(o, "b_ms", path, { min: 0 }), ratio: c.num(o, "ratio", path, { min: 0 }) };
    });
    expect(out.pairs.length > 0, "pairs", "an A/B benchmark needs at least one interleaved pair");
    const ratio = c.obj(j.ratio, "ratio");
    out.ratio = { median: c.num(ratio, "median", "ratio", { min: 0 }), min: c.num(ratio, "min", "ratio", { min: 0 }), max: c.num(ratio, "max", "ratio", { min: 0 }) };
    expect(out.ratio.min <= out.ratio.median && out.ratio.median <= out.ratio.max, "ratio", `expected min <= median <= max, got ${out.ratio.min}, ${out.ratio.median}, ${out.ratio.max}`);
  }
  return out;
}

/** Parses the engine's stdout: exactly one JSON object (surrounding whitespace allowed). */
export function parseBenchJson(text: string, source = "benchmark output"): BenchJson {
  const t = text.trim();
  if (!t) throw new BenchJsonError(`${source}: the engine printed nothing on stdout (expected one vggt-bench/1 JSON object)`);
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (e) {
    throw new BenchJsonError(`${source}: not valid JSON (${(e as Error).message}); starts with ${JSON.stringify(t.slice(0, 80))}`);
  }
  return validateBenchJson(v, source);
}

// CSV export of a benchmark's table: one line per row with the latencies, the stage breakdown,
// memory, accuracy and the option set. RFC 4180 quoting. No Node imports (the renderer exports).
import type { BenchJson } from "./bench-schema.js";
import { OPTION_NAMES } from "./option-catalog.js";
import { chartRows, STAGE_GROUPS } from "./chart-data.js";

export function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "number" ? (Number.isFinite(v) ? String(v) : "") : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** Reads CSV back (tests, and a check that what we write is parseable). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export const BENCH_CSV_HEADER = [
  "row",
  "added",
  "median_ms",
  "speedup",
  "latency_ms",
  "writeup_npu_ms",
  ...STAGE_GROUPS.map((g) => `${g.key}_ms`),
  "peak_bytes",
  "weight_bytes",
  "depth_rel",
  "points_rel",
  "rotation_deg",
  "translation_rel",
  ...OPTION_NAMES,
] as const;

export function benchToCsv(json: BenchJson): string {
  const chart = chartRows(json);
  return toCsv(
    BENCH_CSV_HEADER,
    json.rows.map((r, i) => [
      chart[i].row,
      r.added ?? "",
      r.median_ms,
      r.speedup,
      r.latency_ms.join(";"),
      chart[i].npu,
      ...STAGE_GROUPS.map((g) => chart[i][g.key]),
      r.peak_bytes,
      r.weight_bytes,
      r.accuracy?.depth_rel,
      r.accuracy?.points_rel,
      r.accuracy?.rotation_deg,
      r.accuracy?.translation_rel,
      ...OPTION_NAMES.map((n) => (r.options[n] ? 1 : 0)),
    ]),
  );
}

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { listNewestFirst, readJsonRecord } from "./json-records.js";

const root = mkdtempSync(join(tmpdir(), "vggt-records-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function put(id: string, body: string): void {
  mkdirSync(join(root, id), { recursive: true });
  writeFileSync(join(root, id, "rec.json"), body);
}

describe("json records", () => {
  it("names the record when it is missing and the file when it is corrupt", () => {
    expect(() => readJsonRecord(join(root, "nope", "rec.json"), "run nope")).toThrow("run nope not found");
    put("r-bad", "{ not json");
    expect(() => readJsonRecord(join(root, "r-bad", "rec.json"), "run r-bad")).toThrow(
      new RegExp(`run r-bad: corrupt record .*r-bad/rec\\.json`),
    );
  });

  it("lists matching records newest first, ties by id, skipping unreadable ones and other names", () => {
    put("r-1", JSON.stringify({ id: "r-1", createdAt: "2026-01-01T00:00:00Z" }));
    put("r-2", JSON.stringify({ id: "r-2", createdAt: "2026-03-01T00:00:00Z" }));
    put("r-3", JSON.stringify({ id: "r-3", createdAt: "2026-03-01T00:00:00Z" }));
    put("other", JSON.stringify({ id: "other", createdAt: "2027-01-01T00:00:00Z" }));
    const load = (id: string) => readJsonRecord<{ id: string; createdAt: string }>(join(root, id, "rec.json"), id);
    const ids = listNewestFirst(root, /^r-/, load).map((r) => r.id);
    expect(ids).toEqual(["r-3", "r-2", "r-1"]); // r-bad skipped, "other" not a record name
  });
});

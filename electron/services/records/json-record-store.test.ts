import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { JsonRecordStore, newRecordId, readJsonRecord } from "./json-record-store.js";

const root = mkdtempSync(join(tmpdir(), "vggt-records-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Rec {
  id: string;
  createdAt: string;
  status: string;
  big?: string;
}

function store(sub: string, cache = false) {
  return new JsonRecordStore<Rec, Omit<Rec, "big">>({
    dir: join(root, sub),
    what: "thing",
    idPattern: /^r-[0-9]$/,
    fileName: "rec.json",
    summary: ({ big: _b, ...s }) => s,
    cache,
  });
}

function put(sub: string, id: string, body: string): void {
  mkdirSync(join(root, sub, id), { recursive: true });
  writeFileSync(join(root, sub, id, "rec.json"), body);
}

describe("JsonRecordStore", () => {
  it("names the record when it is missing and the file when it is corrupt", () => {
    const s = store("errors");
    expect(() => s.get("r-0")).toThrow("thing r-0 not found");
    put("errors", "r-1", "{ not json");
    expect(() => s.get("r-1")).toThrow(/thing r-1: corrupt record .*r-1\/rec\.json/);
    put("errors", "r-2", JSON.stringify({ id: "r-3", createdAt: "x", status: "done" }));
    expect(() => s.get("r-2")).toThrow(/thing r-2: .*rec\.json is not a thing record of this id/);
    expect(() => readJsonRecord(join(root, "nope.json"), "run nope")).toThrow("run nope not found");
  });

  it("refuses ids outside the pattern before they become paths", () => {
    const s = store("ids");
    for (const id of ["../x", "r-10", ""]) expect(() => s.get(id)).toThrow(`invalid thing id ${JSON.stringify(id)}`);
    expect(() => s.delete("../../etc")).toThrow(/invalid thing id/);
  });

  it("writes atomically, updates by merging, deletes the folder", () => {
    const s = store("rw");
    s.create({ id: "r-1", createdAt: "2026-01-01T00:00:00Z", status: "running", big: "payload" });
    expect(readdirSync(join(root, "rw", "r-1"))).toEqual(["rec.json"]); // no temp file left
    const next = s.update("r-1", { status: "done" });
    expect(next).toEqual({ id: "r-1", createdAt: "2026-01-01T00:00:00Z", status: "done", big: "payload" });
    expect(JSON.parse(readFileSync(join(root, "rw", "r-1", "rec.json"), "utf8"))).toEqual(next);
    s.delete("r-1");
    expect(existsSync(join(root, "rw", "r-1"))).toBe(false);
  });

  it("lists summaries newest first, ties by id, skipping unreadable records and other names", () => {
    const s = store("list");
    put("list", "r-1", JSON.stringify({ id: "r-1", createdAt: "2026-01-01T00:00:00Z", status: "done", big: "x" }));
    put("list", "r-2", JSON.stringify({ id: "r-2", createdAt: "2026-03-01T00:00:00Z", status: "done" }));
    put("list", "r-3", JSON.stringify({ id: "r-3", createdAt: "2026-03-01T00:00:00Z", status: "done" }));
    put("list", "r-4", "{ bad");
    put("list", "other", JSON.stringify({ id: "other", createdAt: "2027-01-01T00:00:00Z", status: "done" }));
    const list = s.list();
    expect(list.map((r) => r.id)).toEqual(["r-3", "r-2", "r-1"]);
    expect(list[2]).not.toHaveProperty("big");
    expect(existsSync(join(root, "list", "r-4", "rec.json"))).toBe(true); // left for the user
  });

  it("marks records left in flight as interrupted, and only those", () => {
    const s = store("restart");
    s.create({ id: "r-1", createdAt: "2026-01-01T00:00:00Z", status: "running" });
    s.create({ id: "r-2", createdAt: "2026-01-02T00:00:00Z", status: "done" });
    store("restart").markInterrupted((r) => r.status === "running", { status: "interrupted" });
    expect(store("restart").list().map((r) => [r.id, r.status])).toEqual([["r-2", "done"], ["r-1", "interrupted"]]);
  });

  it("serves a cached store's records from memory", () => {
    const s = store("cache", true);
    s.create({ id: "r-1", createdAt: "2026-01-01T00:00:00Z", status: "done" });
    writeFileSync(join(root, "cache", "r-1", "rec.json"), "{ changed behind its back");
    expect(s.get("r-1").status).toBe("done");
    expect(() => store("cache").get("r-1")).toThrow(/corrupt record/);
  });

  it("makes ids of the form [prefix]YYYYMMDD-HHMMSS-hex", () => {
    expect(newRecordId("b", new Date(2026, 0, 2, 3, 4, 5))).toMatch(/^b20260102-030405-[0-9a-f]{6}$/);
    expect(newRecordId("", new Date(2026, 10, 30, 23, 59, 9))).toMatch(/^20261130-235909-[0-9a-f]{6}$/);
  });
});

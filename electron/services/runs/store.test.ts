import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { RunDetail } from "../../ipc/types.js";
import { newRunId, RunStore } from "./store.js";

const root = mkdtempSync(join(tmpdir(), "vggt-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function detail(id: string, createdAt: string, status: RunDetail["status"] = "done"): RunDetail {
  return { id, name: id, createdAt, status, frames: 1, randomWeights: false, model: "m", images: [], options: { preprocess: "crop", randomWeights: false, seed: 0 }, stages: [] };
}

describe("RunStore", () => {
  it("persists runs across instances, newest first, and marks interrupted ones", () => {
    const dir = join(root, "a");
    const s = new RunStore(dir);
    const a = newRunId(new Date(2026, 0, 1, 10, 0, 0));
    const b = newRunId(new Date(2026, 0, 2, 10, 0, 0));
    s.create(detail(a, "2026-01-01T10:00:00.000Z"));
    s.create(detail(b, "2026-01-02T10:00:00.000Z", "running"));
    s.update(a, { durationMs: 1234 });
    const again = new RunStore(dir);
    expect(again.list().map((r) => r.id)).toEqual([b, a]);
    expect(again.get(a).durationMs).toBe(1234);
    expect(again.get(b).status).toBe("interrupted");
    again.delete(a);
    expect(new RunStore(dir).list().map((r) => r.id)).toEqual([b]);
  });

  it("skips a corrupt record without hiding the others, and rejects bad ids", () => {
    const dir = join(root, "b");
    const s = new RunStore(dir);
    const good = newRunId();
    s.create(detail(good, new Date().toISOString()));
    const bad = newRunId(new Date(2020, 0, 1));
    s.create(detail(bad, "2020-01-01T00:00:00.000Z"));
    writeFileSync(join(dir, "runs", bad, "run.json"), "{ not json");
    const fresh = new RunStore(dir);
    expect(fresh.list().map((r) => r.id)).toEqual([good]);
    expect(() => fresh.get(bad)).toThrow(/corrupt record/);
    expect(() => fresh.get("../etc")).toThrow(/invalid run id/);
  });

  it("keeps settings", () => {
    const s = new RunStore(join(root, "c"));
    s.writeSettings({ modelDir: "/models/x" });
    s.writeSettings({ throughput: { k: { gflops: 5, at: "t" } } });
    expect(new RunStore(join(root, "c")).readSettings()).toEqual({ modelDir: "/models/x", throughput: { k: { gflops: 5, at: "t" } } });
  });
});

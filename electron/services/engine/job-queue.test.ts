import { describe, expect, it } from "vitest";

import { EngineJobQueue } from "./job-queue.js";

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe("EngineJobQueue", () => {
  it("runs jobs one at a time in arrival order, tells a waiter what it waits for, and survives a failed job", async () => {
    const q = new EngineJobQueue();
    const order: string[] = [];
    const g = gate();
    const first = q.run("run 'kitchen'", async () => {
      order.push("run start");
      await g.p;
      order.push("run end");
      return 1;
    });
    const waitedFor: string[] = [];
    const failing = q.run("bad", async () => {
      order.push("bad");
      throw new Error("boom");
    }, (a) => waitedFor.push(a.label));
    const bench = q.run("benchmark", async () => {
      order.push("bench");
      return 3;
    }, (a) => waitedFor.push(a.label));
    await Promise.resolve();
    await Promise.resolve();
    expect(q.running()).toEqual({ label: "run 'kitchen'" });
    expect(q.queued()).toBe(2);
    expect(waitedFor).toEqual(["run 'kitchen'", "run 'kitchen'"]);
    g.open();
    expect(await first).toBe(1);
    await expect(failing).rejects.toThrow("boom");
    expect(await bench).toBe(3);
    await q.idle();
    expect(order).toEqual(["run start", "run end", "bad", "bench"]);
    expect(q.running()).toBeNull();
    expect(q.queued()).toBe(0);
  });
});

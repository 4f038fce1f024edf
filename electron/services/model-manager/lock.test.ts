// The download/convert lock: a lock whose process is gone is taken over, also when its PID now
// belongs to another, newer process (PID reuse), while a live holder still gives BUSY.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelError } from "./errors.js";
import { acquireLock } from "./hub-cache.js";

const dir = mkdtempSync(join(tmpdir(), "vggt-lock-"));
let child: ChildProcess;
beforeAll(async () => {
  // An unrelated live process, started now: it stands for a process that got a dead holder's PID.
  child = spawn("sleep", ["60"], { stdio: "ignore" });
  await new Promise((r) => child.once("spawn", r));
});
afterAll(() => {
  child.kill();
  rmSync(dir, { recursive: true, force: true });
});

const busy = (path: string) => {
  try {
    acquireLock(path, "test")();
    return "taken";
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return (e as ModelError).code;
  }
};

describe.skipIf(process.platform !== "linux")("acquireLock and PID reuse", () => {
  it("an old pid-only lock whose PID now names a process started after the lock was written is stale", () => {
    const p = join(dir, "old.lock");
    writeFileSync(p, String(child.pid));
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(p, hourAgo, hourAgo);
    expect(busy(p)).toBe("taken");
  });

  it("a lock naming a live PID with another start time is stale; with its own start time it is held", () => {
    const p = join(dir, "new.lock");
    const start = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ")[19];
    writeFileSync(p, `${child.pid} ${Number(start) + 12345}\n`);
    expect(busy(p)).toBe("taken");
    writeFileSync(p, `${child.pid} ${start}\n`);
    expect(busy(p)).toBe("BUSY");
  });

  it("writes its own PID and start time, and a pid-only lock of a live older process still holds", () => {
    const p = join(dir, "mine.lock");
    const release = acquireLock(p, "test");
    const [pid, start] = readFileSync(p, "utf8").trim().split(" ");
    expect(Number(pid)).toBe(process.pid);
    expect(start).toBe(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[19]);
    release();
    writeFileSync(p, String(process.ppid)); // our parent started before this lock was written
    expect(busy(p)).toBe("BUSY");
  });
});

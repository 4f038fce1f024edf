// The one-shot engine spawner, on small shell scripts standing in for the engine.
import { describe, expect, it } from "vitest";

import { lastLines, ProcessCancelledError, ProcessStartError, runEngineProcess, spawnEngine } from "./engine-process.js";

const sh = (script: string) => ({ command: "/bin/sh", args: ["-c", script] });

describe("spawnEngine", () => {
  it("collects stdout, streams stderr lines split at \\n and \\r, and reports the exit code", async () => {
    const lines: string[] = [];
    const r = await spawnEngine(sh("printf out; printf 'a\\rb\\nc\\n' >&2; printf tail >&2; exit 3"), { onStderrLine: (l) => lines.push(l) });
    expect(r).toMatchObject({ code: 3, signal: null, stdout: "out", timedOut: false });
    expect(lines).toEqual(["a", "b", "c", "tail"]);
    expect(r.stderrTail).toBe("a\rb\nc\ntail");
  });

  it("names a binary that cannot start, with its errno code", async () => {
    const e = await spawnEngine({ command: "/nonexistent/vggt-engine", args: ["version"] }).catch((x) => x);
    expect(e).toBeInstanceOf(ProcessStartError);
    expect(e.code).toBe("ENOENT");
    expect(e.message).toMatch(/^cannot start \/nonexistent\/vggt-engine: /);
  });

  it("cancels through the signal: the whole process group ends and the error is an AbortError", async () => {
    const ac = new AbortController();
    const started = Date.now();
    const p = spawnEngine(sh("sleep 30 & sleep 30; wait"), { signal: ac.signal, onStderrLine: () => {} });
    setTimeout(() => ac.abort(), 100);
    const e = await p.catch((x) => x);
    expect(e).toBeInstanceOf(ProcessCancelledError);
    expect(e.name).toBe("AbortError");
    expect(Date.now() - started).toBeLessThan(20_000);
    await expect(spawnEngine(sh("true"), { signal: ac.signal })).rejects.toBeInstanceOf(ProcessCancelledError);
  });

  it("ends a process that outlives timeoutMs and says so", async () => {
    const r = await spawnEngine(sh("sleep 30"), { timeoutMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGTERM");
  });

  it("refuses stdout past its limit", async () => {
    await expect(spawnEngine(sh("head -c 5000 /dev/zero"), { maxStdoutBytes: 1000 })).rejects.toThrow(/stdout over 1000 bytes/);
  });
});

describe("runEngineProcess", () => {
  it("rejects a failed run with its exit code and the last lines of stderr", async () => {
    await expect(runEngineProcess(sh("for i in 1 2 3 4 5 6 7 8; do echo line$i >&2; done; exit 4"))).rejects.toThrow(
      "-c exited with code 4: line3\nline4\nline5\nline6\nline7\nline8",
    );
    expect(await runEngineProcess(sh("echo ok"))).toEqual({ stdout: "ok\n", stderrTail: "" });
    expect(lastLines("a\nb\nc", 2)).toBe("b\nc");
  });
});

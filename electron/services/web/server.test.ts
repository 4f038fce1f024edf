import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { AppEvent } from "../../ipc/types.js";
import { decodeWire, encodeWire } from "../../ipc/wire.js";
import { checkRequest, safeUploadName, startWebServer, type WebServer } from "./server.js";

describe("checkRequest", () => {
  const o = { port: 4321, token: "secret", needToken: true };
  it("accepts our own origin with the token", () => {
    expect(checkRequest({ host: "127.0.0.1:4321", origin: "http://127.0.0.1:4321", token: "secret" }, o).ok).toBe(true);
    expect(checkRequest({ host: "localhost:4321", token: "secret" }, o).ok).toBe(true);
  });
  it("refuses other hosts (DNS rebinding), other origins and bad tokens", () => {
    expect(checkRequest({ host: "evil.example:4321", token: "secret" }, o)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ host: "127.0.0.1:4321", origin: "http://evil.example", token: "secret" }, o)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ host: "127.0.0.1:4321", origin: "null", token: "secret" }, o)).toMatchObject({ ok: false, status: 403 });
    expect(checkRequest({ host: "127.0.0.1:4321", token: "secreT" }, o)).toMatchObject({ ok: false, status: 401 });
    expect(checkRequest({ host: "127.0.0.1:4321" }, o)).toMatchObject({ ok: false, status: 401 });
    expect(checkRequest({ host: "127.0.0.1:4321" }, { ...o, needToken: false }).ok).toBe(true);
  });
  it("keeps upload names inside the folder", () => {
    expect(safeUploadName("scene/img 1.png")).toBe("img 1.png");
    expect(safeUploadName("../../etc/passwd")).toBe("passwd");
    expect(safeUploadName("..")).toBeNull();
    expect(safeUploadName("")).toBeNull();
  });
});

describe("wire format", () => {
  it("round-trips nested typed arrays", () => {
    const v = { a: new Float32Array([1.5, -2, 3]), b: [{ c: new Uint8Array([1, 2, 3, 4, 5]) }], d: new Uint16Array([7, 65535]), s: "x", n: null };
    const back = decodeWire<typeof v>(encodeWire(v));
    expect(back.a).toBeInstanceOf(Float32Array);
    expect(Array.from(back.a)).toEqual([1.5, -2, 3]);
    expect(Array.from(back.b[0].c)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(back.d)).toEqual([7, 65535]);
    expect(back.s).toBe("x");
    expect(back.n).toBeNull();
  });
});

describe("web server", () => {
  const root = mkdtempSync(join(tmpdir(), "vggt-web-"));
  let srv: WebServer;
  const listeners = new Set<(e: AppEvent) => void>();
  const calls: unknown[][] = [];
  beforeAll(async () => {
    const staticDir = join(root, "static");
    mkdirSync(staticDir);
    writeFileSync(join(staticDir, "index.html"), "<!doctype html><title>t</title>");
    writeFileSync(join(root, "secret.txt"), "do not serve");
    const uploads = join(root, "uploads");
    mkdirSync(join(uploads, "0123456789abcdef"), { recursive: true });
    const backend = {
      store: {
        uploadDir: (id: string) => {
          if (id !== "0123456789abcdef") throw new Error("upload not found");
          return join(uploads, id);
        },
      },
      subscribe: (l: (e: AppEvent) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      listRuns: (...args: unknown[]) => {
        calls.push(args);
        return [];
      },
      getPointCloud: () => ({ positions: new Float32Array([1, 2, 3]), count: 1 }),
      cancelRun: () => {
        throw new Error("run x is not in progress");
      },
    };
    srv = await startWebServer({ backend: backend as never, staticDir });
  });
  afterAll(async () => {
    await srv.close();
    rmSync(root, { recursive: true, force: true });
  });
  const url = (p: string) => `http://127.0.0.1:${srv.port}${p}`;
  const auth = () => ({ "x-vggt-token": srv.token });

  it("prints a URL with the token and serves the page with a CSP", async () => {
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/?token=${srv.token}`);
    const r = await fetch(srv.url);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect((await fetch(url("/..%2fsecret.txt"))).status).toBe(404);
  });

  it("requires the token for the API and refuses foreign origins", async () => {
    expect((await fetch(url("/api/invoke/listRuns"), { method: "POST", body: "[]" })).status).toBe(401);
    const foreign = await fetch(url("/api/invoke/listRuns"), { method: "POST", body: "[]", headers: { ...auth(), Origin: "http://evil.example" } });
    expect(foreign.status).toBe(403);
    const ok = await fetch(url("/api/invoke/listRuns"), { method: "POST", body: "[1]", headers: auth() });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual([]);
    expect(calls).toContainEqual([1]);
    expect((await fetch(url("/api/invoke/nope"), { method: "POST", body: "[]", headers: auth() })).status).toBe(404);
  });

  it("returns service errors as messages and typed arrays as binary", async () => {
    const err = await fetch(url("/api/invoke/cancelRun"), { method: "POST", body: '["x"]', headers: auth() });
    expect(err.status).toBe(400);
    expect((await err.json()).error).toBe("run x is not in progress");
    const bin = await fetch(url("/api/invoke/getPointCloud"), { method: "POST", body: "[{}]", headers: auth() });
    const pc = decodeWire<{ positions: Float32Array }>(new Uint8Array(await bin.arrayBuffer()));
    expect(Array.from(pc.positions)).toEqual([1, 2, 3]);
  });

  it("stores uploads under their base name only", async () => {
    const r = await fetch(url("/api/upload/0123456789abcdef/" + encodeURIComponent("../../x.png")), { method: "PUT", body: "abc", headers: auth() });
    expect(r.status).toBe(200);
    const { path } = await r.json();
    expect(path).toBe(join(root, "uploads", "0123456789abcdef", "x.png"));
    expect(readFileSync(path, "utf8")).toBe("abc");
    expect((await fetch(url("/api/upload/ffffffffffffffff/a.png"), { method: "PUT", body: "a", headers: auth() })).status).toBe(400);
  });

  it("streams events", async () => {
    const ctrl = new AbortController();
    const res = await fetch(url(`/api/events?token=${srv.token}`), { signal: ctrl.signal });
    const reader = res.body!.getReader();
    await reader.read(); // ": connected"
    for (const l of listeners) l({ type: "engine", engine: { state: "ready", binary: "x", restarts: 0 } });
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain('"state":"ready"');
    ctrl.abort();
  });
});

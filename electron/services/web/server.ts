// Web mode: the built renderer and the channel map over HTTP on 127.0.0.1, for browsers (and the
// end-to-end tests) where Electron cannot run. Every API request needs the random token; Host
// and Origin are checked so other web pages (DNS rebinding, cross-site requests) cannot use it.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";

import { HTTP_EVENTS_ROUTE, HTTP_UPLOAD_ROUTE, INVOKE_NAMES, isInvokeName, TOKEN_HEADER, type Backend } from "../../ipc/channels.js";
import type { AppEvent } from "../../ipc/types.js";
import { encodeWire, hasTypedArrays, WIRE_MIME } from "../../ipc/wire.js";
import { isWithin, MAX_IMAGE_BYTES } from "../runs/scan.js";
import { isVideoPath, MAX_VIDEO_BYTES } from "../video/video.js";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export interface WebBackend extends Backend {
  subscribe(listener: (e: AppEvent) => void): () => void;
  /** Folder of an upload id (throws for unknown ids). */
  store: { uploadDir(uploadId: string): string };
}

export interface WebServerOptions {
  backend: WebBackend;
  /** The vite build of the renderer (index.html + assets). */
  staticDir: string;
  port?: number;
  token?: string;
  /** Largest JSON request body. */
  maxJsonBytes?: number;
}

export interface WebServer {
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

export function newToken(): string {
  return randomBytes(24).toString("hex");
}

export function tokensEqual(a: string | null | undefined, b: string): boolean {
  if (typeof a !== "string") return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface RequestCheck {
  ok: boolean;
  status: number;
  reason?: string;
}

/** Host/Origin/token policy, separate from the server so it is unit-tested on its own. */
export function checkRequest(
  headers: { host?: string; origin?: string; token?: string | null },
  opts: { port: number; token: string; needToken: boolean },
): RequestCheck {
  const hosts = [`127.0.0.1:${opts.port}`, `localhost:${opts.port}`];
  if (!headers.host || !hosts.includes(headers.host.toLowerCase())) return { ok: false, status: 403, reason: "bad Host header" };
  if (headers.origin !== undefined && !hosts.map((h) => `http://${h}`).includes(headers.origin.toLowerCase()))
    return { ok: false, status: 403, reason: "cross-origin request refused" };
  if (opts.needToken && !tokensEqual(headers.token, opts.token)) return { ok: false, status: 401, reason: "missing or wrong token" };
  return { ok: true, status: 200 };
}

/** An uploaded file's name inside the upload folder: the last path segment, made safe. */
export function safeUploadName(relativePath: string): string | null {
  const last = relativePath.split(/[\\/]/).filter(Boolean).pop() ?? "";
  if (!last || last === "." || last === ".." || last.includes("\0") || last.length > 255) return null;
  return last;
}

const STATIC_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

function securityHeaders(res: ServerResponse): void {
  res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value ?? null));
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length, "Cache-Control": "no-store" });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw Object.assign(new Error(`request body over ${limit} bytes`), { status: 413 });
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? newToken();
  const staticDir = resolve(opts.staticDir);
  if (!existsSync(join(staticDir, "index.html")))
    throw new Error(`web mode: the renderer is not built (${join(staticDir, "index.html")} is missing); run npm run build:renderer`);
  const maxJson = opts.maxJsonBytes ?? 8 * 2 ** 20;
  const backend = opts.backend;
  let port = 0;

  const server = createServer(async (req, res) => {
    securityHeaders(res);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const isApi = url.pathname.startsWith("/api/");
    const check = checkRequest(
      {
        host: req.headers.host,
        origin: req.headers.origin,
        token: (req.headers[TOKEN_HEADER] as string | undefined) ?? url.searchParams.get("token"),
      },
      { port, token, needToken: isApi },
    );
    if (!check.ok) return sendJson(res, check.status, { error: check.reason });
    try {
      if (isApi) return await handleApi(req, res, url);
      return serveStatic(req, res, url);
    } catch (e) {
      const status = (e as { status?: number }).status ?? 400;
      if (!res.headersSent) sendJson(res, status, { error: (e as Error).message });
      else res.destroy();
    }
  });

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path.startsWith("/api/invoke/")) {
      const name = path.slice("/api/invoke/".length);
      if (req.method !== "POST") return sendJson(res, 405, { error: "use POST" });
      if (!isInvokeName(name)) return sendJson(res, 404, { error: `unknown method ${name}` });
      const body = await readBody(req, maxJson);
      let args: unknown;
      try {
        args = body.length ? JSON.parse(body.toString("utf8")) : [];
      } catch {
        return sendJson(res, 400, { error: "request body is not JSON" });
      }
      if (!Array.isArray(args)) return sendJson(res, 400, { error: "request body must be the argument list" });
      let result: unknown;
      try {
        result = await (backend[name] as (...a: unknown[]) => unknown).apply(backend, args);
      } catch (e) {
        return sendJson(res, 400, { error: (e as Error).message });
      }
      if (hasTypedArrays(result)) {
        const bytes = encodeWire(result);
        res.writeHead(200, { "Content-Type": WIRE_MIME, "Content-Length": bytes.length, "Cache-Control": "no-store" });
        res.end(bytes);
        return;
      }
      return sendJson(res, 200, result === undefined ? null : result);
    }
    if (path.startsWith(`${HTTP_UPLOAD_ROUTE}/`)) {
      if (req.method !== "PUT") return sendJson(res, 405, { error: "use PUT" });
      const rest = path.slice(HTTP_UPLOAD_ROUTE.length + 1);
      const slash = rest.indexOf("/");
      if (slash < 0) return sendJson(res, 400, { error: "expected /api/upload/<uploadId>/<file name>" });
      const dir = backend.store.uploadDir(rest.slice(0, slash));
      const name = safeUploadName(decodeURIComponent(rest.slice(slash + 1)));
      if (!name) return sendJson(res, 400, { error: "bad file name" });
      // Videos are sampled into frames by the services; they may be larger than an image.
      const maxBytes = isVideoPath(name) ? MAX_VIDEO_BYTES : MAX_IMAGE_BYTES;
      const declared = Number(req.headers["content-length"] ?? 0);
      if (declared > maxBytes) return sendJson(res, 413, { error: `file too large (over ${maxBytes / 2 ** 20} MiB)` });
      const target = join(dir, name);
      if (!isWithin(dir, target)) return sendJson(res, 400, { error: "bad file name" });
      const tmp = `${target}.upload-${process.pid}.tmp`;
      let n = 0;
      try {
        await pipeline(
          req,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const c of source) {
              n += c.length;
              if (n > maxBytes) throw Object.assign(new Error("file too large"), { status: 413 });
              yield c;
            }
          },
          createWriteStream(tmp),
        );
        renameSync(tmp, target);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
      return sendJson(res, 200, { path: target, bytes: n });
    }
    if (path === HTTP_EVENTS_ROUTE) {
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
      res.write(": connected\n\n");
      const unsubscribe = backend.subscribe((e) => res.write(`data: ${JSON.stringify(e)}\n\n`));
      const ping = setInterval(() => res.write(": ping\n\n"), 15000);
      req.on("close", () => {
        clearInterval(ping);
        unsubscribe();
      });
      return;
    }
    if (path === "/api/methods") return sendJson(res, 200, INVOKE_NAMES);
    return sendJson(res, 404, { error: "not found" });
  }

  function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "method not allowed" });
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return sendJson(res, 400, { error: "bad path" });
    }
    if (rel === "/" || rel === "") rel = "/index.html";
    const file = resolve(staticDir, `.${rel}`);
    if (!isWithin(staticDir, file) || !existsSync(file) || !statSync(file).isFile()) return sendJson(res, 404, { error: "not found" });
    const body = readFileSync(file);
    res.writeHead(200, {
      "Content-Type": STATIC_TYPES[extname(file)] ?? "application/octet-stream",
      "Content-Length": body.length,
      "Cache-Control": rel === "/index.html" ? "no-store" : "max-age=3600",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 0, "127.0.0.1", () => ok());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  return {
    url,
    port,
    token,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

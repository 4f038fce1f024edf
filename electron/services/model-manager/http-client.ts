// Minimal HTTP(S) client on node:http: one request, no automatic redirects (the hub protocol needs to
// see the redirect response's headers), idle timeout, AbortSignal.
import http from "node:http";
import https from "node:https";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  url: URL;
}

export function sendRequest(
  url: URL,
  method: "HEAD" | "GET",
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : url.protocol === "http:" ? http : null;
    if (!mod) {
      reject(new Error(`unsupported URL scheme in ${url.href}`));
      return;
    }
    const req = mod.request(url, { method, headers, signal, timeout: idleTimeoutMs }, (res) =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url }),
    );
    // The socket idle timeout also covers a stalled body, after the response has started.
    req.on("timeout", () => {
      const e = new Error(`no data from ${url.host} for ${Math.round(idleTimeoutMs / 1000)} s`) as NodeJS.ErrnoException;
      e.code = "ETIMEDOUT";
      req.destroy(e);
    });
    req.on("error", reject);
    req.end();
  });
}

export function header(h: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

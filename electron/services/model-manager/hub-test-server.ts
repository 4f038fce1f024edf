// Test helper: a local Hugging Face hub (resolve + tree API) and a separate "CDN" origin serving the
// bytes with Range support, with switches to misbehave. Used by the download tests only.
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ServedFile {
  data: Buffer;
  commit: string;
  /** Hash the hub publishes; defaults to the real SHA-256 of `data`. */
  publishedSha256?: string;
}

export interface RequestLog {
  server: "hub" | "cdn";
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export interface Behaviour {
  /** How the hub publishes the hash: X-Linked-Etag on the redirect (like huggingface.co), a plain
   * ETag on a direct 200 (like some mirrors), or only through the tree API. */
  hashVia: "x-linked-etag" | "etag" | "tree-only";
  /** Hub answers resolve requests with this status. */
  hubStatus?: number;
  /** CDN answers GETs with this status (the next `cdnStatusCount` requests). */
  cdnStatus?: number;
  cdnStatusCount?: number;
  /** CDN ignores Range and always sends the whole file with 200. */
  ignoreRange?: boolean;
  /** CDN destroys the socket after sending this many body bytes (the next `interruptCount` requests). */
  interruptAfter?: number;
  interruptCount?: number;
  /** CDN sends this many bytes more than the file (Infinity: never stops), chunked, without
   * Content-Length: a hostile or broken server. */
  overlongBy?: number;
  /** Bytes per write and delay between writes, to make transfers observable. */
  chunkSize?: number;
  chunkDelayMs?: number;
}

export class HubTestServer {
  readonly files = new Map<string, ServedFile>(); // key: `${repo}@${revision}/${filename}`
  readonly log: RequestLog[] = [];
  behaviour: Behaviour = { hashVia: "x-linked-etag" };
  private hub!: http.Server;
  private cdn!: http.Server;
  hubUrl = "";
  cdnUrl = "";

  addFile(repo: string, revision: string, filename: string, f: ServedFile): void {
    this.files.set(`${repo}@${revision}/${filename}`, f);
  }

  static sha256(b: Buffer): string {
    return createHash("sha256").update(b).digest("hex");
  }

  async start(): Promise<void> {
    this.hub = http.createServer((req, res) => this.onHub(req, res));
    this.cdn = http.createServer((req, res) => this.onCdn(req, res));
    await Promise.all([listen(this.hub), listen(this.cdn)]);
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  private find(repo: string, revision: string, filename: string): ServedFile | undefined {
    return this.files.get(`${repo}@${revision}/${filename}`) ?? [...this.files.entries()].find(([k, f]) => k === `${repo}@main/${filename}` && f.commit === revision)?.[1];
  }

  private onHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, this.hubUrl);
    this.log.push({ server: "hub", method: req.method!, url: url.pathname, range: req.headers.range, authorization: req.headers.authorization });
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    if (tree) {
      const [, repo, rev] = tree;
      const entries = [...this.files.entries()]
        .filter(([k]) => k.startsWith(`${repo}@${decodeURIComponent(rev)}/`))
        .map(([k, f]) => ({
          type: "file",
          path: k.slice(k.indexOf("/", repo.length + 1) + 1),
          size: f.data.length,
          oid: "0".repeat(40),
          lfs: { oid: f.publishedSha256 ?? HubTestServer.sha256(f.data), size: f.data.length, pointerSize: 134 },
        }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(entries));
      return;
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const f = m && this.find(m[1], decodeURIComponent(m[2]), decodeURIComponent(m[3]));
    if (this.behaviour.hubStatus) {
      res.writeHead(this.behaviour.hubStatus).end();
      return;
    }
    if (!m || !f) {
      res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
      return;
    }
    const sha = f.publishedSha256 ?? HubTestServer.sha256(f.data);
    const common: http.OutgoingHttpHeaders = { "x-repo-commit": f.commit };
    if (this.behaviour.hashVia === "x-linked-etag") {
      res
        .writeHead(302, {
          ...common,
          "x-linked-etag": `"${sha}"`,
          "x-linked-size": String(f.data.length),
          etag: `"0123456789abcdef0123456789abcdef01234567"`, // git blob id of the pointer, not the hash
          location: `${this.cdnUrl}/blob/${HubTestServer.sha256(f.data)}`,
        })
        .end();
      return;
    }
    // Direct answer from the hub origin (a mirror without a CDN).
    const etag = this.behaviour.hashVia === "etag" ? `"${sha}"` : `W/"not-a-sha256"`;
    if (req.method === "HEAD") {
      res.writeHead(200, { ...common, etag, "content-length": String(f.data.length), "accept-ranges": "bytes" }).end();
      return;
    }
    this.sendBytes(req, res, f.data, { ...common, etag });
  }

  /** Writes `data` then `extra` more bytes (Infinity: until the client goes away), chunked. */
  private sendOverlong(res: http.ServerResponse, data: Buffer, extra: number, headers: http.OutgoingHttpHeaders): void {
    res.writeHead(200, headers); // no content-length: chunked transfer encoding
    res.write(data);
    const junk = Buffer.alloc(1 << 16, 0x5a);
    let left = extra;
    res.on("close", () => (left = 0));
    const pump = () => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(junk.length, left);
        left -= n;
        if (!res.write(junk.subarray(0, n))) return void res.once("drain", pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, this.cdnUrl);
    this.log.push({ server: "cdn", method: req.method!, url: url.pathname, range: req.headers.range, authorization: req.headers.authorization });
    const sha = url.pathname.replace(/^\/blob\//, "");
    const f = [...this.files.values()].find((x) => HubTestServer.sha256(x.data) === sha);
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    this.sendBytes(req, res, f.data, {});
  }

  private sendBytes(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, extra: http.OutgoingHttpHeaders): void {
    const b = this.behaviour;
    if (b.cdnStatus && (b.cdnStatusCount ?? Infinity) > 0) {
      if (b.cdnStatusCount !== undefined) b.cdnStatusCount--;
      res.writeHead(b.cdnStatus).end("error");
      return;
    }
    if (b.overlongBy !== undefined) {
      this.sendOverlong(res, data, b.overlongBy, extra);
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range && !b.ignoreRange) {
      start = Number(range[1]);
      if (start >= data.length) {
        res.writeHead(416, { "content-range": `bytes */${data.length}` }).end();
        return;
      }
      res.writeHead(206, { ...extra, "content-length": String(data.length - start), "content-range": `bytes ${start}-${data.length - 1}/${data.length}` });
    } else {
      res.writeHead(200, { ...extra, "content-length": String(data.length), "accept-ranges": "bytes" });
    }
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    let limit = data.length;
    if (b.interruptAfter !== undefined && (b.interruptCount ?? Infinity) > 0) {
      if (b.interruptCount !== undefined) b.interruptCount--;
      limit = Math.min(data.length, start + b.interruptAfter);
    }
    const chunk = b.chunkSize ?? 16384;
    let pos = start;
    const pump = () => {
      if (pos >= limit) {
        if (limit < data.length) setTimeout(() => res.socket?.destroy(), 20); // cut mid-body
        else res.end();
        return;
      }
      const end = Math.min(limit, pos + chunk);
      const ok = res.write(data.subarray(pos, end));
      pos = end;
      const next = () => (b.chunkDelayMs ? setTimeout(pump, b.chunkDelayMs) : setImmediate(pump));
      if (ok) next();
      else res.once("drain", next);
    };
    pump();
  }
}

function listen(s: http.Server): Promise<void> {
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
}

// The renderer's API in web mode: the same VggtApi as Electron's preload, derived from the same
// channel map, carried over HTTP (invoke), Server-Sent Events (events) and PUT (uploads).
import {
  HTTP_EVENTS_ROUTE,
  HTTP_UPLOAD_ROUTE,
  httpRoute,
  INVOKE_NAMES,
  TOKEN_HEADER,
  type AppEvent,
  type AppInfo,
  type InvokeApi,
  type RejectedEntry,
  type VggtApi,
} from "../../electron/ipc/channels";
import { decodeWire, WIRE_MIME } from "../../electron/ipc/wire";

export function createWebClient(token: string): VggtApi {
  const headers = { [TOKEN_HEADER]: token };

  async function invoke(name: string, args: unknown[]): Promise<unknown> {
    const res = await fetch(httpRoute(name as never), {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: JSON.stringify(args),
    });
    const type = res.headers.get("Content-Type") ?? "";
    if (!res.ok) {
      let message = `${name}: HTTP ${res.status}`;
      try {
        message = (await res.json()).error ?? message;
      } catch {
        // keep the status line
      }
      throw new Error(message);
    }
    if (type.startsWith(WIRE_MIME)) return decodeWire(await res.arrayBuffer());
    return res.json();
  }

  const listeners = new Set<(e: AppEvent) => void>();
  let source: EventSource | null = null;
  const ensureSource = () => {
    if (source) return;
    source = new EventSource(`${HTTP_EVENTS_ROUTE}?token=${encodeURIComponent(token)}`);
    source.onmessage = (m) => {
      const e = JSON.parse(m.data) as AppEvent;
      for (const l of listeners) l(e);
    };
    // The event stream is the link to the server: when it drops, the engine's last known state no
    // longer holds. EventSource retries by itself; on reconnecting, the server's state is asked again.
    let lost = false;
    source.onerror = () => {
      if (lost) return;
      lost = true;
      const engine = { state: "missing" as const, binary: null, message: "the web-mode server is not reachable (stopped?); retrying", restarts: 0 };
      for (const l of listeners) l({ type: "engine", engine });
    };
    source.onopen = () => {
      if (!lost) return;
      lost = false;
      void invoke("appInfo", []).then((info) => {
        for (const l of listeners) l({ type: "engine", engine: (info as AppInfo).engine });
      });
    };
  };

  const invokers = Object.fromEntries(INVOKE_NAMES.map((n) => [n, (...args: unknown[]) => invoke(n, args)])) as unknown as InvokeApi;

  return {
    ...invokers,
    mode: "web",
    onEvent(listener) {
      listeners.add(listener);
      ensureSource();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && source) {
          source.close();
          source = null;
        }
      };
    },
    async importFiles(files) {
      const { uploadId } = await invokers.createUpload();
      const paths: string[] = [];
      const failed: RejectedEntry[] = [];
      const results: (string | null)[] = new Array(files.length).fill(null);
      let next = 0;
      // A few uploads in flight keep the link busy without flooding the server.
      const worker = async () => {
        while (next < files.length) {
          const i = next++;
          const { file, relativePath } = files[i];
          try {
            const res = await fetch(`${HTTP_UPLOAD_ROUTE}/${uploadId}/${encodeURIComponent(relativePath)}`, { method: "PUT", headers, body: file });
            const body = await res.json();
            if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
            results[i] = body.path;
          } catch (e) {
            failed.push({ path: relativePath, name: relativePath, reason: `upload failed: ${(e as Error).message}` });
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      for (const r of results) if (r) paths.push(r);
      return { paths, failed };
    },
  };
}

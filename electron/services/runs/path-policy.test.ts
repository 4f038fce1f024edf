// Web mode's one path policy, through every route that takes a server-side path.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { EngineState } from "../../ipc/types.js";
import type { EngineJob, EngineRunner } from "./engine-runner.js";
import { VGGT_1B_CONFIG } from "../model-manager/vggt-params.js";
import { PathPolicy } from "./path-policy.js";
import { pngBytes } from "../testing/images.js";
import { Workbench } from "./workbench.js";

const root = mkdtempSync(join(tmpdir(), "vggt-policy-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

class RecordingEngine implements EngineRunner {
  jobs: EngineJob[] = [];
  state(): EngineState {
    return { state: "ready", binary: "fake", restarts: 0 };
  }
  onState() {
    return () => {};
  }
  async infer(job: EngineJob): Promise<{ stages: { stage: string; ms: number }[] }> {
    this.jobs.push(job);
    throw new Error("not run in these tests");
  }
  async dispose() {}
}

/** A safetensors file with an empty header and a config: a model folder the workbench accepts. */
function modelFolder(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "weights.safetensors"), Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{}")]));
  writeFileSync(join(dir, "config.json"), JSON.stringify(VGGT_1B_CONFIG));
  return dir;
}

function setup(mode: "web" | "electron", modelDir?: string) {
  const dataDir = mkdtempSync(join(root, "data-"));
  const outside = mkdtempSync(join(root, "outside-"));
  writeFileSync(join(outside, "secret.png"), pngBytes());
  writeFileSync(join(outside, "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  modelFolder(join(outside, "model"));
  const engine = new RecordingEngine();
  const env = { HF_HUB_CACHE: join(dataDir, "hf"), VGGT_WORKBENCH_DATA: join(dataDir, "app") };
  const wb = new Workbench({ mode, dataDir, engine, modelDir, restrictToRoots: mode === "web" ? [] : undefined, env });
  return { wb, engine, dataDir, outside };
}

const REFUSED = /not accessible in web mode/;

describe("PathPolicy", () => {
  it("refuses paths outside its roots with the same message whether they exist or not", async () => {
    const { outside } = setup("web");
    const p = new PathPolicy(() => [join(root, "nothing-here")]);
    const msg = (x: string) => {
      try {
        p.check(x);
        return "accepted";
      } catch (e) {
        return (e as Error).message.replace(x, "<path>");
      }
    };
    expect(msg(join(outside, "passwd"))).toBe("<path>: not accessible in web mode (upload the files instead)");
    expect(msg(join(outside, "no-such-file"))).toBe(msg(join(outside, "passwd")));
    expect(msg("/etc/passwd")).toBe(msg(join(outside, "passwd")));
    expect(() => p.check(join(root, "nothing-here", "..", "x"))).toThrow(REFUSED);
    expect(() => p.check(42)).toThrow(/expected a file path/);
    expect(new PathPolicy(null).check("a/b")).toMatch(/a\/b$/);
  });

  it("follows symlinks: a link inside a root to a file outside is refused", async () => {
    const { wb, outside } = setup("web");
    const dir = wb.store.uploadDir(wb.createUpload().uploadId);
    symlinkSync(join(outside, "secret.png"), join(dir, "link.png"));
    symlinkSync(outside, join(dir, "folder"));
    expect(() => wb.readImage(join(dir, "link.png"))).toThrow(REFUSED);
    expect(() => wb.readImage(join(dir, "folder", "secret.png"))).toThrow(REFUSED);
    // Scanning the upload folder lists the links as refused and reads nothing through them.
    const scan = await wb.scanPaths([dir]);
    expect(scan.images).toEqual([]);
    expect(scan.rejected.map((r) => [r.name, r.reason]).sort()).toEqual([
      ["folder", "not accessible in web mode"],
      ["link.png", "not accessible in web mode"],
    ]);
  });
});

describe("web mode routes that take a path", () => {
  it("scanPaths, readImage, startRun, startBenchmark refuse files outside and accept uploads", async () => {
    const { wb, engine, outside } = setup("web");
    const secret = join(outside, "secret.png");
    await expect(wb.scanPaths([secret])).rejects.toThrow(REFUSED);
    await expect(wb.scanPaths([outside])).rejects.toThrow(REFUSED);
    expect(() => wb.readImage(secret)).toThrow(REFUSED);
    await expect(wb.startRun({ images: [secret], options: { preprocess: "crop", randomWeights: true, seed: 0 } })).rejects.toThrow(REFUSED);
    await expect(wb.startBenchmark({ kind: "cumulative", images: [secret], repeats: 1, threads: 0 } as never)).rejects.toThrow(REFUSED);
    expect(engine.jobs).toEqual([]);
    const dir = wb.store.uploadDir(wb.createUpload().uploadId);
    writeFileSync(join(dir, "x.png"), pngBytes());
    expect((await wb.scanPaths([dir])).images).toHaveLength(1);
    expect(wb.readImage(join(dir, "x.png")).bytes.length).toBe(pngBytes().length);
    await wb.dispose();
  });

  it("setModelDir: no file outside the app's folders, no existence or size oracle, nothing saved", async () => {
    const { wb, outside, dataDir } = setup("web");
    const refusal = (p: string) => {
      try {
        wb.setModelDir(p);
        return "accepted";
      } catch (e) {
        return (e as Error).message.replace(p, "<path>");
      }
    };
    expect(refusal("/etc/passwd")).toMatch(REFUSED);
    expect(refusal(join(outside, "passwd"))).toBe(refusal("/etc/passwd"));
    expect(refusal(join(outside, "does-not-exist"))).toBe(refusal("/etc/passwd"));
    expect(refusal(join(outside, "model"))).toBe(refusal("/etc/passwd"));
    expect(refusal(join(outside, "model", "weights.safetensors"))).toBe(refusal("/etc/passwd"));
    expect(wb.store.readSettings().modelDir).toBeUndefined();
    expect(wb.appInfo().model.state).toBe("none");
    // A model in the app's own folder (where `model download` / manual placement put weights) is fine.
    const own = modelFolder(join(dataDir, "app", "models", "mine"));
    expect(wb.setModelDir(own)).toMatchObject({ state: "ready", dir: own });
    await wb.dispose();
  });

  it("a model folder saved in the settings outside the allowed folders is not used in web mode", async () => {
    const { wb, outside, dataDir } = setup("electron");
    wb.setModelDir(join(outside, "model")); // the desktop app may
    expect(JSON.parse(readFileSync(join(dataDir, "settings.json"), "utf8")).modelDir).toBe(join(outside, "model"));
    await wb.dispose();
    const web = new Workbench({ mode: "web", dataDir, engine: new RecordingEngine(), restrictToRoots: [], env: { HF_HUB_CACHE: join(dataDir, "hf"), VGGT_WORKBENCH_DATA: join(dataDir, "app") } });
    expect(web.appInfo().model.state).toBe("none");
    await web.dispose();
  });

  it("the model given on the command line is the operator's choice and stays usable", async () => {
    const dir = modelFolder(join(mkdtempSync(join(root, "op-")), "m"));
    const { wb } = setup("web", dir);
    expect(wb.appInfo().model).toMatchObject({ state: "ready", dir });
    expect(wb.setModelDir(dir)).toMatchObject({ state: "ready" });
    await wb.dispose();
  });

  it("a --model-root folder: its models may be chosen; outside it the refusal says where models can be", async () => {
    const dataDir = mkdtempSync(join(root, "data-"));
    const models = mkdtempSync(join(root, "models-"));
    const mine = modelFolder(join(models, "mine"));
    const wb = new Workbench({ mode: "web", dataDir, engine: new RecordingEngine(), restrictToRoots: [], modelRoots: [models], env: { HF_HUB_CACHE: join(dataDir, "hf"), VGGT_WORKBENCH_DATA: join(dataDir, "app") } });
    expect(wb.setModelDir(mine)).toMatchObject({ state: "ready", dir: mine });
    expect(() => wb.setModelDir("/etc/passwd")).toThrow(`/etc/passwd: not accessible in web mode; models can be chosen inside ${models}, `);
    // Inside a model root a missing file is named as missing (the operator offered that folder).
    expect(() => wb.setModelDir(join(models, "nope"))).toThrow(`${join(models, "nope")}: no such file or folder.`);
    await wb.dispose();
  });

  it("desktop mode reads what the user picked", async () => {
    const { wb, outside } = setup("electron");
    expect((await wb.scanPaths([join(outside, "secret.png")])).images).toHaveLength(1);
    expect(wb.setModelDir(join(outside, "model"))).toMatchObject({ state: "ready" });
    await wb.dispose();
  });
});

describe("model folder config errors", () => {
  it("name the config file and the field, and never quote the file's bytes", async () => {
    const { wb, dataDir } = setup("electron");
    const dir = modelFolder(join(dataDir, "m"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...VGGT_1B_CONFIG, num_heads: 0 }));
    expect(() => wb.setModelDir(dir)).toThrow(`${join(dir, "config.json")}: config field 'num_heads' must be an integer from 1 to 1024, got 0`);
    writeFileSync(join(dir, "config.json"), "root:x:0:0:secret-bytes");
    let msg = "";
    try {
      wb.setModelDir(dir);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(new RegExp(`^${join(dir, "config.json")}: not valid JSON`));
    expect(msg).not.toContain("root");
    expect(msg).not.toContain("secret");
    await wb.dispose();
  });
});

describe("web server + workbench: the HTTP routes that take a path", () => {
  it("refuse /etc/passwd and a missing file alike, and echo no bytes of either", async () => {
    const { startWebServer } = await import("../web/server.js");
    const { wb } = setup("web");
    const staticDir = mkdtempSync(join(root, "static-"));
    writeFileSync(join(staticDir, "index.html"), "<!doctype html>");
    const srv = await startWebServer({ backend: wb, staticDir });
    try {
      const call = async (name: string, args: unknown[]) => {
        const r = await fetch(`http://127.0.0.1:${srv.port}/api/invoke/${name}`, { method: "POST", body: JSON.stringify(args), headers: { "x-vggt-token": srv.token } });
        return { status: r.status, error: ((await r.json()) as { error?: string }).error ?? "" };
      };
      const runReq = (p: string) => ({ images: [p], options: { preprocess: "crop", randomWeights: true, seed: 0 } });
      const benchReq = (p: string) => ({ kind: "cumulative", images: [p], repeats: 1, threads: 0 });
      for (const [name, args] of [
        ["setModelDir", (p: string) => [p]],
        ["scanPaths", (p: string) => [[p]]],
        ["readImage", (p: string) => [p]],
        ["startRun", (p: string) => [runReq(p)]],
        ["startBenchmark", (p: string) => [benchReq(p)]],
      ] as const) {
        const a = await call(name, args("/etc/passwd"));
        const b = await call(name, args("/etc/no-such-file-here"));
        expect(a.status, name).toBe(400);
        // A model cannot be uploaded: that refusal says where models may be chosen instead.
        expect(a.error, name).toMatch(name === "setModelDir" ? /^\/etc\/passwd: not accessible in web mode; models can be chosen inside / : /^\/etc\/passwd: not accessible in web mode \(upload the files instead\)$/);
        expect(b.error.replace("/etc/no-such-file-here", "/etc/passwd"), name).toBe(a.error);
        expect(a.error).not.toContain("root:");
      }
      expect(wb.store.readSettings().modelDir).toBeUndefined();
    } finally {
      await srv.close();
      await wb.dispose();
    }
  });
});

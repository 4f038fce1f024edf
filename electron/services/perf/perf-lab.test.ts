// PerfLab against a stand-in engine script (a real child process: spawn, stderr streaming, exit
// codes and cancellation are exercised; the e2e suite runs the real engine).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import type { AppEvent } from "../../ipc/types.js";
import { presetSet, toCliList } from "../../../common/option-catalog.js";
import { NO_MPI_NOTE, parseVersionOutput } from "./engine-info.js";
import { PerfLab } from "./perf-lab.js";
import { abFixture, cumulativeFixture } from "../../../common/bench-fixtures.js";
import { pngBytes } from "../testing/images.js";

const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(__dirname, "../../../../shared"));
const golden = join(shared, "goldens", "tiny-2f", "expected.safetensors");
const haveGolden = existsSync(golden);
if (!haveGolden) console.warn(`\n*** SKIPPING the A/B point-cloud check: ${golden} not found (set VGGT_SHARED_DIR) ***\n`);

const root = mkdtempSync(join(tmpdir(), "vggt-perflab-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A stand-in `vggt-engine`: behaviour chosen by FAKE_MODE, argv logged to FAKE_LOG. */
function fakeEngine(): string {
  const file = join(root, "fake-engine.mjs");
  writeFileSync(
    file,
    `#!${process.execPath}
import { appendFileSync, copyFileSync, readFileSync } from "node:fs";
const args = process.argv.slice(2);
appendFileSync(process.env.FAKE_LOG, JSON.stringify(args) + "\\n");
const mode = readFileSync(process.env.FAKE_MODE, "utf8").trim();
if (args[0] === "version") { console.log("vggt-engine 0.1.0"); process.exit(0); }
if (args[0] === "infer") {
  const out = args[args.indexOf("--out") + 1];
  copyFileSync(process.env.FAKE_GOLDEN, out);
  process.exit(0);
}
if (mode === "hang") { process.stderr.write("row 1/10 baseline\\n"); setInterval(() => {}, 1000); }
else if (mode === "fail") { process.stderr.write("vggt-engine bench: error: --images: no PNG or JPEG images\\n"); process.exit(1); }
else if (mode === "garbage") { process.stdout.write("{\\"median_ms\\": 5}\\n"); }
else {
  for (let i = 1; i <= 3; i++) process.stderr.write("repeat " + i + "/3\\n");
  process.stdout.write(readFileSync(process.env.FAKE_JSON, "utf8"));
}
`,
  );
  chmodSync(file, 0o755);
  return file;
}

function setup(mode: string, json: unknown) {
  const dir = mkdtempSync(join(root, "case-"));
  const env = { FAKE_LOG: join(dir, "argv.log"), FAKE_MODE: join(dir, "mode"), FAKE_JSON: join(dir, "out.json"), FAKE_GOLDEN: golden };
  writeFileSync(env.FAKE_MODE, mode);
  writeFileSync(env.FAKE_JSON, JSON.stringify(json));
  Object.assign(process.env, env);
  const images = join(dir, "images");
  mkdirSync(images);
  writeFileSync(join(images, "b.png"), pngBytes(28, 14));
  writeFileSync(join(images, "a.png"), pngBytes(28, 14));
  const events: AppEvent[] = [];
  const lab = new PerfLab({
    dataDir: join(dir, "data"),
    binary: () => fakeEngine(),
    model: () => ({ name: "tiny", weights: "/m/weights.safetensors", config: "/m/config.json" }),
    checkReadable: () => {},
    emit: (e) => events.push(e),
  });
  const argv = () => readFileSync(env.FAKE_LOG, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]);
  return { lab, events, argv, images: [join(images, "b.png"), join(images, "a.png")] };
}

const A = presetSet("reference");
const B = { ...presetSet("reference"), bf16: true, prepack: true };

describe("PerfLab", () => {
  it("runs an A/B benchmark on the given frames, records the exact command and options, keeps A's and B's outputs", async () => {
    const { lab, events, argv, images } = setup("ok", abFixture());
    const s = await lab.start({ kind: "ab", a: { label: "", options: A }, b: { label: "mine", options: B }, images, repeats: 3, threads: 2, randomWeights: false, parallel: { mode: "none", degree: 1 }, keepOutputs: haveGolden });
    expect(s.status).toBe("running");
    await lab.idle();
    const rec = lab.get(s.id);
    expect(rec.status, rec.error).toBe("done");
    expect(rec.request.a).toEqual({ label: "Reference (fp32)", options: A });
    expect(rec.request.b?.label).toBe("mine");
    expect(rec.result?.ratio?.median).toBeCloseTo(abFixture().ratio!.median, 12);
    expect(rec.medians).toEqual([{ name: "A", ms: 1000 }, { name: "B", ms: 800 }]);
    expect(rec.machine.cpu).toBe("Test CPU @ 2.0GHz");
    const bench = argv().find((a) => a[0] === "bench")!;
    expect(bench.slice(0, 5)).toEqual(["bench", "--json", "--ab", toCliList(A), toCliList(B)]);
    expect(bench).toEqual(expect.arrayContaining(["--weights", "/m/weights.safetensors", "--config", "/m/config.json", "--frames", "2", "--repeats", "3", "--threads", "2"]));
    expect(rec.command.slice(1)).toEqual(bench);
    // The frames keep their order in the folder the engine reads (it sorts by name).
    const inputs = bench[bench.indexOf("--images") + 1];
    expect(existsSync(join(inputs, "0001-b.png")) && existsSync(join(inputs, "0002-a.png"))).toBe(true);
    expect(events.some((e) => e.type === "bench-progress" && /repeat \d\/3|starting/.test(e.progress.line))).toBe(true);
    expect(events.filter((e) => e.type === "bench-updated").at(-1)).toMatchObject({ bench: { id: s.id, status: "done" } });
    if (haveGolden) {
      const infers = argv().filter((a) => a[0] === "infer");
      expect(infers.map((a) => a.find((x) => x.startsWith("--options=")))).toEqual([`--options=${toCliList(A)}`, `--options=${toCliList(B)}`]);
      const cloud = lab.pointCloud(s.id, "B", "pointmap", 5000);
      expect(cloud.count).toBeGreaterThan(0);
      expect(cloud.runId).toBe(`bench-${s.id}-B`);
    }
  });

  it("runs the cumulative benchmark", async () => {
    const { lab, argv } = setup("ok", cumulativeFixture());
    const s = await lab.start({ kind: "cumulative", images: [], frames: 3, repeats: 1, threads: 0, randomWeights: true, parallel: { mode: "none", degree: 1 } });
    await lab.idle();
    expect(lab.get(s.id).status).toBe("done");
    const bench = argv().find((a) => a[0] === "bench")!;
    expect(bench).toEqual(["bench", "--json", "--cumulative", "--config", "vggt-1b", "--frames", "3", "--repeats", "1", "--warmup", "1", "--threads", "0"]);
    expect(JSON.parse(readFileSync(join(lab.history.benchDir(s.id), "engine-output.json"), "utf8"))).toEqual(cumulativeFixture());
    expect(lab.list()[0].medians).toHaveLength(10);
  });

  it("bounds the threads field like the engine (0 = all cores, at most 256)", async () => {
    const { lab, argv } = setup("ok", cumulativeFixture());
    const req = { kind: "cumulative" as const, images: [], frames: 2, repeats: 1, randomWeights: true, parallel: { mode: "none" as const, degree: 1 } };
    for (const threads of [3000, 257, -1, 1.5, "8; rm -rf /" as unknown as number])
      await expect(lab.start({ ...req, threads })).rejects.toThrow(/threads must be an integer from 1 to 256 \(0: all cores\)/);
    expect(lab.list()).toEqual([]);
    const s = await lab.start({ ...req, threads: 256 });
    await lab.idle();
    expect(lab.get(s.id).status).toBe("done");
    expect(argv().find((a) => a[0] === "bench")).toEqual(expect.arrayContaining(["--threads", "256"]));
  });

  it("fails with the engine's message, or with what is wrong in its JSON", async () => {
    const failing = setup("fail", {});
    const s1 = await failing.lab.start({ kind: "cumulative", images: [], repeats: 1, threads: 0, randomWeights: true, parallel: { mode: "none", degree: 1 } });
    await failing.lab.idle();
    expect(failing.lab.get(s1.id)).toMatchObject({ status: "failed", error: expect.stringMatching(/bench exited with code 1: vggt-engine bench: error: --images: no PNG/) });
    const garbage = setup("garbage", {});
    const s2 = await garbage.lab.start({ kind: "cumulative", images: [], repeats: 1, threads: 0, randomWeights: true, parallel: { mode: "none", degree: 1 } });
    await garbage.lab.idle();
    expect(garbage.lab.get(s2.id).error).toMatch(/schema: expected "vggt-bench\/1"/);
  });

  it("refuses a result whose option sets are not the requested ones", async () => {
    const { lab } = setup("ok", abFixture());
    const s = await lab.start({ kind: "ab", a: { label: "", options: A }, b: { label: "", options: presetSet("fastest-exact") }, images: [], repeats: 3, threads: 2, randomWeights: true, parallel: { mode: "none", degree: 1 } });
    await lab.idle();
    expect(lab.get(s.id).error).toMatch(/the engine ran B with .*bf16=true.*not the requested option set/);
  });

  it("cancels a running benchmark (the engine process is stopped)", async () => {
    const { lab, events } = setup("hang", {});
    const s = await lab.start({ kind: "cumulative", images: [], repeats: 1, threads: 0, randomWeights: true, parallel: { mode: "none", degree: 1 } });
    const t0 = Date.now();
    while (!events.some((e) => e.type === "bench-progress" && e.progress.line.includes("row 1/10")) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    lab.cancel(s.id);
    await lab.idle();
    expect(lab.get(s.id)).toMatchObject({ status: "cancelled", error: "cancelled by the user" });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("rejects bad requests and parallel runs the engine cannot do", async () => {
    const { lab } = setup("ok", {});
    const base = { kind: "cumulative" as const, images: [], repeats: 1, threads: 0, randomWeights: true, parallel: { mode: "none" as const, degree: 1 } };
    await expect(lab.start({ ...base, repeats: 0 })).rejects.toThrow(/repeats must be an integer from 1/);
    await expect(lab.start({ ...base, kind: "ab" })).rejects.toThrow(/needs two option sets/);
    await expect(lab.start({ ...base, images: ["/nope/x.png"] })).rejects.toThrow(/\/nope\/x\.png: image not found/);
    await expect(lab.start({ ...base, parallel: { mode: "ulysses", degree: 2 } })).rejects.toThrow(NO_MPI_NOTE);
    const info = await lab.info();
    expect(info).toMatchObject({ engineVersion: "0.1.0", parallel: { available: false, note: NO_MPI_NOTE } });
  });
});

describe("engine version output", () => {
  it("reads plain and JSON forms; MPI support only when the engine says so", () => {
    expect(parseVersionOutput("vggt-engine 0.1.0\n")).toEqual({ version: "0.1.0", parallel: false, parallelModes: [] });
    expect(parseVersionOutput('{"version":"0.2.0","mpi":true,"parallel_modes":["ulysses"]}')).toEqual({ version: "0.2.0", parallel: true, parallelModes: ["ulysses"] });
    expect(parseVersionOutput('{"version":"0.2.0","mpi":false}').parallel).toBe(false);
    expect(parseVersionOutput("segfault").problem).toMatch(/unexpected version output/);
  });
});

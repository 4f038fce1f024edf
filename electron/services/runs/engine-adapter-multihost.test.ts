// The app's parallel runs with a hostfile, across "hosts" made of Linux network namespaces
// (native-engine/scripts/netns-hosts: one rank per host, Open MPI over TCP only): the runner's
// results match the single-process engine, and a rank whose host is lost mid-run (process killed,
// network link down) fails the run with a message naming that host, without hanging. Skipped, with the reason, where namespaces
// cannot be created (not root, a kernel that forbids them).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KITCHEN, expectMatchesGolden } from "../engine/test-fixtures.js";
import { SupervisedEngine } from "./engine-adapter.js";

const netns = resolve(import.meta.dirname, "../../../native-engine/scripts/netns-hosts");
const shared = resolve(process.env.VGGT_SHARED_DIR ?? join(import.meta.dirname, "../../../../shared"));
const golden = join(shared, "goldens", "tiny-2f");

const can = spawnSync("bash", [join(netns, "hosts.sh"), "can"], { encoding: "utf8" });
const haveMpi = spawnSync("sh", ["-c", "command -v mpirun"]).status === 0;
const reason = !existsSync(join(golden, "weights.safetensors"))
  ? "../shared/goldens missing"
  : !haveMpi
    ? "mpirun not found"
    : can.status !== 0
      ? can.stderr.trim() || `hosts.sh can exited ${can.status}`
      : null;
if (reason) console.warn(`*** multi-host app runs SKIPPED: ${reason} ***`);

/** `hosts.sh up`: n namespace hosts owned by this process (removed in afterAll, or by the next run if we die). */
function upHosts(n: number): Record<string, string> {
  const out = execFileSync("bash", [join(netns, "hosts.sh"), "up", "--hosts", String(n), "--owner", String(process.pid)], { encoding: "utf8" });
  return Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** vggt-engine processes in a namespace host. */
function enginePids(prefix: string, host: string): number[] {
  const pids = execFileSync("ip", ["netns", "pids", `${prefix}-${host}`], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
  return pids.map(Number).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim() === "vggt-engine";
    } catch {
      return false;
    }
  });
}

describe.skipIf(reason !== null)("SupervisedEngine parallel runs across namespace hosts (TCP)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "vggt-multihost-"));
  let env: Record<string, string> = {};
  let engine: SupervisedEngine;
  const model = { kind: "weights" as const, weights: join(golden, "weights.safetensors"), config: join(golden, "config.json") };

  beforeAll(() => {
    env = upHosts(2);
    engine = new SupervisedEngine({ eager: false, mpirun: env.VGGT_NETNS_MPIRUN, env: { ...process.env, ...env } });
  });
  afterAll(async () => {
    await engine?.dispose();
    if (env.VGGT_NETNS_PREFIX) execFileSync("bash", [join(netns, "hosts.sh"), "down", env.VGGT_NETNS_PREFIX]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("ring on 2 hosts from the hostfile matches the single-process engine", async () => {
    const dir = join(shared, "goldens", "preprocess-crop", "images");
    const images = ["frame_00.png", "frame_01.jpg", "frame_02.png"].map((f) => join(dir, f));
    const single = join(tmp, "single.safetensors");
    await engine.infer({ model, images, preprocess: "crop", output: single }, () => undefined, new AbortController().signal);
    const out = join(tmp, "ring-tcp.safetensors");
    const stages: string[] = [];
    await engine.infer(
      { model, images, preprocess: "crop", output: out, parallel: { mode: "ring", degree: 2, hostfile: env.VGGT_NETNS_HOSTFILE } },
      (p) => stages.push(p.stage),
      new AbortController().signal,
    );
    expect(stages).toContain("aggregator");
    // Ring sums the softmax in another order: within the goldens' fp32 tolerance of one process.
    expectMatchesGolden(out, single);
  }, 180_000);

  it("a rank killed on h1 mid-run fails the run within 30 s, naming h1; the other rank ends too", async () => {
    const images = readdirSync(KITCHEN).slice(0, 4).map((f) => join(KITCHEN, f));
    const out = join(tmp, "lost.safetensors");
    let killedAt = 0;
    let ranks: number[] = [];
    const err = await engine
      .infer(
        { model, images, preprocess: "crop", output: out, parallel: { mode: "ring", degree: 2, hostfile: env.VGGT_NETNS_HOSTFILE } },
        (p) => {
          if (p.stage !== "aggregator" || killedAt) return;
          ranks = [...enginePids(env.VGGT_NETNS_PREFIX, "h0"), ...enginePids(env.VGGT_NETNS_PREFIX, "h1")];
          process.kill(enginePids(env.VGGT_NETNS_PREFIX, "h1")[0], "SIGKILL");
          killedAt = Date.now();
        },
        new AbortController().signal,
      )
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(killedAt, "the run reached the aggregator").toBeGreaterThan(0);
    expect(err, "the run must fail").toBeInstanceOf(Error);
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    expect(err!.message).toMatch(/^parallel run failed: rank 1 on host h1 died \(signal 9, Killed\); every rank was stopped\./);
    expect(existsSync(out)).toBe(false);
    // Both ranks of that launch are gone (the supervisor may already have started new ones).
    expect(ranks.length).toBe(2);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(ranks.filter(alive)).toEqual([]);
  }, 180_000);

  it("h1's network link going down mid-run fails the run within 30 s, naming h1", async () => {
    const images = readdirSync(KITCHEN).slice(0, 4).map((f) => join(KITCHEN, f));
    const out = join(tmp, "link-down.safetensors");
    let downAt = 0;
    const err = await engine
      .infer(
        { model, images, preprocess: "crop", output: out, parallel: { mode: "ring", degree: 2, hostfile: env.VGGT_NETNS_HOSTFILE } },
        (p) => {
          if (p.stage !== "aggregator" || downAt) return;
          execFileSync("ip", ["-n", `${env.VGGT_NETNS_PREFIX}-h1`, "link", "set", "mh0", "down"]);
          downAt = Date.now();
        },
        new AbortController().signal,
      )
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(downAt, "the run reached the aggregator").toBeGreaterThan(0);
    expect(err, "the run must fail").toBeInstanceOf(Error);
    expect(Date.now() - downAt).toBeLessThan(30_000);
    expect(err!.message).toMatch(/^parallel run failed: lost contact with host h1 /);
    expect(existsSync(out)).toBe(false);
  }, 180_000);
});

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildEngineCommand, findEngineBinary } from "./engine-launch.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-launch-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fakeBinary(path: string): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, "#!/bin/sh\n");
  chmodSync(path, 0o755);
  return path;
}

describe("findEngineBinary", () => {
  it("prefers VGGT_ENGINE_BIN and rejects a wrong one instead of falling back", () => {
    const bin = fakeBinary(join(tmp, "custom/vggt-engine"));
    expect(findEngineBinary({ env: { VGGT_ENGINE_BIN: bin } })).toBe(bin);
    expect(() => findEngineBinary({ env: { VGGT_ENGINE_BIN: join(tmp, "nope") } })).toThrow(/VGGT_ENGINE_BIN=.*nope.*not an executable/);
  });

  it("walks up to native-engine/build, then tries packaged resources, and lists where it looked", () => {
    const repo = join(tmp, "repo");
    const deep = join(repo, "electron/services/engine");
    mkdirSync(deep, { recursive: true });
    const resources = join(tmp, "resources");
    expect(() => findEngineBinary({ env: {}, searchFrom: deep, resourcesPath: resources })).toThrow(
      new RegExp(`not found[\\s\\S]*${join(repo, "native-engine/build/vggt-engine")}[\\s\\S]*${join(resources, "engine/vggt-engine")}`),
    );
    const packaged = fakeBinary(join(resources, "engine/vggt-engine"));
    expect(findEngineBinary({ env: {}, searchFrom: deep, resourcesPath: resources })).toBe(packaged);
    const built = fakeBinary(join(repo, "native-engine/build/vggt-engine"));
    expect(findEngineBinary({ env: {}, searchFrom: deep, resourcesPath: resources })).toBe(built);
  });
});

describe("buildEngineCommand", () => {
  it("runs the binary directly with serve and --threads", () => {
    expect(buildEngineCommand({ binary: "/e/vggt-engine", threads: 4 })).toEqual({
      command: "/e/vggt-engine",
      args: ["serve", "--threads", "4"],
    });
  });

  it("wraps the engine in mpirun for a parallel launch", () => {
    const cmd = buildEngineCommand({
      binary: "/e/vggt-engine",
      launcher: { kind: "mpirun", np: 4, mode: "ring", hostfile: "/h/hosts", mpirunArgs: ["--bind-to", "none"] },
    });
    expect(cmd).toEqual({
      command: "mpirun",
      args: [
        "-np", "4", "--hostfile", "/h/hosts",
        // A lost host is noticed by keepalives within seconds.
        "--mca", "oob_tcp_keepalive_time", "1", "--mca", "oob_tcp_keepalive_intvl", "1", "--mca", "oob_tcp_keepalive_probes", "3",
        "--bind-to", "none", "/e/vggt-engine", "serve", "--parallel", "ring", "--degree", "4",
      ],
    });
  });

  it("adds oversubscription, root permission and per-rank threads when asked", () => {
    const cmd = buildEngineCommand({
      binary: "/e/vggt-engine",
      threads: 1,
      launcher: { kind: "mpirun", np: 2, degree: 2, mode: "ulysses", oversubscribe: true, allowRunAsRoot: true, threadsPerRank: 1 },
    });
    expect(cmd.args).toEqual([
      "-np", "2", "--oversubscribe", "--allow-run-as-root", "-x", "OMP_NUM_THREADS=1",
      "/e/vggt-engine", "serve", "--threads", "1", "--parallel", "ulysses", "--degree", "2",
    ]);
  });

  it("rejects impossible launch settings before spawning anything", () => {
    expect(() => buildEngineCommand({ binary: "/e", launcher: { kind: "mpirun", np: 4, degree: 2, mode: "ring" } })).toThrow(/degree must equal np/);
    expect(() => buildEngineCommand({ binary: "/e", launcher: { kind: "mpirun", np: 2, mode: "ring", threadsPerRank: 0 } })).toThrow(/threadsPerRank/);
    expect(() => buildEngineCommand({ binary: "/e", launcher: { kind: "mpirun", np: 0, mode: "ulysses" } })).toThrow(/np must be/);
    expect(() => buildEngineCommand({ binary: "/e", launcher: { kind: "mpirun", np: 2, degree: 3, mode: "ulysses" } })).toThrow(/degree/);
    expect(() => buildEngineCommand({ binary: "/e", launcher: { kind: "mpirun", np: 2, mode: "tree" as never } })).toThrow(/mode/);
    expect(() => buildEngineCommand({ binary: "/e", threads: -1 })).toThrow(/threads/);
  });
});

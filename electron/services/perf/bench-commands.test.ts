// The benchmark and its kept A/B outputs preprocess the images as the Run panel says.
import { describe, expect, it } from "vitest";

import { setFromNames } from "../../../common/option-catalog.js";
import { buildBenchCommand, buildInferCommand } from "./bench-commands.js";

const common = { binary: "vggt-engine", model: { kind: "random" as const }, threads: 2, parallel: { mode: "none" as const, degree: 1 } };
const value = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe("engine command lines", () => {
  it("pass the chosen preprocessing to the timed benchmark and to the point-cloud runs", () => {
    const set = setFromNames(["bf16"]);
    const bench = buildBenchCommand({ ...common, kind: "ab", a: set, b: set, imagesDir: "/imgs", frames: 2, repeats: 1, preprocess: "pad" });
    expect(value(bench.args, "--preprocess")).toBe("pad");
    const infer = buildInferCommand({ ...common, images: ["/imgs/a.png"], output: "/o.safetensors", options: set, preprocess: "pad" });
    expect(value(infer.args, "--preprocess")).toBe("pad");
    // Crop when nothing is said (the engine's own default).
    expect(value(buildInferCommand({ ...common, images: ["/imgs/a.png"], output: "/o.safetensors", options: set }).args, "--preprocess")).toBe("crop");
    // Synthetic input has nothing to preprocess.
    expect(buildBenchCommand({ ...common, kind: "cumulative", frames: 2, repeats: 1 }).args).not.toContain("--preprocess");
  });

  it("run sequence-parallel A/B outputs through the shared mpirun builder (engine flags after the binary)", () => {
    const infer = buildInferCommand({ ...common, parallel: { mode: "ulysses", degree: 2 }, mpirun: "/opt/mpirun", images: ["/a.png"], output: "/o.safetensors", options: setFromNames([]) });
    expect(infer.command).toBe("/opt/mpirun");
    expect(infer.args.slice(0, 4)).toEqual(["-np", "2", "vggt-engine", "infer"]);
    expect(infer.args.slice(-2)).toEqual(["--sp", "ulysses"]);
    expect(() => buildInferCommand({ ...common, parallel: { mode: "ring", degree: 0 }, images: ["/a.png"], output: "/o", options: {} })).toThrow(/parallel degree must be a positive integer/);
  });
});


import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeSafetensors, parseSafetensors, writeSafetensors } from "../tensors/safetensors.js";
import { engineOutputFromSafetensors, loadEngineOutput } from "./engine-output.js";
import { cropMapping, syntheticOutput, writeEngineOutputFile } from "./test-fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-engine-output-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fileWith(meta: Record<string, string>, imagesShape = [2, 3, 4, 5]) {
  const S = 2;
  const n = imagesShape.reduce((a, b) => a * b, 1);
  return parseSafetensors(
    encodeSafetensors(
      {
        extrinsic: { dtype: "F32", shape: [S, 3, 4], data: new Float32Array(S * 12) },
        intrinsic: { dtype: "F32", shape: [S, 3, 3], data: new Float32Array(S * 9) },
        world_points: { dtype: "F32", shape: [S, 4, 5, 3], data: new Float32Array(S * 60) },
        images: { dtype: "F32", shape: imagesShape, data: new Float32Array(n) },
      },
      meta,
    ),
  );
}

describe("engine output", () => {
  it("round-trips through a file with its frames metadata", () => {
    const frames = [cropMapping("a.jpg", 560, 420, 56, 42), cropMapping("b.jpg", 560, 420, 56, 42)];
    const out = syntheticOutput({ S: 2, frames });
    const f = join(tmp, "o.safetensors");
    writeEngineOutputFile(f, out);
    const back = loadEngineOutput(f);
    expect([back.S, back.H, back.W]).toEqual([2, 42, 56]);
    expect(back.frames).toEqual(frames);
    expect(back.worldPointsFromDepth).toEqual(out.worldPointsFromDepth);
    expect(back.preprocess).toBe("crop");
  });

  it("names the file and the problem for bad shapes and metadata", () => {
    expect(() => engineOutputFromSafetensors(fileWith({}, [2, 3, 5, 4]), "x.st")).toThrow(
      "x.st: tensor 'images' has shape [2,3,5,4], expected [2,3,4,5]",
    );
    expect(() => engineOutputFromSafetensors(fileWith({ frames: "[{" }), "x.st")).toThrow(/x\.st: metadata 'frames' is not valid JSON/);
    expect(() => engineOutputFromSafetensors(fileWith({ frames: "[]" }), "x.st")).toThrow(/array of 2 objects.*got 0/);
    const f = cropMapping("a.png", 10, 8, 5, 4) as unknown as Record<string, unknown>;
    const noScale = { ...f };
    delete noScale.scale_x;
    expect(() => engineOutputFromSafetensors(fileWith({ frames: JSON.stringify([f, noScale]) }), "x.st")).toThrow(
      "x.st: metadata 'frames'[1].scale_x is missing or not a number",
    );
    expect(() => engineOutputFromSafetensors(fileWith({ format: "something-else/1" }), "x.st")).toThrow(/not a vggt-engine output/);
    expect(engineOutputFromSafetensors(fileWith({}), "x.st").frames).toBeUndefined();
  });

  it("reports a missing file and a missing camera tensor", () => {
    expect(() => loadEngineOutput(join(tmp, "none.safetensors"))).toThrow(/none\.safetensors: no such file/);
    const p = join(tmp, "nocam.safetensors");
    writeSafetensors(p, { depth: { dtype: "F32", shape: [1, 2, 2, 1], data: new Float32Array(4) } });
    expect(() => loadEngineOutput(p)).toThrow(`${p}: missing tensor 'extrinsic'`);
  });
});

// The GLB export: a valid glTF 2.0 binary holding exactly the selected points (positions in glTF
// axes, 8-bit colours) and one frustum per exported frame.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { exportReconstruction, selectPoints } from "./index.js";
import { syntheticOutput } from "./test-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "vggt-glb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readGlb(buf: Buffer): { json: any; bin: Buffer } {
  expect(buf.readUInt32LE(0)).toBe(0x46546c67); // "glTF"
  expect(buf.readUInt32LE(4)).toBe(2);
  expect(buf.readUInt32LE(8)).toBe(buf.length);
  const jsonLen = buf.readUInt32LE(12);
  expect(buf.readUInt32LE(16)).toBe(0x4e4f534a); // "JSON"
  const json = JSON.parse(buf.subarray(20, 20 + jsonLen).toString("utf8"));
  const binAt = 20 + jsonLen;
  expect(buf.readUInt32LE(binAt + 4)).toBe(0x004e4942); // "BIN"
  return { json, bin: buf.subarray(binAt + 8, binAt + 8 + buf.readUInt32LE(binAt)) };
}

describe("GLB export", () => {
  it("holds the selected points in glTF axes with their colours, and one frustum per exported frame", async () => {
    const out = syntheticOutput({ S: 3 });
    const opts = { points: "depth" as const, confPercentile: 40, frames: [0, 2] };
    const sel = selectPoints(out, opts);
    const res = await exportReconstruction(out, { format: "glb", outDir: join(dir, "a"), ...opts });
    expect(res.pointCount).toBe(sel.indices.length);
    const { json, bin } = readGlb(readFileSync(join(dir, "a", "scene.glb")));
    const pointsMesh = json.meshes.find((m: any) => m.primitives[0].mode === 0);
    const prim = pointsMesh.primitives[0];
    const pos = json.accessors[prim.attributes.POSITION];
    expect(pos.count).toBe(sel.indices.length);
    expect(json.accessors[prim.attributes.COLOR_0]).toMatchObject({ count: sel.indices.length, componentType: 5121, normalized: true });
    // The first point, read back: OpenCV (x, y, z) -> glTF (x, -y, -z).
    const view = json.bufferViews[pos.bufferView];
    const at = (view.byteOffset ?? 0) + (pos.byteOffset ?? 0);
    const i0 = sel.indices[0];
    const xyz = out.worldPointsFromDepth!;
    expect([bin.readFloatLE(at), bin.readFloatLE(at + 4), bin.readFloatLE(at + 8)]).toEqual([xyz[3 * i0], -xyz[3 * i0 + 1], -xyz[3 * i0 + 2]].map(Math.fround));
    // Line primitives (mode 1): the frustums of frames 0 and 2, 8 segments each.
    const lines = json.meshes.filter((m: any) => m.primitives[0].mode === 1);
    expect(lines).toHaveLength(2);
    for (const m of lines) expect(json.accessors[m.primitives[0].attributes.POSITION].count).toBe(16);
  });
});

// The refine pipeline end to end except the engine: a synthetic engine output (crop-mapped frames,
// original images 10x the model size) whose cameras are perturbed, and tracks computed from the
// true cameras standing in for the track head. Refine must write a new output whose cameras are the
// true ones. The engine's own tracks are exercised by the e2e test (with random weights, where BA
// has nothing meaningful to find).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { frameCamera, mat3Mul, type Mat3, type Vec3 } from "../export/camera-math.js";
import { loadEngineOutput } from "../export/engine-output.js";
import { loudSkip } from "../export/test-checks.js";
import { cropMapping, rng, rotation } from "../export/test-fixtures.js";
import { getFloat32, readSafetensors, writeSafetensors } from "../tensors/safetensors.js";
import { findColmapBinary } from "./bundle-adjust.js";
import { TooFewTracksError } from "./errors.js";
import { refineOutputFile, type TrackPredictor } from "./refine.js";
import { rotationAngleDeg } from "./sparse-model.js";

const tmp = mkdtempSync(join(tmpdir(), "vggt-refine-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const colmap = findColmapBinary();
if (!colmap) loudSkip("COLMAP not found (install Debian's colmap): refine pipeline tests");

const S = 4, H = 42, W = 56, F = 50;
interface Cam { R: Mat3; t: Vec3 }

function trueCameras(): Cam[] {
  return Array.from({ length: S }, (_, s) => {
    const yaw = ((s - 1.5) * 10 * Math.PI) / 180;
    const R = rotation([0, 1, 0], -yaw) as Mat3;
    const C = [5 * Math.sin(yaw), 0.2 * s, -5 * Math.cos(yaw)];
    return { R, t: [0, 1, 2].map((i) => -(R[3 * i] * C[0] + R[3 * i + 1] * C[1] + R[3 * i + 2] * C[2])) as Vec3 };
  });
}

/** Engine output file with the given (perturbed) cameras, a smooth depth map, crop mapping x10. */
function writeOutput(path: string, cams: Cam[]): void {
  const ext = new Float32Array(S * 12), K = new Float32Array(S * 9), depth = new Float32Array(S * H * W);
  const conf = new Float32Array(S * H * W), images = new Float32Array(S * 3 * H * W), wpd = new Float32Array(S * H * W * 3);
  for (let s = 0; s < S; s++) {
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) ext[12 * s + 4 * i + j] = cams[s].R[3 * i + j];
      ext[12 * s + 4 * i + 3] = cams[s].t[i];
    }
    K.set([F, 0, W / 2, 0, F, H / 2, 0, 0, 1], 9 * s);
    for (let v = 0; v < H; v++)
      for (let u = 0; u < W; u++) {
        const i = (s * H + v) * W + u;
        depth[i] = 5 + 0.6 * Math.sin(u * 0.2) * Math.cos(v * 0.15);
        conf[i] = 1 + ((u * 7 + v * 3) % 11);
      }
  }
  const frames = Array.from({ length: S }, (_, s) => cropMapping(`f${s}.png`, 10 * W, 10 * H + 20, W, H));
  writeSafetensors(path, {
    pose_enc: { dtype: "F32", shape: [S, 9], data: new Float32Array(S * 9) },
    depth: { dtype: "F32", shape: [S, H, W, 1], data: depth },
    depth_conf: { dtype: "F32", shape: [S, H, W], data: conf },
    world_points_from_depth: { dtype: "F32", shape: [S, H, W, 3], data: wpd },
    extrinsic: { dtype: "F32", shape: [S, 3, 4], data: ext },
    intrinsic: { dtype: "F32", shape: [S, 3, 3], data: K },
    images: { dtype: "F32", shape: [S, 3, H, W], data: images },
  }, { format: "vggt-engine-output/1", preprocess: "crop", frames: JSON.stringify(frames) });
}

/** Stands in for the track head: the query pixel's true 3-D point (its depth, the true camera)
 *  projected with the true cameras; visible when in front of the camera and inside the frame. */
function exactTracks(file: string, cams: Cam[], hide?: (s: number, n: number) => boolean): TrackPredictor {
  const depth = getFloat32(readSafetensors(file), "depth").data;
  return async (q, pts) => {
    const world = pts.map(([u, v]) => {
      const d = depth[(q * H + Math.round(v)) * W + Math.round(u)];
      const c = [((u - W / 2) / F) * d - cams[q].t[0], ((v - H / 2) / F) * d - cams[q].t[1], d - cams[q].t[2]];
      const R = cams[q].R;
      return [0, 1, 2].map((k) => R[k] * c[0] + R[3 + k] * c[1] + R[6 + k] * c[2]);
    });
    const track: number[][][] = [], vis: number[][] = [], conf: number[][] = [];
    for (let s = 0; s < S; s++) {
      const { R, t } = cams[s];
      track.push([]); vis.push([]); conf.push([]);
      world.forEach((X, n) => {
        const z = R[6] * X[0] + R[7] * X[1] + R[8] * X[2] + t[2];
        const x = (F * (R[0] * X[0] + R[1] * X[1] + R[2] * X[2] + t[0])) / z + W / 2;
        const y = (F * (R[3] * X[0] + R[4] * X[1] + R[5] * X[2] + t[1])) / z + H / 2;
        track[s].push([x, y]);
        const inside = z > 0 && x >= 0 && x <= W - 1 && y >= 0 && y <= H - 1 && !hide?.(s, n);
        vis[s].push(inside ? 0.95 : 0.02);
        conf[s].push(0.9);
      });
    }
    return { track, vis, conf };
  };
}

describe.skipIf(!colmap)("refine pipeline (tracks -> triangulation -> COLMAP bundle_adjuster -> new output)", () => {
  const truth = trueCameras();
  const r = rng(5);
  // Frame 0 and frame 1's x translation are COLMAP's gauge and stay exact.
  const perturbed = truth.map((c, s) =>
    s === 0 ? c : { R: mat3Mul(rotation([r() - 0.5, r() - 0.5, r() - 0.5], (0.5 * Math.PI) / 180) as Mat3, c.R), t: [s === 1 ? c.t[0] : c.t[0] + 0.03, c.t[1] - 0.02, c.t[2] + 0.03] as Vec3 },
  );

  it("writes a new output whose cameras are the true ones (rotation < 0.01 deg, focal < 0.5%) and reports the error drop", async () => {
    const input = join(tmp, "in.safetensors");
    const output = join(tmp, "out.safetensors");
    writeOutput(input, perturbed);
    // 0.5 deg at f = 500 px (original) is ~4 px: inside the default 8 px inlier threshold.
    const rep = await refineOutputFile(input, output, exactTracks(input, truth), { queries: 300, queryFrames: 2, colmap: colmap! });
    expect(rep.queryFrames[0]).toBe(0);
    expect(rep.queryFrames.length).toBe(2);
    expect(rep.before.mean).toBeGreaterThan(0.5);
    expect(rep.after.mean).toBeLessThan(0.01);
    expect(rep.tracks.kept).toBeGreaterThan(100);
    expect(rep.after.observations).toBeGreaterThanOrEqual(2 * rep.tracks.kept);
    const out = loadEngineOutput(output);
    for (let s = 0; s < S; s++) {
      const c = frameCamera(out, s);
      expect(rotationAngleDeg(c.R, truth[s].R)).toBeLessThan(0.01);
      // Focal length is refined and only weakly observable over a 30-degree arc (it trades off with
      // distance): 0.2% is what BA leaves from exact tracks.
      expect(Math.abs(c.Kmodel[0] / F - 1)).toBeLessThan(5e-3);
      expect(Math.abs(c.Kmodel[4] / F - 1)).toBeLessThan(5e-3);
      expect(c.Kmodel[2]).toBeCloseTo(W / 2, 4);
      expect(c.Kmodel[5]).toBeCloseTo(H / 2, 4);
    }
    // Depth points are recomputed with the refined cameras: frame 3's pixel lands on its true 3-D point.
    const file = readSafetensors(output);
    const wpd = getFloat32(file, "world_points_from_depth").data;
    const depth = getFloat32(file, "depth").data;
    const i = (3 * H + 20) * W + 30;
    const d = depth[i];
    const cam = [((30 - W / 2) / F) * d - truth[3].t[0], ((20 - H / 2) / F) * d - truth[3].t[1], d - truth[3].t[2]];
    const Xt = [0, 1, 2].map((k) => truth[3].R[k] * cam[0] + truth[3].R[3 + k] * cam[1] + truth[3].R[6 + k] * cam[2]);
    expect(Math.hypot(wpd[3 * i] - Xt[0], wpd[3 * i + 1] - Xt[1], wpd[3 * i + 2] - Xt[2])).toBeLessThan(2e-3);
    expect(getFloat32(file, "refined_points").shape).toEqual([rep.tracks.kept, 3]);
    expect(JSON.parse(file.metadata.refine).after.observations).toBe(rep.after.observations);
  }, 60_000);

  it("refuses when too few tracks survive and leaves no output", async () => {
    const input = join(tmp, "in2.safetensors");
    const output = join(tmp, "out2.safetensors");
    writeOutput(input, perturbed);
    await expect(refineOutputFile(input, output, exactTracks(input, truth, (s) => s === 2), { queries: 200, colmap: colmap! })).rejects.toThrow(TooFewTracksError);
    expect(() => readSafetensors(output)).toThrow();
  });
});

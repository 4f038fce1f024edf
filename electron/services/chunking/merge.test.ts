// The merge on synthetic chunk outputs: chunk i's output is one known reconstruction seen through
// a known Sim(3) G_i (its own scale and frame, as separate VGGT passes have); the merge must
// recover the reconstruction in chunk 0's frame.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rng } from "../../../common/rng.js";
import { applySim3, type Mat3, type Sim3 } from "../../../common/sim3.js";
import { engineOutputFromSafetensors } from "../export/engine-output.js";
import { encodeSafetensors, readSafetensors } from "../tensors/safetensors.js";
import { planChunks } from "./plan.js";
import { ChunkCancelledError, runChunked } from "./run.js";

const H = 12, W = 16;

function rot(axis: [number, number, number], deg: number): Mat3 {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n);
  const a = (deg * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a), C = 1 - c;
  return [c + x * x * C, x * y * C - z * s, x * z * C + y * s, y * x * C + z * s, c + y * y * C, y * z * C - x * s, z * x * C - y * s, z * y * C + x * s, c + z * z * C];
}

interface Recon {
  S: number;
  ext: Float64Array; // [S,3,4]
  K: Float64Array; // [S,3,3]
  depth: Float64Array; // [S,H,W]
  conf: Float64Array; // [S,H,W]
}

/** A reconstruction in frame 0's camera frame: cameras along a path, depths 2..6. */
function truth(S: number, seed: number): Recon {
  const r = rng(seed);
  const ext = new Float64Array(12 * S), K = new Float64Array(9 * S), depth = new Float64Array(S * H * W), conf = new Float64Array(S * H * W);
  for (let s = 0; s < S; s++) {
    const R = s === 0 ? rot([0, 1, 0], 0) : rot([r() - 0.5, 1, r() - 0.5], 4 * s);
    const t = s === 0 ? [0, 0, 0] : [0.3 * s + r() * 0.1, 0.05 * s, 0.1 * r()];
    for (let i = 0; i < 3; i++) {
      ext.set([R[3 * i], R[3 * i + 1], R[3 * i + 2], t[i]], 12 * s + 4 * i);
    }
    K.set([20, 0, W / 2, 0, 20, H / 2, 0, 0, 1], 9 * s);
    for (let k = 0; k < H * W; k++) {
      depth[s * H * W + k] = 2 + 4 * r();
      conf[s * H * W + k] = 1 + 5 * r();
    }
  }
  return { S, ext, K, depth, conf };
}

/** World points of the depth map (VGGT's unprojection: pixel (u, v) at (u, v)). */
function unproject(rc: { ext: ArrayLike<number>; K: ArrayLike<number>; depth: ArrayLike<number> }, s: number, k: number): [number, number, number] {
  const u = k % W, v = Math.floor(k / W);
  const K = Array.from(rc.K).slice(9 * s, 9 * s + 9), e = Array.from(rc.ext).slice(12 * s, 12 * s + 12);
  const d = rc.depth[s * H * W + k];
  const xc = ((u - K[2]) / K[0]) * d - e[3], yc = ((v - K[5]) / K[4]) * d - e[7], zc = d - e[11];
  return [e[0] * xc + e[4] * yc + e[8] * zc, e[1] * xc + e[5] * yc + e[9] * zc, e[2] * xc + e[6] * yc + e[10] * zc];
}

/** The chunk's engine output for frames [first, last] seen in the frame X_i = G X. */
function chunkFile(rc: Recon, first: number, last: number, G: Sim3, corrupt: (k: number) => boolean): Buffer {
  const S = last - first + 1;
  const ext = new Float32Array(12 * S), K = new Float32Array(9 * S), depth = new Float32Array(S * H * W), conf = new Float32Array(S * H * W);
  const wpd = new Float32Array(3 * S * H * W), wp = new Float32Array(3 * S * H * W), pose = new Float32Array(9 * S), images = new Float32Array(S * 3 * H * W);
  for (let j = 0; j < S; j++) {
    const s = first + j;
    const e = rc.ext.subarray(12 * s, 12 * s + 12);
    const Rc = [e[0], e[1], e[2], e[4], e[5], e[6], e[8], e[9], e[10]];
    // Rc' = Rc G.R^T, tc' = G.s tc - Rc' G.t
    const Rn = new Array(9).fill(0);
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 3; c++) Rn[3 * a + b] += Rc[3 * a + c] * G.R[3 * b + c];
    for (let a = 0; a < 3; a++) {
      const tn = G.s * e[4 * a + 3] - (Rn[3 * a] * G.t[0] + Rn[3 * a + 1] * G.t[1] + Rn[3 * a + 2] * G.t[2]);
      ext.set([Rn[3 * a], Rn[3 * a + 1], Rn[3 * a + 2], tn], 12 * j + 4 * a);
    }
    K.set(rc.K.subarray(9 * s, 9 * s + 9), 9 * j);
    // pose_enc: T, quaternion (x, y, z, w) of Rn, fovs.
    const w = Math.sqrt(Math.max(0, 1 + Rn[0] + Rn[4] + Rn[8])) / 2;
    pose.set([ext[12 * j + 3], ext[12 * j + 7], ext[12 * j + 11], (Rn[7] - Rn[5]) / (4 * w), (Rn[2] - Rn[6]) / (4 * w), (Rn[3] - Rn[1]) / (4 * w), w, 0.5, 0.7], 9 * j);
    for (let k = 0; k < H * W; k++) {
      const i = j * H * W + k;
      depth[i] = G.s * rc.depth[s * H * W + k];
      conf[i] = rc.conf[s * H * W + k];
      const p = applySim3(G, ...unproject(rc, s, k));
      if (corrupt(i)) for (let c = 0; c < 3; c++) p[c] += 50 * G.s;
      wpd.set(p, 3 * i);
      wp.set(p, 3 * i);
      for (let c = 0; c < 3; c++) images[(j * 3 + c) * H * W + k] = (s * 7 + c) / 255;
    }
  }
  const frames = Array.from({ length: S }, (_, j) => ({ path: `/f/${first + j}.png`, orig_width: W, orig_height: H, scale_x: 1, scale_y: 1, offset_x: 0, offset_y: 0, content_x0: 0, content_y0: 0, content_width: W, content_height: H }));
  return encodeSafetensors(
    {
      depth: { dtype: "F32", shape: [S, H, W, 1], data: depth },
      depth_conf: { dtype: "F32", shape: [S, H, W], data: conf },
      extrinsic: { dtype: "F32", shape: [S, 3, 4], data: ext },
      images: { dtype: "F32", shape: [S, 3, H, W], data: images },
      intrinsic: { dtype: "F32", shape: [S, 3, 3], data: K },
      pose_enc: { dtype: "F32", shape: [S, 9], data: pose },
      world_points: { dtype: "F32", shape: [S, H, W, 3], data: wp },
      world_points_conf: { dtype: "F32", shape: [S, H, W], data: conf },
      world_points_from_depth: { dtype: "F32", shape: [S, H, W, 3], data: wpd },
    },
    { format: "vggt-engine-output/1", preprocess: "crop", frames: JSON.stringify(frames) },
  );
}

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

const G: Sim3[] = [
  { s: 1, R: rot([0, 1, 0], 0), t: [0, 0, 0] },
  { s: 0.37, R: rot([1, 2, 0.5], 35), t: [0.4, -1, 2] },
  { s: 2.9, R: rot([-1, 0.2, 1], -60), t: [-3, 0.5, 1] },
];

describe("chunk merge", () => {
  it("recovers a reconstruction split into 3 chunks with their own Sim(3)s, despite 20% corrupted overlap points", async () => {
    dir = mkdtempSync(join(tmpdir(), "chunk-merge-"));
    const S = 12;
    const rc = truth(S, 3);
    const plan = planChunks(S, 6, 3); // [0-5], [3-8], [6-11]
    expect(plan.map((p) => [p.first, p.last])).toEqual([[0, 5], [3, 8], [6, 11]]);
    const bad = rng(4);
    const out = join(dir, "merged.safetensors");
    const progress: number[] = [];
    const res = await runChunked({
      images: Array.from({ length: S }, (_, s) => `/f/${s}.png`),
      size: 6,
      overlap: 3,
      output: out,
      workDir: join(dir, "work"),
      signal: new AbortController().signal,
      onProgress: (p) => progress.push(p.fraction),
      runPass: async (pass, onProgress) => {
        onProgress(0.5);
        // The later chunk's copy of the shared frames is corrupted (20% of pixels, at full confidence).
        const i = pass.span.index;
        writeFileSync(pass.output, chunkFile(rc, pass.span.first, pass.span.last, G[i], (k) => i > 0 && k < 3 * H * W && bad() < 0.2));
      },
    });
    expect(existsSync(join(dir, "work"))).toBe(false);
    expect(progress.every((f, k) => k === 0 || f >= progress[k - 1])).toBe(true);
    expect(res.chunks.map((c) => c.frames)).toEqual([[0, 5], [3, 8], [6, 11]]);
    // Chunk i's transform into chunk 0's frame is G_i^-1: scale 1/s_i.
    expect(res.chunks[1].scale).toBeCloseTo(1 / 0.37, 4);
    expect(res.chunks[2].scale).toBeCloseTo(1 / 2.9, 4);
    for (const c of res.chunks.slice(1)) {
      expect(c.relativeResidual!).toBeLessThan(1e-5);
      expect(c.inliers).toBeGreaterThan(0.75);
      expect(c.inliers).toBeLessThan(0.85);
    }

    const file = readSafetensors(out);
    const m = engineOutputFromSafetensors(file, out);
    expect(m.S).toBe(S);
    expect(m.frames!.map((f) => f.path)).toEqual(Array.from({ length: S }, (_, s) => `/f/${s}.png`));
    expect(JSON.parse(file.metadata.chunks).chunks).toHaveLength(3);
    // Cameras, depths and points equal the truth to float32 precision of the scene (~1e-5 of 5 units).
    let maxExt = 0, maxDepth = 0, maxPts = 0, maxQ = 0;
    const depth = new Float32Array(Uint8Array.from(file.tensors.get("depth")!.bytes).buffer);
    const pose = new Float32Array(Uint8Array.from(file.tensors.get("pose_enc")!.bytes).buffer);
    for (let s = 0; s < S; s++) {
      for (let k = 0; k < 12; k++) maxExt = Math.max(maxExt, Math.abs(m.extrinsic[12 * s + k] - rc.ext[12 * s + k]));
      for (let k = 0; k < 3; k++) maxQ = Math.max(maxQ, Math.abs(pose[9 * s + k] - rc.ext[12 * s + 4 * k + 3]));
      for (let k = 0; k < H * W; k++) {
        maxDepth = Math.max(maxDepth, Math.abs(depth[s * H * W + k] - rc.depth[s * H * W + k]));
        const p = unproject(rc, s, k);
        for (let c = 0; c < 3; c++) {
          maxPts = Math.max(maxPts, Math.abs(m.worldPointsFromDepth![3 * (s * H * W + k) + c] - p[c]));
          maxPts = Math.max(maxPts, Math.abs(m.worldPoints![3 * (s * H * W + k) + c] - p[c]));
        }
      }
    }
    expect(maxExt).toBeLessThan(1e-4);
    expect(maxQ).toBeLessThan(1e-4);
    expect(maxDepth).toBeLessThan(2e-4);
    expect(maxPts).toBeLessThan(2e-4);
    // The merged cameras agree with the merged points: the depth branch reprojects consistently.
    for (let s = 0; s < S; s += 5) {
      const p = unproject({ ext: m.extrinsic, K: m.intrinsic, depth }, s, 37);
      for (let c = 0; c < 3; c++) expect(Math.abs(p[c] - m.worldPointsFromDepth![3 * (s * H * W + 37) + c])).toBeLessThan(1e-4);
    }
    // Per-frame tensors that a Sim(3) leaves alone are copied, in frame order.
    for (let s = 0; s < S; s++) for (let c = 0; c < 3; c++) expect(m.images![(s * 3 + c) * H * W + 5]).toBe(Math.fround((s * 7 + c) / 255));
  });

  it("one chunk (size >= frames) is a plain pass: the output is exactly what the pass wrote", async () => {
    dir = mkdtempSync(join(tmpdir(), "chunk-merge-"));
    const rc = truth(4, 5);
    const bytes = chunkFile(rc, 0, 3, G[0], () => false);
    const out = join(dir, "out.safetensors");
    const res = await runChunked({
      images: ["a", "b", "c", "d"],
      size: 4,
      overlap: 1,
      output: out,
      workDir: join(dir, "work"),
      signal: new AbortController().signal,
      runPass: async (pass) => writeFileSync(pass.output, bytes),
    });
    expect(res.chunks).toHaveLength(1);
    expect(Buffer.compare(readFileSync(out), bytes)).toBe(0);
    expect(existsSync(join(dir, "work"))).toBe(false);
  });

  it("cancel between chunks: no merged file, no chunk files left, an earlier result untouched", async () => {
    dir = mkdtempSync(join(tmpdir(), "chunk-merge-"));
    const rc = truth(8, 6);
    const out = join(dir, "out.safetensors");
    writeFileSync(out, "earlier result");
    const abort = new AbortController();
    await expect(
      runChunked({
        images: Array.from({ length: 8 }, (_, s) => `/f/${s}.png`),
        size: 5,
        overlap: 2,
        output: out,
        workDir: join(dir, "work"),
        signal: abort.signal,
        runPass: async (pass) => {
          writeFileSync(pass.output, chunkFile(rc, pass.span.first, pass.span.last, G[pass.span.index], () => false));
          abort.abort();
        },
      }),
    ).rejects.toBeInstanceOf(ChunkCancelledError);
    expect(readFileSync(out, "utf8")).toBe("earlier result");
    expect(readdirSync(dir)).toEqual(["out.safetensors"]);
  });

  it("chunks preprocessed to different sizes are refused with a clear error", async () => {
    dir = mkdtempSync(join(tmpdir(), "chunk-merge-"));
    const rc = truth(6, 7);
    const out = join(dir, "out.safetensors");
    const other = encodeSafetensors({
      extrinsic: { dtype: "F32", shape: [4, 3, 4], data: new Float32Array(48) },
      depth_conf: { dtype: "F32", shape: [4, H + 2, W], data: new Float32Array(4 * (H + 2) * W) },
      world_points_from_depth: { dtype: "F32", shape: [4, H + 2, W, 3], data: new Float32Array(12 * (H + 2) * W) },
    });
    await expect(
      runChunked({
        images: Array.from({ length: 6 }, (_, s) => `/f/${s}.png`),
        size: 4,
        overlap: 2,
        output: out,
        workDir: join(dir, "work"),
        signal: new AbortController().signal,
        runPass: async (pass) => writeFileSync(pass.output, pass.span.index === 0 ? chunkFile(rc, 0, 3, G[0], () => false) : other),
      }),
    ).rejects.toThrow(/chunk 1 was preprocessed to 16x14, chunk 0 to 16x12/);
    expect(existsSync(out)).toBe(false);
  });
});

describe("planChunks", () => {
  it("steps by size - overlap, ends at the last frame, and refuses overlaps that leave nothing to align", () => {
    expect(planChunks(100, 25, 5).map((p) => [p.first, p.last, p.firstNew])).toEqual([
      [0, 24, 0],
      [20, 44, 25],
      [40, 64, 45],
      [60, 84, 65],
      [80, 99, 85],
    ]);
    expect(planChunks(10, 10, 3)).toEqual([{ index: 0, first: 0, last: 9, firstNew: 0 }]);
    expect(planChunks(10, 50, 0)).toHaveLength(1);
    expect(() => planChunks(10, 4, 4)).toThrow(/overlap must be an integer from 1 to 3/);
    expect(() => planChunks(10, 4, 0)).toThrow(/overlap/);
    expect(() => planChunks(10, 1, 0)).toThrow(/at least 2 frames/);
  });
});

// Click-to-track for the app: points clicked on one frame of a finished run (original image pixels,
// measured from the image's top-left corner) -> the track head's tracks through every frame, in the
// same pixels, with the 3-D point under each track position (depth or pointmap branch) for highlighting.
import type { TrackResult } from "../../ipc/types.js";
import type { EngineOutput } from "../export/engine-output.js";
import type { TrackPredictor } from "./refine.js";

export const MAX_CLICK_POINTS = 64;

export async function trackClickedPoints(
  out: EngineOutput,
  runId: string,
  frame: number,
  points: [number, number][],
  predict: TrackPredictor,
  space: "original" | "model" = "original",
  branch: "depth" | "pointmap" = "depth",
  signal?: AbortSignal,
): Promise<TrackResult> {
  const t0 = Date.now();
  if (!Number.isInteger(frame) || frame < 0 || frame >= out.S) throw new Error(`track: frame ${frame} is not a frame of run ${runId} (0..${out.S - 1})`);
  if (!Array.isArray(points) || points.length < 1 || points.length > MAX_CLICK_POINTS)
    throw new Error(`track: give 1 to ${MAX_CLICK_POINTS} points, got ${Array.isArray(points) ? points.length : typeof points}`);
  const m = space === "model" ? undefined : out.frames?.[frame];
  if (space !== "original" && space !== "model") throw new Error(`track: space must be 'original' or 'model', got '${space}'`);
  const model: [number, number][] = points.map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || !p.every(Number.isFinite)) throw new Error(`track: point ${i} is not a finite [x, y] pair`);
    // Corner-convention original pixel X -> model pixel (index convention): X = (u + 0.5 - ox) * sx.
    const u = space === "model" ? p[0] : m ? p[0] / m.scale_x + m.offset_x - 0.5 : p[0] - 0.5;
    const v = space === "model" ? p[1] : m ? p[1] / m.scale_y + m.offset_y - 0.5 : p[1] - 0.5;
    if (!(u >= -0.5 && u <= out.W - 0.5 && v >= -0.5 && v <= out.H - 0.5))
      throw new Error(`track: point ${i} (${p[0].toFixed(1)}, ${p[1].toFixed(1)}) lies outside the part of frame ${frame} the model saw`);
    return [Math.min(out.W - 1, Math.max(0, u)), Math.min(out.H - 1, Math.max(0, v))];
  });
  const r = await predict(frame, model, signal);
  const xyz = branch === "pointmap" ? out.worldPoints : out.worldPointsFromDepth;
  const track: number[][][] = [];
  const world: ([number, number, number] | null)[][] = [];
  for (let s = 0; s < out.S; s++) {
    const ms = out.frames?.[s];
    track.push(r.track[s].map(([u, v]) => (ms ? [(u + 0.5 - ms.offset_x) * ms.scale_x, (v + 0.5 - ms.offset_y) * ms.scale_y] : [u + 0.5, v + 0.5])));
    world.push(
      r.track[s].map(([u, v]) => {
        const ui = Math.round(u);
        const vi = Math.round(v);
        if (!xyz || ui < 0 || vi < 0 || ui >= out.W || vi >= out.H) return null;
        const i = 3 * ((s * out.H + vi) * out.W + ui);
        return [xyz[i], xyz[i + 1], xyz[i + 2]];
      }),
    );
  }
  return { runId, frame, track, vis: r.vis, conf: r.conf, world, via: r.via ?? "forward-pass", ms: Date.now() - t0 };
}

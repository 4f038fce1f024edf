// Which points to track, in the spirit of the official demo_colmap.py: a few query frames (frame 0
// plus frames picked for coverage) and, on each, keypoints spread over the image. The official demo
// ranks frames by DINO features and detects ALIKED/SuperPoint keypoints, neither of which we run;
// here coverage is farthest-point sampling on the cameras' viewing directions, and keypoints are the
// most confident pixel (depth confidence) of each cell of a grid over the frame's image content.
import type { EngineOutput } from "../export/engine-output.js";

/** Frame 0, then repeatedly the frame whose viewing direction is farthest from all chosen ones. */
export function chooseQueryFrames(out: EngineOutput, count: number): number[] {
  const k = Math.max(1, Math.min(out.S, Math.floor(count)));
  // Viewing direction in world coordinates: the third row of the camera-from-world rotation.
  const dir = (s: number) => [out.extrinsic[12 * s + 8], out.extrinsic[12 * s + 9], out.extrinsic[12 * s + 10]];
  const chosen = [0];
  const minDist = new Array(out.S).fill(Infinity);
  while (chosen.length < k) {
    const last = dir(chosen[chosen.length - 1]);
    let best = -1;
    for (let s = 0; s < out.S; s++) {
      const d = dir(s);
      const cos = (d[0] * last[0] + d[1] * last[1] + d[2] * last[2]) / (Math.hypot(...d) * Math.hypot(...last) || 1);
      minDist[s] = Math.min(minDist[s], 1 - cos);
      if (!chosen.includes(s) && (best < 0 || minDist[s] > minDist[best])) best = s;
    }
    chosen.push(best);
  }
  return chosen;
}

/** Up to `count` query pixels (model pixels, index convention) on frame s: the most confident pixel of
 *  each grid cell, the most confident cells first. Restricted to the frame's image content (no padding). */
export function gridKeypoints(out: EngineOutput, s: number, count: number): [number, number][] {
  const { H, W } = out;
  const conf = out.depthConf ?? out.worldPointsConf;
  const f = out.frames?.[s];
  const x0 = f ? Math.max(0, f.content_x0) : 0;
  const y0 = f ? Math.max(0, f.content_y0) : 0;
  const x1 = f ? Math.min(W, f.content_x0 + f.content_width) : W;
  const y1 = f ? Math.min(H, f.content_y0 + f.content_height) : H;
  const cw = x1 - x0;
  const ch = y1 - y0;
  if (count < 1 || cw < 1 || ch < 1) return [];
  // Cells roughly square, about `count` of them, at least one pixel each.
  const gx = Math.max(1, Math.min(cw, Math.round(Math.sqrt((count * cw) / ch))));
  const gy = Math.max(1, Math.min(ch, Math.ceil(count / gx)));
  const cells: { x: number; y: number; c: number }[] = [];
  for (let j = 0; j < gy; j++)
    for (let i = 0; i < gx; i++) {
      const ua = x0 + Math.floor((i * cw) / gx);
      const ub = x0 + Math.floor(((i + 1) * cw) / gx);
      const va = y0 + Math.floor((j * ch) / gy);
      const vb = y0 + Math.floor(((j + 1) * ch) / gy);
      let best = { x: Math.floor((ua + ub - 1) / 2), y: Math.floor((va + vb - 1) / 2), c: -Infinity };
      if (conf)
        for (let v = va; v < vb; v++)
          for (let u = ua; u < ub; u++) {
            const c = conf[(s * H + v) * W + u];
            if (c > best.c) best = { x: u, y: v, c };
          }
      if (ub > ua && vb > va) cells.push(best);
    }
  cells.sort((a, b) => b.c - a.c);
  return cells.slice(0, count).map((c) => [c.x, c.y]);
}

// Exports must never carry NaN/Inf: COLMAP, nerfstudio and JSON readers either choke on them or
// silently compute garbage. Cameras are checked up front (one bad frame refuses the export, since a
// model without that camera would be a different reconstruction); points are filtered in selectPoints.
import { frameCamera } from "./camera-math.js";
import type { EngineOutput } from "./engine-output.js";

export class NonFiniteError extends Error {}

const INTRINSIC_NAMES: Record<number, string> = { 0: " (fx)", 2: " (cx)", 4: " (fy)", 5: " (cy)" };

const show = (x: number) => (Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");

/** Throws NonFiniteError naming the first frame and value that is not finite. */
export function checkFiniteCameras(out: EngineOutput, frames: number[]): void {
  for (const s of frames) {
    const name = out.frames?.[s]?.path;
    const where = `${out.source}: frame ${s}${name ? ` (${name})` : ""}`;
    const fail = (what: string, x: number) =>
      new NonFiniteError(`${where}: camera ${what} is ${show(x)}; nothing was exported (the model's cameras are not finite: random or damaged weights?)`);
    for (let i = 0; i < 12; i++) {
      const x = out.extrinsic[12 * s + i];
      if (!Number.isFinite(x)) throw fail(`extrinsic[${Math.floor(i / 4)}][${i % 4}]`, x);
    }
    for (let i = 0; i < 9; i++) {
      const x = out.intrinsic[9 * s + i];
      if (!Number.isFinite(x)) throw fail(`intrinsic[${Math.floor(i / 3)}][${i % 3}]${INTRINSIC_NAMES[i] ?? ""}`, x);
    }
    // The original-resolution intrinsics go through the frame mapping (from metadata): check them too.
    const K = frameCamera(out, s).K;
    for (let i = 0; i < 9; i++) if (!Number.isFinite(K[i])) throw fail(`intrinsic at the original resolution [${Math.floor(i / 3)}][${i % 3}]`, K[i]);
  }
}

// Shared by the engine tests: where the goldens and the engine binary are, and the golden check.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import { getFloat32, readSafetensors } from "../tensors/safetensors.js";
import { findEngineBinary } from "./engine-launch.js";

export const SHARED_DIR = resolve(process.env.VGGT_SHARED_DIR ?? resolve(import.meta.dirname, "../../../../shared"));
export const TINY = join(SHARED_DIR, "goldens/tiny-2f");
export const KITCHEN = join(SHARED_DIR, "datasets/kitchen/images");
export const HAVE_SHARED = existsSync(join(TINY, "weights.safetensors")) && existsSync(KITCHEN);

if (!HAVE_SHARED)
  console.warn(
    `\n*** SKIPPING real-engine tests: shared goldens/datasets not found under ${SHARED_DIR} (set VGGT_SHARED_DIR) ***\n`,
  );

/** The real engine binary; a missing build is a failure, not a skip. */
export function engineBinary(): string {
  return findEngineBinary();
}

export const tinyLoad = () => ({ weights: join(TINY, "weights.safetensors"), config: join(TINY, "config.json") });

/** Kitchen photos (779x520 -> 518x350 after 'crop'): enough work for the tiny model that a
 *  cancel or a kill lands mid-forward. */
export const kitchenFrames = (n: number) => Array.from({ length: n }, (_, i) => join(KITCHEN, `${String(i).padStart(2, "0")}.png`));

export const GOLDEN_OUTPUTS = [
  "pose_enc",
  "depth",
  "depth_conf",
  "world_points",
  "world_points_conf",
  "extrinsic",
  "intrinsic",
  "world_points_from_depth",
] as const;

/** goldens/README.md tolerance for the exact fp32 path: max|o-e| <= 1e-3 rms(e) and
 *  rms(o-e) <= 1e-4 rms(e), per output (float32 rounding of a different summation order fits
 *  with a wide margin; a semantic error misses by orders of magnitude). */
export function expectMatchesGolden(outputPath: string, expectedPath: string): void {
  const out = readSafetensors(outputPath);
  const exp = readSafetensors(expectedPath);
  for (const name of GOLDEN_OUTPUTS) {
    const o = getFloat32(out, name, outputPath);
    const e = getFloat32(exp, name, expectedPath);
    expect(o.shape, name).toEqual(e.shape);
    let sumE = 0;
    let sumD = 0;
    let maxD = 0;
    for (let i = 0; i < e.data.length; i++) {
      const d = Math.abs(o.data[i] - e.data[i]);
      sumE += e.data[i] * e.data[i];
      sumD += d * d;
      if (!(d <= maxD)) maxD = d; // NaN propagates into maxD and fails below
    }
    const rmsE = Math.sqrt(sumE / e.data.length);
    const rmsD = Math.sqrt(sumD / e.data.length);
    expect(maxD, `${name}: max|o-e|`).toBeLessThanOrEqual(1e-3 * rmsE);
    expect(rmsD, `${name}: rms(o-e)`).toBeLessThanOrEqual(1e-4 * rmsE);
  }
}

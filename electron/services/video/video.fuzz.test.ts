// Mutated videos (bit flips, truncations, inserted bytes from testing/mutate.ts) only ever give a
// usable set of frames or a VideoProblem naming the file, never another error, a hang past the
// time limit, or a stray temporary folder.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { mutateBytes, rng } from "../testing/mutate.js";
import { extractFrames, VideoProblem } from "./video.js";

const dir = mkdtempSync(join(tmpdir(), "vggt-video-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("video decoding of mutated files", () => {
  it("gives frames or a VideoProblem naming the file, for 16 mutants of an mp4 and a webm", async () => {
    const sample = resolve(__dirname, "../../../assets/sample");
    const seeds = [
      ["mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]],
      ["webm", ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"]],
    ] as const;
    const r = rng(0xf00d);
    let problems = 0;
    let decoded = 0;
    for (const [ext, codec] of seeds) {
      const seed = join(dir, `seed.${ext}`);
      execFileSync("ffmpeg", ["-v", "error", "-y", "-framerate", "2", "-pattern_type", "glob", "-i", join(sample, "view-*.png"), "-vf", "fps=4", ...codec, seed]);
      const bytes = readFileSync(seed);
      for (let k = 0; k < 8; k++) {
        const name = `mutant-${k}.${ext}`;
        const file = join(dir, name);
        writeFileSync(file, mutateBytes(bytes, r));
        try {
          const res = await extractFrames(file, join(dir, `out-${ext}-${k}`), { defaultFrames: 3, timeoutMs: 60_000 });
          expect(res.frames.length).toBeGreaterThan(0);
          decoded++;
        } catch (e) {
          expect(e).toBeInstanceOf(VideoProblem);
          expect((e as Error).message.startsWith(`${name}: `)).toBe(true);
          problems++;
        }
      }
    }
    expect(decoded + problems).toBe(16);
    expect(readdirSync(dir).filter((f) => f.includes(".decoding-"))).toEqual([]);
  }, 240_000);
});

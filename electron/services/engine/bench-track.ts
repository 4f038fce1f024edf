// Latency of `track` requests on a cached run, as the app sees it (request to result through
// the real engine process): full-size VGGT-1B with random weights, N kitchen frames.
//   npx tsx electron/services/engine/bench-track.ts [--frames 8] [--repeats 3] [--options all] [--threads 0]
// Prints the infer stages, the track cache size and the median latency of 1-point and
// 256-point (16 x 16 grid) queries. Timing depends on the machine and its load: say both.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enabledNames, parseCliList } from "../../../common/option-catalog.js";
import { EngineClient } from "./engine-client.js";
import { KITCHEN, engineBinary, kitchenFrames } from "./test-fixtures.js";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const frames = Number(arg("frames", "8"));
const repeats = Number(arg("repeats", "3"));
const options = arg("options", "");
const threads = Number(arg("threads", "0"));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const tmp = mkdtempSync(join(tmpdir(), "vggt-bench-track-"));
const client = await EngineClient.start({ binary: engineBinary() });
try {
  // An --options list as the engine's command line reads it ("all", "-x").
  const flags = Object.fromEntries(enabledNames(parseCliList(options)).map((f) => [f, true]));
  const load = await client.load({ random: { seed: 0 }, config: "vggt-1b", options: { threads, flags } });
  console.log(`engine ${client.hello.engine_version}, isa ${client.hello.isa}, threads ${client.hello.threads}`);
  console.log(`model VGGT-1B random weights, ${(load.model.weight_bytes / 2 ** 30).toFixed(2)} GiB, options: ${options || "exact fp32"}`);
  console.log(`frames: ${frames} from ${KITCHEN}`);
  const t0 = performance.now();
  const run = client.infer({ images: kitchenFrames(frames), output: join(tmp, "run.safetensors"), track_cache: true });
  const res = await run.done;
  console.log(`infer ${res.frames}x${res.height}x${res.width}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const t of res.timings) if (!t.stage.includes(".")) console.log(`  ${t.stage.padEnd(16)} ${t.ms.toFixed(0).padStart(8)} ms`);
  const c = res.track_cache!;
  console.log(`track cache: ${(c.bytes / 1e6).toFixed(1)} MB (${c.frames} x ${c.feature_height} x ${c.feature_width} x ${c.channels} + pyramid)`);
  const [w, h] = [res.width, res.height];
  for (const [label, params] of [
    ["1 point", { query_points: [[w / 2, h / 2]] as [number, number][] }],
    ["256 points (16x16 grid)", { grid: 16 }],
  ] as const) {
    const wall: number[] = [];
    const engine: number[] = [];
    for (let r = 0; r < repeats + 1; r++) {
      const t = performance.now();
      const out = await client.track({ run: run.id, ...params }).done;
      // The first call is a warm-up (allocator, first-touch pages).
      if (r > 0) {
        wall.push(performance.now() - t);
        engine.push(out.ms);
      }
    }
    console.log(`track ${label}: median ${median(wall).toFixed(0)} ms request-to-result (engine job ${median(engine).toFixed(0)} ms), runs ${wall.map((x) => x.toFixed(0)).join(", ")}`);
  }
} finally {
  await client.shutdown();
  rmSync(tmp, { recursive: true, force: true });
}

// Measures chunked vs unchunked reconstruction (docs/PERFORMANCE.md, "Chunked reconstruction"):
// wall time, the engine's peak RSS (max over passes, as `vggt-engine infer` reports it) and this
// process's peak RSS (the merge), with each chunk's alignment residual. Both sides run the same
// engine command through the same orchestration (run.ts); unchunked = one chunk.
//
//   npx tsx electron/services/chunking/bench-chunked.ts --frames 25,50,100 --chunk 25 --overlap 5 \
//     --images DIR[,DIR2] [--unchunked-max 50] [--preprocess pad] [-- ENGINE ARGS...]
// Frames beyond the images given are the images again, in order (a longer sequence of the scenes).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { findEngineBinary } from "../engine/engine-launch.js";
import { spawnEngine } from "../engine/engine-process.js";
import { describeChunk, runChunked } from "./run.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    frames: { type: "string", default: "25,50,100" },
    chunk: { type: "string", default: "25" },
    overlap: { type: "string", default: "5" },
    images: { type: "string" },
    preprocess: { type: "string", default: "pad" },
    "unchunked-max": { type: "string", default: "100" },
  },
});
if (!values.images) throw new Error("--images DIR[,DIR2] is required");
const pool = values.images.split(",").flatMap((d) =>
  readdirSync(d)
    .filter((f) => [".png", ".jpg", ".jpeg"].includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => resolve(d, f)),
);
const engineArgs = positionals;
const bin = findEngineBinary();

async function pass(images: string[], output: string, peaks: number[], signal: AbortSignal): Promise<void> {
  const args = ["infer", "--images", ...images, "--preprocess", values.preprocess!, "--out", output, ...engineArgs];
  let peak: number | undefined;
  const exit = await spawnEngine({ command: bin, args }, {
    signal,
    onStderrLine: (line) => {
      const m = /peak RSS (\d+) MiB/.exec(line);
      if (m) peak = Number(m[1]);
    },
  });
  if (peak !== undefined) peaks.push(peak);
  if (exit.code !== 0) throw new Error(`engine exit ${exit.code ?? exit.signal}: ${exit.stderrTail.slice(-2000)}`);
}

/** CPU seconds of this process's finished children (the engine passes), from /proc/self/stat:
 *  on a loaded shared machine it says more about the work than wall time does. */
function childCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the command: state is #3, cutime #16 and cstime #17 (1-based in proc(5)).
  return (Number(f[16 - 3]) + Number(f[17 - 3])) / 100;
}

const size = Number(values.chunk);
const overlap = Number(values.overlap);
console.log(`engine ${bin}, args: ${engineArgs.join(" ") || "(none)"}, preprocess ${values.preprocess}, chunk ${size} overlap ${overlap}`);
for (const n of values.frames!.split(",").map(Number)) {
  const images = Array.from({ length: n }, (_, i) => pool[i % pool.length]);
  const rows: { label: string; seconds: number; enginePeak: number; passes: number }[] = [];
  // Chunked first (the point of the measurement), then unchunked where it is asked for.
  const sides = n > size ? [true, ...(n <= Number(values["unchunked-max"]) ? [false] : [])] : [false];
  for (const chunked of sides) {
    const dir = mkdtempSync(join(tmpdir(), "bench-chunked-"));
    const peaks: number[] = [];
    const t0 = Date.now();
    const cpu0 = childCpuSeconds();
    try {
      const res = await runChunked({
        images,
        size: chunked ? size : n,
        overlap,
        output: join(dir, "out.safetensors"),
        workDir: join(dir, "work"),
        signal: new AbortController().signal,
        runPass: (p, _f, signal) => pass(p.images, p.output, peaks, signal),
      });
      const seconds = (Date.now() - t0) / 1000;
      const label = chunked ? `chunked K=${size} O=${overlap} (${res.plan.length} chunks)` : "unchunked";
      rows.push({ label, seconds, enginePeak: Math.max(...peaks), passes: peaks.length });
      console.log(`${n} frames, ${label}: ${seconds.toFixed(1)} s wall, engine CPU ${(childCpuSeconds() - cpu0).toFixed(1)} s, engine peak RSS ${Math.max(...peaks)} MiB (per pass: ${peaks.join(", ")}), this process's peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
      if (chunked) for (const c of res.chunks) console.log(`    ${describeChunk(c)}`);
    } catch (e) {
      console.log(`${n} frames, ${chunked ? "chunked" : "unchunked"}: FAILED ${(e as Error).message.slice(0, 500)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const u = rows.find((r) => r.label === "unchunked");
  const c = rows.find((r) => r.label !== "unchunked");
  if (u && c) console.log(`${n} frames: chunked/unchunked time ${(c.seconds / u.seconds).toFixed(2)}x, engine peak RSS ${(c.enginePeak / u.enginePeak).toFixed(2)}x`);
}

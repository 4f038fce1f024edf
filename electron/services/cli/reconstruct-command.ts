// `vggt-workbench reconstruct`: a folder of photos -> engine output + PLY and COLMAP exports.
// The main job of the README: it uses the VGGT-1B weights on this computer when present, and
// otherwise runs the full architecture with random weights, labelled as such everywhere.
import { checkThreads } from "../../../common/limits.js";
import { spawnEngine } from "../engine/engine-process.js";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import { findEngineBinary } from "../engine/engine-launch.js";
import { exportEngineOutputFile } from "../export/index.js";
import { describeChunk, runChunked } from "../chunking/run.js";
import { writeFileAtomic } from "../tensors/safetensors.js";
import { findLocalModel, RANDOM_WEIGHTS_LABEL } from "../model-manager/index.js";
import { boundSentence, enabledNames, presetById, presetSet, type PresetId } from "../../../common/option-catalog.js";
import { CalibrationCache, defaultFromCalibration, presetLabel, engineMachineKey, engineMachineKeySync, runCalibrate } from "../calibration/calibration.js";
import { defaultDataDir } from "../runs/app-services.js";
import { isVideoPath, VIDEO_EXTENSIONS } from "../video/video.js";
import { framesFromVideo } from "./reconstruct-video.js";
import { parseCliArgs, UsageError, type CliCommand } from "./registry.js";

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const w of text.split(" ")) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  return [...lines, line].join("\n");
}

// The app's "Fastest exact" preset: within the goldens' fp32 tolerance (docs/PERFORMANCE.md).
const EXACT = enabledNames(presetSet("fastest-exact")).join(",");

/**
 * The default options on this machine, for the help: what calibration chose (cached in the app's
 * data folder, shared with the app), or how to get it.
 */
function machineDefaultHelp(): string {
  try {
    const key = engineMachineKeySync(findEngineBinary(), undefined);
    const cached = CalibrationCache.lookup(defaultDataDir(), key);
    if (cached) {
      const d = defaultFromCalibration(cached);
      return `Default options on this machine: ${presetLabel(d.preset)} (${enabledNames(presetSet(d.preset as PresetId)).join(",")}) — ${d.why} Re-measure with 'vggt-workbench calibrate'.`;
    }
    return `Default options: this machine (${key.cpu}, ${key.isa}, ${key.threads} threads, engine ${key.engineVersion}) is not calibrated yet; the first run without --options calibrates it (a few seconds, once), or run 'vggt-workbench calibrate' now. It picks the fastest set inside the official bf16 accuracy bound on this CPU.`;
  } catch (e) {
    return `Default options: chosen per machine by a calibration ('vggt-workbench calibrate'), which cannot run now: ${(e as Error).message}`;
  }
}

/** The options a run without --options uses: the cached calibration's choice, else calibrate now and cache it. */
async function machineDefaultOptions(threads: number | undefined, io: { stderr(t: string): void }): Promise<string> {
  const bin = findEngineBinary();
  const key = await engineMachineKey(bin, threads);
  const cache = new CalibrationCache(defaultDataDir());
  let cal = cache.get(key);
  if (!cal) {
    io.stderr(`Calibrating this machine (${key.cpu}, ${key.isa}, ${key.threads} threads; a few seconds, once)…\n`);
    const measured = await runCalibrate(bin, key.threads);
    cal = { ...measured, ...key };
    try {
      cache.put(cal);
    } catch (e) {
      io.stderr(`(could not cache the calibration: ${(e as Error).message})\n`);
    }
  }
  const d = defaultFromCalibration(cal);
  io.stderr(`Options: ${presetLabel(d.preset)} — ${d.why} (--options ${EXACT} for fp32-exact outputs)\n`);
  return enabledNames(presetSet(d.preset as PresetId)).join(",");
}

function usage(): string {
  return `Usage: vggt-workbench reconstruct <images-folder | video> --out DIR [options]

Runs VGGT on every PNG/JPEG in the folder and writes DIR/reconstruction.safetensors (the engine
output), DIR/points.ply and a COLMAP model in DIR/colmap. A video (${VIDEO_EXTENSIONS.join(" ")}) is
sampled into DIR/frames first (by ffmpeg): --fps R or --frames N, default the most frames one run
holds on this machine.

Options:
  --out DIR               output folder (created)
  --weights FILE          a .safetensors/.pt checkpoint (default: VGGT-1B from the local cache)
  --config FILE           architecture config JSON for --weights (default: the vggt-1b preset)
  --random-weights        use random weights even if a checkpoint is present (benchmark mode)
  --preprocess crop|pad   how images are fitted to 518 px (default crop)
  --frames N              use at most N images (evenly subsampled); for a video: sample N frames
  --fps R                 for a video: sample R frames per second of video
  --threads N             engine threads (default: all cores)
  --options LIST          engine optimizations (default: this machine's calibrated default, below;
                          ${EXACT} for fp32-exact outputs;
                          'all' = every option but int8 (bf16); 'all,w8a8' adds int8;
                          '' for the plain reference path)
  --conf-percentile P     confidence filter for the exports (default 50)
  --chunk K               run the frames in chunks of K (one engine pass each, so memory is that of
                          K frames), align each chunk to the previous one by a robust Sim(3) on the
                          frames they share and merge them into one reconstruction (docs/CHUNKED.md)
  --overlap O             frames shared by consecutive chunks (default: K/5, at least 1)

${wrap(machineDefaultHelp(), 100)}

${wrap(boundSentence(), 100)}
`;
}

const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg"]);
// The app's "Fastest exact" preset: within the goldens' fp32 tolerance (docs/PERFORMANCE.md).
export const FASTEST_EXACT = presetById("fastest-exact").on.join(",");

export const reconstructCommand: CliCommand = {
  name: "reconstruct",
  summary: "run VGGT on a folder of images and export a point cloud and cameras",
  get usage() {
    return usage();
  },
  async run(argv, io) {
    const { values, positionals } = parseCliArgs(argv, {
      out: { type: "string" },
      weights: { type: "string" },
      config: { type: "string" },
      "random-weights": { type: "boolean" },
      preprocess: { type: "string" },
      frames: { type: "string" },
      fps: { type: "string" },
      threads: { type: "string" },
      options: { type: "string" },
      "conf-percentile": { type: "string" },
      chunk: { type: "string" },
      overlap: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("give exactly one images folder or video");
    if (!values.out) throw new UsageError("--out DIR is required");
    const input = resolve(positionals[0]);
    const video = isVideoPath(input) && existsSync(input) && !statSync(input).isDirectory();
    if (!video && values.fps !== undefined) throw new UsageError("--fps applies to a video input only");
    if (video) mkdirSync(resolve(values.out), { recursive: true });
    let threads: number | undefined;
    if (values.threads) {
      try {
        threads = checkThreads(values.threads, "--threads");
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    // This machine's default (calibrating once if need be), asked only once the input is known good.
    let options = values.options;
    const fromVideo = video ? await framesFromVideo(input, resolve(values.out), { ...values, options: (options ??= await machineDefaultOptions(threads, io)) }, io) : null;
    const dir = fromVideo?.dir ?? input;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder`);
    let images = fromVideo?.images ?? readdirSync(dir)
      .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
      .sort()
      .map((f) => join(dir, f));
    if (images.length === 0) throw new Error(`${dir}: no PNG or JPEG images`);
    options ??= await machineDefaultOptions(threads, io);
    if (values.frames && !fromVideo) {
      const n = Number(values.frames);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--frames expects a positive integer, got '${values.frames}'`);
      if (images.length > n) images = Array.from({ length: n }, (_, i) => images[Math.floor((i * images.length) / n)]);
    }

    const intArg = (name: string, v: string | undefined, min: number): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} expects an integer of at least ${min}, got '${v}'`);
      return n;
    };
    const chunk = intArg("chunk", values.chunk, 2);
    if (values.overlap !== undefined && chunk === undefined) throw new UsageError("--overlap needs --chunk");
    const overlap = intArg("overlap", values.overlap, 1) ?? (chunk ? Math.max(1, Math.round(chunk / 5)) : 0);
    if (chunk !== undefined && chunk < images.length && overlap >= chunk) throw new UsageError(`--overlap must be smaller than --chunk (${overlap} >= ${chunk})`);

    const out = resolve(values.out);
    mkdirSync(out, { recursive: true });
    const engineOut = join(out, "reconstruction.safetensors");
    const args = ["--preprocess", values.preprocess ?? "crop"];
    let label: string;
    const local = values["random-weights"] ? null : values.weights ? { path: resolve(values.weights) } : findLocalModel();
    if (local) {
      args.push("--weights", local.path);
      label = `weights: ${local.path}`;
    } else {
      args.push("--random-weights");
      label = `weights: ${RANDOM_WEIGHTS_LABEL}`;
      if (!values["random-weights"])
        io.stderr("No VGGT-1B checkpoint on this computer ('vggt-workbench model download' fetches it): running the full architecture with RANDOM weights.\n");
    }
    if (values.config) args.push("--config", resolve(values.config));
    if (threads !== undefined) args.push("--threads", String(threads));
    args.push("--options", options);
    io.stderr(`Reconstructing ${images.length} images from ${dir}\n${label}\n`);
    const bin = findEngineBinary();
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once("SIGINT", onSigint);
    process.once("SIGTERM", onSigint);
    let chunkLines: string[] = [];
    try {
      const { chunks, plan } = await runChunked({
        images,
        size: chunk ?? images.length,
        overlap,
        output: engineOut,
        // Beside the output: same file system, and an interrupted run leaves nothing in DIR proper.
        workDir: join(out, `.chunks-${process.pid}`),
        signal: abort.signal,
        runPass: async (pass, _progress, signal) => {
          const prefix = chunk && chunk < images.length ? `  chunk ${pass.span.index + 1} engine: ` : "  engine: ";
          let code: number;
          try {
            const r = await spawnEngine({ command: bin, args: ["infer", "--images", ...pass.images, ...args, "--out", pass.output] }, { signal, onStderrLine: (l) => io.stderr(`${prefix}${l}\n`) });
            if (r.stdout) io.stdout(r.stdout);
            code = r.code ?? 1;
          } catch (e) {
            if (signal.aborted) throw new Error(`cancelled; earlier results in ${out} are unchanged`);
            throw e;
          }
          if (code !== 0) throw new Error(`the engine failed (exit code ${code}); earlier results in ${out} are unchanged`);
        },
        onProgress: (p) => {
          if (p.chunks > 1 && /starting|merging/.test(p.message))
            io.stderr(`${p.message} — ${(100 * p.fraction).toFixed(0)}% done${p.etaSeconds !== null ? `, about ${Math.round(p.etaSeconds)} s left` : ""}\n`);
        },
        onChunk: (r) => io.stderr(`  ${describeChunk(r)}\n`),
      });
      if (plan.length > 1) {
        chunkLines = chunks.map(describeChunk);
        writeFileAtomic(join(out, "chunks.json"), JSON.stringify({ size: chunk, overlap, branch: "depth", overlapFrom: "earlier chunk", chunks }, null, 2) + "\n");
      }
    } catch (e) {
      if (abort.signal.aborted) throw new Error(`cancelled; earlier results in ${out} are unchanged`);
      throw e;
    } finally {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigint);
    }

    const conf = values["conf-percentile"] === undefined ? 50 : Number(values["conf-percentile"]);
    const common = { imagesDir: dir, confPercentile: conf, force: true } as const;
    const ply = await exportEngineOutputFile(engineOut, { ...common, format: "ply", outDir: out });
    const colmap = await exportEngineOutputFile(engineOut, { ...common, format: "colmap-bin", outDir: join(out, "colmap"), imagesMode: "symlink" });
    io.stdout(
      `engine output: ${engineOut}\n` +
        `point cloud:   ${join(out, "points.ply")} (${ply.pointCount} points, confidence percentile ${conf})\n` +
        `COLMAP model:  ${join(out, "colmap", "sparse", "0")} (${colmap.frames.length} images)\n` +
        (chunkLines.length ? `chunks (${chunk} frames, ${overlap} shared; aligned on the depth branch, in ${join(out, "chunks.json")}):\n${chunkLines.map((l) => `  ${l}\n`).join("")}` : "") +
        (local ? "" : `NOTE: ${RANDOM_WEIGHTS_LABEL}\n`),
    );
    return 0;
  },
};

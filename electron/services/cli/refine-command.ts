// `vggt-workbench refine`: bundle adjustment of a reconstruction's cameras on the track head's tracks
// through COLMAP (services/refine), written as a new engine output that exports like any other.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findEngineBinary } from "../engine/engine-launch.js";
import { loadEngineOutput } from "../export/engine-output.js";
import { engineTrackPredictor, type EngineTrackSource } from "../refine/engine-tracks.js";
import { DEFAULT_QUERIES, DEFAULT_QUERY_FRAMES, formatRefineReport, refineOutputFile } from "../refine/refine.js";
import { DEFAULT_TRACK_FILTER } from "../refine/track-model.js";
import { FASTEST_EXACT } from "./reconstruct-command.js";
import { parseCliArgs, UsageError, type CliCommand } from "./registry.js";

const USAGE = `Usage: vggt-workbench refine <run> --out FILE.safetensors [options]

Refines a reconstruction's cameras with bundle adjustment: points are queried on frame 0 and a few
frames picked for coverage, tracked through every frame by VGGT's track head, filtered by
visibility and confidence, triangulated with the predicted cameras, and refined by COLMAP's
bundle adjuster. Writes a new engine output (refined cameras, depth points recomputed with them,
the refined sparse points) that 'vggt-workbench export' takes like any other; the input is unchanged.

<run> is an engine output file or a 'vggt-workbench reconstruct' output folder. The model that made
it is used again (recorded in the file: its weights, or random weights and seed, and its config).

Options:
  --out FILE              the new engine output (.safetensors; written atomically)
  --queries N             query points in total (default ${DEFAULT_QUERIES})
  --query-frames K        frames to query from: frame 0 plus K-1 picked for coverage (default
                          ${DEFAULT_QUERY_FRAMES}); each costs one forward pass
  --weights FILE          the checkpoint, if the recorded one has moved
  --config FILE           its config JSON (default: the one recorded in the file, else vggt-1b)
  --min-visibility V      track filter (default ${DEFAULT_TRACK_FILTER.minVisibility})
  --min-confidence C      track filter (default ${DEFAULT_TRACK_FILTER.minConfidence})
  --max-reproj PX         inlier threshold on the feed-forward reprojection error, pixels of the
                          original images (default ${DEFAULT_TRACK_FILTER.maxReprojectionPx})
  --min-observations N    per image, below which refine refuses (default ${DEFAULT_TRACK_FILTER.minObservationsPerImage})
  --keep-colmap DIR       keep COLMAP's input and refined models (text/binary) in DIR
  --threads N             engine threads
  --options LIST          engine optimizations for the track passes (default: the fp32-exact ones,
                          as 'reconstruct')
`;

function num(flag: string, v: string | undefined, dflt: number, integer = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${flag} expects a ${integer ? "non-negative integer" : "non-negative number"}, got '${v}'`);
  return n;
}

export const refineCommand: CliCommand = {
  name: "refine",
  summary: "refine a reconstruction's cameras by bundle adjustment (track head + COLMAP)",
  usage: USAGE,
  async run(argv, io) {
    const { values: v, positionals } = parseCliArgs(argv, {
      out: { type: "string" },
      queries: { type: "string" },
      "query-frames": { type: "string" },
      weights: { type: "string" },
      config: { type: "string" },
      "min-visibility": { type: "string" },
      "min-confidence": { type: "string" },
      "max-reproj": { type: "string" },
      "min-observations": { type: "string" },
      "keep-colmap": { type: "string" },
      threads: { type: "string" },
      options: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError(`expected one run (engine output file or reconstruct folder), got ${positionals.length}`);
    if (!v.out) throw new UsageError("--out FILE is required");
    const queries = num("--queries", v.queries, DEFAULT_QUERIES, true);
    if (queries < 1) throw new UsageError("--queries must be at least 1");
    const queryFrames = num("--query-frames", v["query-frames"], DEFAULT_QUERY_FRAMES, true);
    if (queryFrames < 1) throw new UsageError("--query-frames must be at least 1");
    let input = resolve(positionals[0]);
    if (existsSync(input) && statSync(input).isDirectory()) input = join(input, "reconstruction.safetensors");
    if (!existsSync(input)) throw new Error(`${input}: no such engine output`);
    const outPath = resolve(v.out);
    if (outPath === input) throw new UsageError("--out must differ from the input: refine never overwrites a run");

    const out = loadEngineOutput(input);
    if (!out.frames) throw new Error(`${input}: made from an input tensor, not image files; refine needs the images to run the track head on`);
    for (const f of out.frames) if (!existsSync(f.path)) throw new Error(`${input}: its image ${f.path} is missing`);
    const meta = out.metadata;
    const tmp = mkdtempSync(join(tmpdir(), "vggt-refine-cli-"));
    try {
      let config = v.config ? resolve(v.config) : undefined;
      if (!config && meta.config) {
        config = join(tmp, "config.json");
        writeFileSync(config, meta.config);
      }
      let model: EngineTrackSource["model"];
      const random = /^random:(\d+)$/.exec(meta.model ?? "");
      if (v.weights) model = { weights: resolve(v.weights), config };
      else if (random) model = { randomSeed: Number(random[1]), config };
      else if (meta.model && existsSync(meta.model)) model = { weights: meta.model, config };
      else throw new Error(`${input}: the weights that made it (${meta.model ?? "not recorded"}) are not on this computer; give --weights`);
      if (random) io.stderr("note: this run used RANDOM weights: its tracks, and so the refined cameras, are meaningless.\n");

      const predict = engineTrackPredictor({
        binary: findEngineBinary(),
        model,
        images: out.frames.map((f) => f.path),
        preprocess: out.preprocess === "pad" ? "pad" : "crop",
        threads: v.threads ? num("--threads", v.threads, 0, true) : undefined,
        options: v.options ?? FASTEST_EXACT,
      });
      const report = await refineOutputFile(input, outPath, predict, {
        queries,
        queryFrames,
        workDir: v["keep-colmap"] ? resolve(v["keep-colmap"]) : undefined,
        filter: {
          minVisibility: num("--min-visibility", v["min-visibility"], DEFAULT_TRACK_FILTER.minVisibility),
          minConfidence: num("--min-confidence", v["min-confidence"], DEFAULT_TRACK_FILTER.minConfidence),
          maxReprojectionPx: num("--max-reproj", v["max-reproj"], DEFAULT_TRACK_FILTER.maxReprojectionPx),
          minObservationsPerImage: num("--min-observations", v["min-observations"], DEFAULT_TRACK_FILTER.minObservationsPerImage, true),
        },
        onStage: (stage, detail) => io.stderr(`refine: ${stage} (${detail})\n`),
      });
      io.stdout(`${formatRefineReport(report)}\nrefined output: ${outPath}\n`);
      return 0;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};

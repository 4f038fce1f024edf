// `vggt-workbench model ...`: get, check, list and convert the VGGT weights from the command line.
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { parseCliArgs, UsageError, type CliCommand, type CliIO } from "./registry.js";
import { findEngineBinary } from "../engine/engine-launch.js";
import {
  CONVERT_TARGETS,
  convertCached,
  deleteConverted,
  cleanConvertedOrphans,
  engineConverter,
  engineVersion,
  type ConvertTarget,
} from "../model-manager/convert-cache.js";
import { checkVggtConfig } from "../model-manager/config-check.js";
import { ModelError, formatBytes } from "../model-manager/errors.js";
import { hashFile } from "../model-manager/hub-download.js";
import { convertedCacheDir, currentPlatform } from "../model-manager/paths.js";
import { cliProgressRenderer } from "../model-manager/progress.js";
import { listCached, resolveModel, type ModelSource, type ResolveOptions } from "../model-manager/resolve.js";
import { engineCheckpointCheck, validateCheckpoint, type ValidationReport } from "../model-manager/validate.js";
import type { VggtConfig } from "../model-manager/vggt-params.js";

const USAGE = `Usage: vggt-workbench model <action> [options]

Gets, checks and converts the VGGT-1B weights.

Actions:
  download              download the weights into the Hugging Face cache (resumes, verifies SHA-256)
  path                  print the weights file that would be used (never downloads)
  validate FILE         check a .safetensors / .pt checkpoint's structure, tensor names and shapes
  verify                re-hash the cached hub files against their SHA-256 names
  list                  weights in the HF cache, placed by hand, and converted caches, with sizes
  convert --to T        make (or reuse) the engine-ready bf16 or int8 cache of the weights
  rm-converted KEY      delete a converted cache entry (--all: every entry; --orphans: leftovers)

Options:
  --repo R              hub repository (default facebook/VGGT-1B; facebook/VGGT-1B-Commercial needs HF_TOKEN)
  --file F              model.safetensors (default) or model.pt
  --revision REV        branch, tag or commit (default main)
  --endpoint URL        hub or mirror URL (default $HF_ENDPOINT or https://huggingface.co)
  --cache-dir DIR       Hugging Face cache (default $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)
  --sha256 HEX          expected SHA-256, overriding what the server publishes
  --weights FILE        use this local checkpoint (path, convert)
  --offline             never touch the network (also HF_HUB_OFFLINE=1)
  --config C            architecture to validate against: vggt-1b (default) or a config JSON file
  --engine BIN          vggt-engine binary (default $VGGT_ENGINE_BIN or the repository build)
  --json                machine-readable output

Environment: HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, VGGT_WORKBENCH_CACHE,
VGGT_WORKBENCH_DATA (the folder for weights placed by hand is <data>/models).
`;

/** CliIO plus optional facts about the terminal (the registry's CliIO has only the two writers). */
type ModelCliIO = CliIO & { isTTY?: boolean; columns?: number; env?: NodeJS.ProcessEnv };

function engineOrNull(explicit: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (explicit) return explicit;
  try {
    return findEngineBinary({ env });
  } catch {
    return null;
  }
}

function loadConfig(c: string | undefined): VggtConfig | "vggt-1b" {
  if (!c || c === "vggt-1b") return "vggt-1b";
  let text: string;
  try {
    if (!statSync(c).isFile()) throw new Error("not a regular file");
    text = readFileSync(c, "utf8");
  } catch (e) {
    throw new UsageError(`--config: cannot read ${c} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`--config: ${c} is not valid JSON`);
  }
  try {
    return checkVggtConfig(raw, c);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function reportText(r: ValidationReport): string {
  const lines = [
    `${r.path}: ${r.ok ? "OK" : "INVALID"} (${r.format}, ${formatBytes(r.fileSize)}${r.namesChecked ? `, ${r.tensorCount} tensors, ${r.paramCount.toLocaleString("en-US")} parameters, ${Object.entries(r.dtypes).map(([d, n]) => `${n} ${d}`).join(" + ")}` : ""})`,
  ];
  for (const e of r.errors) lines.push(`  error: ${e}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines.join("\n") + "\n";
}

export const modelCommand: CliCommand = {
  name: "model",
  summary: "download, validate, list and convert the VGGT-1B weights",
  usage: USAGE,
  async run(argv, ioIn) {
    const io = ioIn as ModelCliIO;
    const { values: v, positionals } = parseCliArgs(argv, {
      repo: { type: "string" },
      file: { type: "string" },
      revision: { type: "string" },
      endpoint: { type: "string" },
      "cache-dir": { type: "string" },
      sha256: { type: "string" },
      weights: { type: "string" },
      offline: { type: "boolean" },
      engine: { type: "string" },
      config: { type: "string" },
      to: { type: "string" },
      all: { type: "boolean" },
      orphans: { type: "boolean" },
      json: { type: "boolean" },
    });
    const [action, ...rest] = positionals;
    if (!action) throw new UsageError("an action is required");
    const env = io.env ?? process.env;
    // The registry's default IO writes to process.stderr: draw a bar when that is a terminal.
    const isTTY = io.isTTY ?? process.stderr.isTTY === true;
    const progress = cliProgressRenderer({ write: (t: string) => io.stderr(t), isTTY, columns: io.columns ?? process.stderr.columns });
    const opts: ResolveOptions = {
      env,
      endpoint: v.endpoint,
      cacheDir: v["cache-dir"],
      expectedSha256: v.sha256,
      offline: v.offline ? true : undefined,
    };
    const engineBin = engineOrNull(v.engine, env);
    const validate = { engineCheck: engineBin ? engineCheckpointCheck(engineBin) : undefined, config: loadConfig(v.config) };
    const hubSource: ModelSource = { kind: "hub", repo: v.repo, revision: v.revision, filename: v.file };
    const source: ModelSource = v.weights ? { kind: "file", path: v.weights } : hubSource;
    const out = (x: unknown, text: string) => io.stdout(v.json ? JSON.stringify(x, null, 1) + "\n" : text);

    const ac = new AbortController();
    const onSigint = () => ac.abort();
    process.once("SIGINT", onSigint);
    try {
      switch (action) {
        case "download": {
          if (v.weights) throw new UsageError("download takes no --weights");
          const m = await resolveModel(hubSource, { ...opts, validate }, progress, ac.signal);
          out(m, `${m.path}\n${m.label}\n`);
          return 0;
        }
        case "path": {
          const m = await resolveModel(source, { ...opts, allowDownload: false, validate }, undefined, ac.signal);
          out(m, `${m.path}\n`);
          return 0;
        }
        case "validate": {
          if (rest.length !== 1) throw new UsageError(`validate takes one file, got ${rest.length}`);
          const r = await validateCheckpoint(rest[0], validate);
          out(r, reportText(r));
          return r.ok ? 0 : 1;
        }
        case "verify": {
          const listing = listCached({ ...opts, repos: v.repo ? [v.repo] : undefined });
          const results: { path: string; ok: boolean; expected: string | null; actual: string }[] = [];
          const seen = new Set<string>();
          for (const h of listing.hub) {
            if (seen.has(h.blobPath)) continue;
            seen.add(h.blobPath);
            const actual = await hashFile(h.blobPath, progress, ac.signal, basename(h.path));
            results.push({ path: h.path, ok: actual === h.sha256, expected: h.sha256, actual });
          }
          const bad = results.filter((r) => !r.ok);
          out(results, results.map((r) => `${r.ok ? "OK " : "BAD"} ${r.path}${r.ok ? "" : ` (expected ${r.expected}, got ${r.actual}: delete it and download again)`}`).join("\n") + (results.length ? "\n" : "no hub weights in the cache\n"));
          return bad.length ? 1 : 0;
        }
        case "list": {
          const l = listCached({ ...opts, convertedDir: convertedCacheDir({ ...currentPlatform(), env }) });
          const lines = [`Hugging Face cache: ${l.hubCacheDir}`];
          for (const h of l.hub) lines.push(`  ${h.repo}@${h.revision} ${h.filename}  ${formatBytes(h.size)}  ${h.path}`);
          if (!l.hub.length) lines.push("  (none)");
          lines.push(`Placed by hand: ${l.manualDir}`);
          for (const m of l.manual) lines.push(`  ${basename(m.path)}  ${formatBytes(m.size)}`);
          if (!l.manual.length) lines.push("  (none)");
          lines.push(`Converted: ${l.convertedDir}`);
          for (const c of l.converted.entries)
            lines.push(`  ${c.target} (engine ${c.engineVersion}) of ${c.sourceSha256.slice(0, 12)}…  ${formatBytes(c.size)}  key ${c.key}`);
          if (!l.converted.entries.length) lines.push("  (none)");
          if (l.converted.orphans.length)
            lines.push(`  ${l.converted.orphans.length} leftover file(s) of interrupted conversions (${formatBytes(l.converted.orphans.reduce((a, o) => a + o.size, 0))}): model rm-converted --orphans`);
          lines.push(`Total on disk: ${formatBytes(l.totalSize)}`);
          out(l, lines.join("\n") + "\n");
          return 0;
        }
        case "convert": {
          const target = v.to as ConvertTarget;
          if (!CONVERT_TARGETS.includes(target)) throw new UsageError(`--to must be one of ${CONVERT_TARGETS.join(", ")}, got '${v.to ?? ""}'`);
          if (!engineBin) throw new ModelError("ENGINE", "converting needs the engine: set VGGT_ENGINE_BIN or --engine, or build native-engine");
          const m = await resolveModel(source, { ...opts, validate }, progress, ac.signal);
          const r = await convertCached({
            source: m.path!,
            sourceSha256: m.sha256 ?? undefined,
            target,
            engineVersion: await engineVersion(engineBin),
            converter: engineConverter(engineBin),
            cacheDir: convertedCacheDir({ ...currentPlatform(), env }),
            signal: ac.signal,
            onProgress: progress,
          });
          out(r, `${r.entry.path}\n${r.reused ? "reused" : "converted"}: ${target}, ${formatBytes(r.entry.size)}\n`);
          return 0;
        }
        case "rm-converted": {
          const dir = convertedCacheDir({ ...currentPlatform(), env });
          if (v.orphans) {
            const n = cleanConvertedOrphans(dir, 0);
            out({ removed: n }, `removed ${n} leftover file(s)\n`);
            return 0;
          }
          const keys = v.all ? listCached({ ...opts, convertedDir: dir }).converted.entries.map((e) => e.key) : rest;
          if (!keys.length) throw new UsageError("rm-converted needs a KEY (see 'model list'), --all or --orphans");
          let missing = 0;
          for (const k of keys) {
            if (deleteConverted(k, dir)) io.stdout(`deleted ${k}\n`);
            else {
              io.stderr(`no converted entry '${k}'\n`);
              missing++;
            }
          }
          return missing ? 1 : 0;
        }
        default:
          throw new UsageError(`unknown action '${action}'`);
      }
    } catch (e) {
      // Multi-line ModelError messages (the offline one) are printed as they are.
      if (e instanceof ModelError) {
        io.stderr(`vggt-workbench model: ${e.message}\n`);
        return 1;
      }
      throw e;
    } finally {
      process.off("SIGINT", onSigint);
    }
  },
};

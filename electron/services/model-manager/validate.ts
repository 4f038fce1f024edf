// Checking a checkpoint before the engine loads it: structure (safetensors header and data extent, or
// the .pt zip directory) and every tensor name and shape against the architecture. Reads only headers
// and directories, never the multi-GB tensor data.
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { spawnEngine, ProcessStartError, type ProcessExit } from "../engine/engine-process.js";
import { readAt, readSafetensorsHeader as readHeader, SafetensorsError } from "../tensors/safetensors.js";
import { ModelError } from "./errors.js";
import { TRACK_HEAD_PREFIX, VGGT_1B_CONFIG, configByName, countParams, vggtParamSpecs, type VggtConfig } from "./vggt-params.js";

export type CheckpointFormat = "safetensors" | "pt";

export interface TensorListing {
  name: string;
  dtype: string;
  shape: number[];
}

export interface ValidationReport {
  path: string;
  format: CheckpointFormat | "unknown";
  fileSize: number;
  /** True when the file can be handed to the engine. */
  ok: boolean;
  /** Whether names and shapes were compared (always for safetensors; for .pt only through the engine). */
  namesChecked: boolean;
  tensorCount: number;
  paramCount: number;
  /** Tensor count per dtype, e.g. {F32: 1797}. */
  dtypes: Record<string, number>;
  missing: string[];
  unexpected: string[];
  misshaped: { name: string; expected: number[]; actual: number[] }[];
  badDtype: { name: string; dtype: string }[];
  /** False when the checkpoint has no track head (point tracking unavailable; reconstruction unaffected). */
  hasTrackHead: boolean;
  metadata: Record<string, string>;
  errors: string[];
  warnings: string[];
}

/** Name/shape check done by the engine, for .pt files whose pickled state dict only the engine parses. */
export interface EngineCheckResult {
  tensorCount: number;
  missing: string[];
  unexpected: string[];
  misshaped: { name: string; expected: number[]; actual: number[] }[];
  badDtype: { name: string; dtype: string }[];
}
/** Resolves null when no engine (or no `validate` subcommand) is available. */
export type EngineCheck = (path: string, cfg: VggtConfig) => Promise<EngineCheckResult | null>;

export interface ValidateOptions {
  /** Architecture to compare with (default VGGT-1B). */
  config?: VggtConfig | "vggt-1b";
  /** Used for .pt files (see engineCheckpointCheck). */
  engineCheck?: EngineCheck;
  /** Require the track head (default false: missing entirely only gives a warning). */
  requireTrackHead?: boolean;
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);

export interface SafetensorsHeader {
  tensors: TensorListing[];
  metadata: Record<string, string>;
}

/** Parses and checks a safetensors header: dtypes, sizes, offsets covering the data exactly. Throws
 * ModelError INVALID_CHECKPOINT naming the file. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  try {
    const h = readHeader(path, { exactTiling: true });
    return { tensors: h.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), metadata: h.metadata };
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelError("INVALID_CHECKPOINT", e.message, { path });
    throw e;
  }
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  localOffset: number;
}

/** Reads a zip's central directory (ZIP64 included: VGGT-1B's model.pt is 5 GB). */
export function readZipDirectory(path: string): ZipEntry[] {
  const bad = (msg: string) => new ModelError("INVALID_CHECKPOINT", `${path}: ${msg}`, { path });
  const size = statSync(path).size;
  const fd = openSync(path, "r");
  try {
    const tailLen = Math.min(size, 22 + 65535 + 20);
    const tail = readAt(fd, size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50 && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad("not a complete zip archive: no end-of-directory record (truncated download or copy?)");
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw bad("corrupt zip: ZIP64 locator missing");
      const z64Off = Number(tail.readBigUInt64LE(loc + 8));
      if (z64Off + 56 > size) throw bad("corrupt zip: ZIP64 record outside the file");
      const z64 = readAt(fd, z64Off, 56);
      if (z64.readUInt32LE(0) !== 0x06064b50) throw bad("corrupt zip: bad ZIP64 record");
      count = Number(z64.readBigUInt64LE(32));
      cdSize = Number(z64.readBigUInt64LE(40));
      cdOffset = Number(z64.readBigUInt64LE(48));
    }
    if (cdOffset + cdSize > size || cdSize > 256 << 20) throw bad("corrupt zip: central directory outside the file");
    const cd = readAt(fd, cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw bad(`corrupt zip: bad central directory entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let uncompressed = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw bad(`corrupt zip: central directory entry ${i} runs past the directory`);
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString("utf8");
      // ZIP64 extra field: the 64-bit values present are those whose 32-bit field is 0xFFFFFFFF, in order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (e + 4 + len > eEnd) throw bad(`corrupt zip: extra field of entry '${name}' runs past its end`);
        if (id === 0x0001) {
          let q = e + 4;
          const u64 = () => {
            if (q + 8 > e + 4 + len) throw bad(`corrupt zip: ZIP64 field of entry '${name}' is too short`);
            const v = Number(cd.readBigUInt64LE(q));
            q += 8;
            return v;
          };
          if (uncompressed === 0xffffffff) uncompressed = u64();
          if (compressedSize === 0xffffffff) compressedSize = u64();
          if (localOffset === 0xffffffff) localOffset = u64();
        }
        e += 4 + len;
      }
      if (localOffset + 30 + compressedSize > cdOffset) throw bad(`corrupt zip: entry '${name}' extends past the data area`);
      entries.push({ name, method, compressedSize, localOffset });
      p = eEnd + commentLen;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

function detectFormat(path: string): CheckpointFormat | "unknown" {
  const fd = openSync(path, "r");
  try {
    const head = readAt(fd, 0, 4);
    if (head.length === 4 && head.readUInt32LE(0) === 0x04034b50) return "pt";
  } finally {
    closeSync(fd);
  }
  const ext = extname(path).toLowerCase();
  if (ext === ".safetensors") return "safetensors";
  if (ext === ".pt" || ext === ".pth" || ext === ".bin") return "pt";
  return "safetensors"; // by content: anything else is tried as safetensors
}

function emptyReport(path: string, fileSize: number): ValidationReport {
  return {
    path,
    format: "unknown",
    fileSize,
    ok: false,
    namesChecked: false,
    tensorCount: 0,
    paramCount: 0,
    dtypes: {},
    missing: [],
    unexpected: [],
    misshaped: [],
    badDtype: [],
    hasTrackHead: false,
    metadata: {},
    errors: [],
    warnings: [],
  };
}

/** Compares a tensor listing with the architecture's parameter list. */
export function compareWithArchitecture(
  tensors: TensorListing[],
  cfg: VggtConfig,
  requireTrackHead = false,
): Pick<ValidationReport, "missing" | "unexpected" | "misshaped" | "badDtype" | "hasTrackHead" | "warnings"> {
  const expected = vggtParamSpecs(cfg);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const expectedNames = new Set(expected.map((s) => s.name));
  let missing = expected.filter((s) => !byName.has(s.name)).map((s) => s.name);
  const unexpected = tensors.filter((t) => !expectedNames.has(t.name)).map((t) => t.name);
  const misshaped = expected
    .filter((s) => byName.has(s.name) && JSON.stringify(byName.get(s.name)!.shape) !== JSON.stringify(s.shape))
    .map((s) => ({ name: s.name, expected: s.shape, actual: byName.get(s.name)!.shape }));
  const badDtype = tensors.filter((t) => expectedNames.has(t.name) && !FLOAT_DTYPES.has(t.dtype)).map((t) => ({ name: t.name, dtype: t.dtype }));
  const warnings: string[] = [];
  const trackExpected = expected.filter((s) => s.name.startsWith(TRACK_HEAD_PREFIX)).length;
  const trackPresent = tensors.filter((t) => t.name.startsWith(TRACK_HEAD_PREFIX)).length;
  if (trackExpected > 0 && trackPresent === 0 && !requireTrackHead) {
    // Checkpoints without the track head still reconstruct; only point tracking is unavailable.
    missing = missing.filter((n) => !n.startsWith(TRACK_HEAD_PREFIX));
    warnings.push("no track head in this checkpoint: point tracking is unavailable (reconstruction is unaffected)");
  }
  return { missing, unexpected, misshaped, badDtype, hasTrackHead: trackPresent > 0, warnings };
}

function listSummary(label: string, items: string[], max = 8): string {
  const shown = items.slice(0, max).join(", ");
  return `${items.length} ${label}: ${shown}${items.length > max ? `, ... (${items.length - max} more)` : ""}`;
}

function addNameErrors(report: ValidationReport, path: string): void {
  if (report.missing.length) report.errors.push(`${path}: ${listSummary("missing tensors", report.missing)}`);
  if (report.unexpected.length) report.errors.push(`${path}: ${listSummary("unexpected tensors (not VGGT parameter names)", report.unexpected)}`);
  if (report.misshaped.length)
    report.errors.push(
      `${path}: ${listSummary(
        "tensors with the wrong shape",
        report.misshaped.map((m) => `${m.name} is ${JSON.stringify(m.actual)}, expected ${JSON.stringify(m.expected)}`),
        5,
      )}`,
    );
  if (report.badDtype.length)
    report.errors.push(`${path}: ${listSummary("tensors are not floating point", report.badDtype.map((b) => `${b.name} (${b.dtype})`))}`);
}

/** Validates a local checkpoint; never throws for a bad file (see `report.errors`), only for
 * programming errors. Use `assertValidCheckpoint` to get an exception. */
export async function validateCheckpoint(path: string, opts: ValidateOptions = {}): Promise<ValidationReport> {
  let fileSize: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      const r = emptyReport(path, 0);
      r.errors.push(`${path}: not a regular file`);
      return r;
    }
    fileSize = st.size;
  } catch (e) {
    const r = emptyReport(path, 0);
    r.errors.push(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return r;
  }
  const report = emptyReport(path, fileSize);
  const cfg = typeof opts.config === "string" ? configByName(opts.config) : (opts.config ?? VGGT_1B_CONFIG);
  let tensors: TensorListing[] | null = null;
  try {
    report.format = detectFormat(path);
    if (report.format === "safetensors") {
      const h = readSafetensorsHeader(path);
      tensors = h.tensors;
      report.metadata = h.metadata;
    } else {
      const entries = readZipDirectory(path);
      const pkl = entries.find((e) => e.name === "data.pkl" || e.name.endsWith("/data.pkl"));
      if (!pkl) throw new ModelError("INVALID_CHECKPOINT", `${path}: a zip file but not a PyTorch checkpoint (no data.pkl inside)`);
      const prefix = pkl.name.slice(0, pkl.name.length - "data.pkl".length);
      const storages = entries.filter((e) => e.name.startsWith(`${prefix}data/`)).length;
      if (storages === 0) throw new ModelError("INVALID_CHECKPOINT", `${path}: PyTorch checkpoint without tensor storages (no ${prefix}data/ entries)`);
      const ec = opts.engineCheck ? await opts.engineCheck(path, cfg) : null;
      if (ec) {
        report.namesChecked = true;
        report.tensorCount = ec.tensorCount;
        Object.assign(report, { missing: ec.missing, unexpected: ec.unexpected, misshaped: ec.misshaped, badDtype: ec.badDtype });
        report.hasTrackHead = !!cfg.track?.enabled; // the engine does not report it; assume the official layout
        addNameErrors(report, path);
      } else
        report.warnings.push(
          `${path}: only the zip structure was checked (${storages} storages); tensor names and shapes of .pt files are checked by 'vggt-engine validate', which is not available`,
        );
    }
  } catch (e) {
    if (e instanceof ModelError) report.errors.push(e.message);
    else report.errors.push(`${path}: cannot read (${(e as Error).message})`);
    return report;
  }
  if (tensors) {
    report.namesChecked = true;
    report.tensorCount = tensors.length;
    report.paramCount = countParams(tensors);
    for (const t of tensors) report.dtypes[t.dtype] = (report.dtypes[t.dtype] ?? 0) + 1;
    const cmp = compareWithArchitecture(tensors, cfg, opts.requireTrackHead);
    Object.assign(report, { ...cmp, warnings: [...report.warnings, ...cmp.warnings] });
    addNameErrors(report, path);
  }
  report.ok = report.errors.length === 0;
  return report;
}

export async function assertValidCheckpoint(path: string, opts: ValidateOptions = {}): Promise<ValidationReport> {
  const r = await validateCheckpoint(path, opts);
  if (!r.ok)
    throw new ModelError("INVALID_CHECKPOINT", `not a usable VGGT checkpoint:\n  ${r.errors.join("\n  ")}`, { path, report: r });
  return r;
}

const parseShape = (t: string) => JSON.parse(t) as number[];

/** Parses `vggt-engine validate` output: {path, ok, tensors: N, missing: [..], unexpected: [..],
 * mis_shaped: ["name: got [..], expected [..]" | "name: dtype X is not floating point"], ignored: N}. */
export function parseEngineValidate(stdout: string): EngineCheckResult {
  const j = JSON.parse(stdout) as { tensors?: number; missing?: string[]; unexpected?: string[]; mis_shaped?: string[] };
  if (typeof j.tensors !== "number" || !Array.isArray(j.missing) || !Array.isArray(j.unexpected) || !Array.isArray(j.mis_shaped))
    throw new Error("missing fields (tensors, missing, unexpected, mis_shaped)");
  const r: EngineCheckResult = { tensorCount: j.tensors, missing: j.missing, unexpected: j.unexpected, misshaped: [], badDtype: [] };
  for (const line of j.mis_shaped) {
    const shape = /^(.*): got (\[[^\]]*\]), expected (\[[^\]]*\])$/.exec(line);
    const dtype = /^(.*): dtype (\S+) is not floating point$/.exec(line);
    if (shape) r.misshaped.push({ name: shape[1], actual: parseShape(shape[2]), expected: parseShape(shape[3]) });
    else if (dtype) r.badDtype.push({ name: dtype[1], dtype: dtype[2] });
    else r.misshaped.push({ name: line, actual: [], expected: [] });
  }
  return r;
}

/** An EngineCheck running `vggt-engine validate --weights W --config C` (exit 0: fits, 3: does not fit,
 * JSON on stdout either way; 1: unreadable file). Resolves null when the engine is missing. */
export function engineCheckpointCheck(engineBin: string, timeoutMs = 120_000): EngineCheck {
  return async (path, cfg) => {
    let tmpDir: string | null = null;
    let configArg = "vggt-1b";
    if (JSON.stringify(cfg) !== JSON.stringify(VGGT_1B_CONFIG)) {
      tmpDir = mkdtempSync(join(tmpdir(), "vggt-validate-"));
      configArg = join(tmpDir, "config.json");
      writeFileSync(configArg, JSON.stringify(cfg));
    }
    try {
      let r: ProcessExit;
      try {
        r = await spawnEngine({ command: engineBin, args: ["validate", "--weights", path, "--config", configArg] }, { timeoutMs });
      } catch (e) {
        if (e instanceof ProcessStartError) return null; // ENOENT: no engine binary
        throw e;
      }
      if (r.code === 0 || r.code === 3) {
        try {
          return parseEngineValidate(r.stdout);
        } catch (e) {
          throw new ModelError("ENGINE", `vggt-engine validate printed unreadable JSON for ${path}: ${(e as Error).message}`);
        }
      }
      if (r.code === 2) return null; // an engine build without the validate command (usage error)
      const msg = r.stderrTail.replace(/^vggt-engine validate: error: /, "") || `exit code ${r.code}`;
      throw new ModelError("INVALID_CHECKPOINT", `${path}: rejected by vggt-engine validate: ${msg}`, { path });
    } finally {
      if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
    }
  };
}

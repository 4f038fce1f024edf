// The engine's optimization switches as the app presents them. Names, kinds, groups, parameters,
// presets and the "all = everything but w8a8" rule come from the engine (engine-vocabulary.ts,
// generated from `vggt-engine describe --json`); this module adds the UI's labels, one-line
// explanations and accuracy notes, keyed by name, and the option-list syntax of `--options`.
// No Node imports: the renderer uses this module too.
import type { OptionSet } from "./bench-schema.js";
import { ENGINE_VOCABULARY } from "./engine-vocabulary.js";

export type AccuracyClass = "exact" | "lossy";

type EngineOption = (typeof ENGINE_VOCABULARY.options)[number];
export type OptionName = EngineOption["name"];
type EnginePreset = (typeof ENGINE_VOCABULARY.presets)[number];
export type PresetId = EnginePreset["name"];

/** A parameter of an option (`name=value` in `--options`); the lab shows it with its default. */
export interface OptionParamInfo {
  name: string;
  default: number;
  min: number;
  max: number;
  what: string;
}

/** "optimizations": the write-up's steps; "many-frames": sparse global attention for long inputs. */
export type OptionGroup = EngineOption["group"];

export interface OptionInfo {
  name: OptionName;
  group: OptionGroup;
  params?: readonly OptionParamInfo[];
  label: string;
  /** What it does, in one line. */
  what: string;
  /** Its effect on the outputs. */
  accuracy: string;
  accuracyClass: AccuracyClass;
  /** Part of the engine's `all`. */
  defaultOn: boolean;
}

/** The UI's words for each engine option (the compiler checks that every option has them). */
export const OPTION_TEXT: Record<OptionName, Pick<OptionInfo, "label" | "what" | "accuracy">> = {
  "sincos-lowp": {
    label: "Low-precision sin/cos",
    what: "Builds the DPT heads' sin/cos positional embedding in float32 instead of float64.",
    accuracy: "Exact: stays within the fp32 reference tolerance.",
  },
  "rope-fused": {
    label: "Fused RoPE",
    what: "Applies the 2-D rotary embedding in one pass instead of multiply, rotate-half, multiply, add.",
    accuracy: "Exact: same arithmetic, rounding order only.",
  },
  "rope-cache": {
    label: "RoPE cache",
    what: "Computes the RoPE positions and cos/sin tables once per patch-grid size, not in every layer.",
    accuracy: "Exact: identical values, reused.",
  },
  "dpt-pos-cache": {
    label: "DPT position cache",
    what: "Caches the DPT heads' UV-grid positional embedding per image and feature size.",
    accuracy: "Exact: identical values, reused.",
  },
  "fused-add-ln": {
    label: "Fused Add + LayerNorm",
    what: "Residual add and the following LayerNorm in one pass over memory.",
    accuracy: "Exact: fp32, summation order only.",
  },
  bf16: {
    label: "BF16 weights",
    what: "Holds the weights in bfloat16 and runs the large matrix products in bf16 (half the weight memory); with flash attention on, attention's two products use bf16 dot products too.",
    accuracy: "Lossy: about 1e-2 relative error (write-up: camera AUC 0.919 → 0.911).",
  },
  w8a8: {
    label: "INT8 (W8A8)",
    what: "int8 weights per channel and int8 activations per token for the Linear layers (scope: every Linear, or only the MLPs' fc2; the camera and register tokens get a second int8 level by default). Off by default.",
    accuracy: "Lossy: larger error than bf16 (write-up: AUC 0.911 → 0.907 vs bf16).",
  },
  prepack: {
    label: "Prepacked weights",
    what: "Converts conv and GEMM weights to the kernels' blocked layout once after loading, not on every call.",
    accuracy: "Exact: same values, different layout.",
  },
  "flash-attn": {
    label: "Flash attention",
    what: "Tiled attention with an online softmax for global and frame attention: no full attention matrix in memory.",
    accuracy: "Exact on its own: within the fp32 reference tolerance (reordered sums); with bf16 on it shares bf16's tolerance.",
  },
  "global-early-frame": {
    label: "Early global layers as frame attention",
    what: "The first k global-attention layers attend within each frame only (AVGGT: early global layers form no cross-view correspondences). Work of those layers grows linearly with the frame count.",
    accuracy: "Lossy: AVGGT reports equal or slightly better pose/point accuracy with the trained weights; random weights cannot show it.",
  },
  "global-kv-subsample": {
    label: "Subsampled global keys/values",
    what: "In global layers first..last each token attends to its own frame in full, and to the other frames' camera/register tokens, every stride-th patch row and column, and one mean-fill token per frame (AVGGT).",
    accuracy: "Lossy: AVGGT reports accuracy equal to dense at 2x (100 frames) to 8-10x (800 frames) speed with the trained weights.",
  },
  "global-block-sparse": {
    label: "Block-sparse global attention",
    what: "In the remaining global layers the flash kernel computes, per 64-query tile, only the key tiles with the highest mean-pooled scores; camera and register tokens stay dense.",
    accuracy: "Lossy: the block-sparse paper reports accuracy holding up to ~75% sparsity with the trained weights.",
  },
};

/** In the engine's order, which is the write-up's (the cumulative benchmark adds them in this order). */
export const OPTIONS: readonly OptionInfo[] = ENGINE_VOCABULARY.options.map((o: EngineOption) => ({
  name: o.name,
  group: o.group,
  accuracyClass: o.kind,
  defaultOn: o.in_all,
  ...OPTION_TEXT[o.name],
  ...(o.params.length ? { params: o.params.map((p) => ({ name: p.name, default: p.default, min: p.min, max: p.max, what: p.help })) } : {}),
}));

/** The many-frame toggles (lossy, off by default, for inputs of tens to hundreds of frames). */
export const MANY_FRAME_OPTIONS: readonly string[] = OPTIONS.filter((o) => o.group === "many-frames").map((o) => o.name);

export const OPTION_NAMES: readonly string[] = OPTIONS.map((o) => o.name);

export interface Preset {
  id: PresetId;
  label: string;
  description: string;
  on: readonly string[];
}

/** The UI's name for each engine preset (the compiler checks that every preset has one). */
export const PRESET_LABELS: Record<PresetId, string> = {
  reference: "Reference (fp32)",
  writeup: "Write-up (NPU recipe)",
  all: "All (bf16)",
  "fastest-exact": "Fastest exact",
  "fastest-int8": "All + int8",
  "int8-fp32": "Int8 + fp32 (no bf16)",
  "many-frames": "Many frames",
};

/** The engine's presets in its order; `on` is its `--options` list resolved to option names. */
export const PRESETS: readonly Preset[] = ENGINE_VOCABULARY.presets.map((p: EnginePreset) => ({
  id: p.name,
  label: PRESET_LABELS[p.name],
  description: p.help,
  on: enabledNames(parseCliList(p.options)),
}));

/**
 * The presets the per-machine default is chosen from, each with its measured deviation from the
 * exact fp32 outputs, and the bound they must stay inside (the official release's bf16 autocast
 * run vs its fp32 run): the engine's data (`describe --json`). The choice itself is made by
 * `vggt-engine calibrate` on each machine (see electron/services/calibration).
 */
export const DEFAULT_CANDIDATES = ENGINE_VOCABULARY.presets.filter((p) => "default_candidate" in p && p.default_candidate).map((p) => ({
  id: p.name as PresetId,
  accuracy: (p as { accuracy: { rotation_deg: number; points_rel_rms: number; basis: string } }).accuracy,
}));
export const DEFAULT_BOUND = ENGINE_VOCABULARY.default_bound;

/** The exact candidate: what runs while this machine's calibration has not spoken (never a lossy set unmeasured). */
export const UNCALIBRATED_PRESET: PresetId = "fastest-exact";

/** The default's reason before calibration, for the UI and the CLI help. */
export const UNCALIBRATED_WHY =
  "This machine is not calibrated yet, so new runs start from the exact set; calibration (a few seconds) picks the fastest set inside the official bf16 accuracy bound on this CPU.";

/** The bound in words, with the candidates' own figures (UI hint, CLI help). */
export function boundSentence(): string {
  const lossy = DEFAULT_CANDIDATES.filter((x) => x.accuracy.rotation_deg > 0);
  const c = lossy
    .map((x) => `${PRESET_LABELS[x.id]} ${x.accuracy.rotation_deg} deg, ${x.accuracy.points_rel_rms.toExponential(1)}`)
    .join("; ");
  return `The bound is the official VGGT release's own bf16 run against its fp32 run (cameras ${DEFAULT_BOUND.rotation_deg} deg, points ${DEFAULT_BOUND.points_rel_rms.toExponential(1)} of their RMS); measured deviations of the candidates from fp32: ${c} (${lossy[0]?.accuracy.basis ?? ""}).`;
}

export function presetById(id: string): Preset {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) throw new Error(`unknown preset ${JSON.stringify(id)}`);
  return p;
}

/** Every known option, on exactly when listed. */
export function setFromNames(on: readonly string[]): OptionSet {
  for (const n of on) if (!OPTION_NAMES.includes(n)) throw new Error(`unknown engine option ${JSON.stringify(n)}`);
  return Object.fromEntries(OPTION_NAMES.map((n) => [n, on.includes(n)]));
}

export function presetSet(id: string): OptionSet {
  return setFromNames(presetById(id).on);
}

/** The engine's `all`: every option marked in_all (everything but w8a8 and the many-frame toggles). */
export function allSet(): OptionSet {
  return setFromNames(OPTIONS.filter((o) => o.defaultOn).map((o) => o.name));
}

/** A complete set: every known option present as a boolean; unknown names are an error. */
export function normalizeSet(set: unknown, what = "options"): OptionSet {
  if (!set || typeof set !== "object" || Array.isArray(set)) throw new Error(`${what}: expected an object of option switches`);
  const out = setFromNames([]);
  for (const [k, v] of Object.entries(set as Record<string, unknown>)) {
    if (!OPTION_NAMES.includes(k)) throw new Error(`${what}: unknown engine option ${JSON.stringify(k)}`);
    if (typeof v !== "boolean") throw new Error(`${what}.${k}: expected true or false`);
    out[k] = v;
  }
  return out;
}

export function enabledNames(set: OptionSet): string[] {
  return OPTION_NAMES.filter((n) => set[n]);
}

/** The preset this set is exactly, if any. */
export function matchPreset(set: OptionSet): Preset | null {
  const on = enabledNames(set);
  return PRESETS.find((p) => p.on.length === on.length && p.on.every((n) => set[n])) ?? null;
}

/** Short description: the preset's name, or the enabled options. */
export function describeSet(set: OptionSet): string {
  const p = matchPreset(set);
  if (p) return p.label;
  const on = enabledNames(set);
  return on.length ? on.join(", ") : "none";
}

/**
 * `--options` value that states every switch (`a,b,-c`): explicit, so the engine's defaults never
 * decide what was measured. Enabled names first: the value must not start with "--".
 */
export function toCliList(set: OptionSet): string {
  const full = normalizeSet(set);
  return [...OPTION_NAMES.filter((n) => full[n]), ...OPTION_NAMES.filter((n) => !full[n]).map((n) => `-${n}`)].join(",");
}

/** Inverse of toCliList, with the engine's `all` (the default-on options) and `-x` syntax. */
export function parseCliList(list: string): OptionSet {
  const out = setFromNames([]);
  for (const raw of list.split(",")) {
    const item = raw.trim();
    if (!item) continue;
    const on = !item.startsWith("-");
    const name = on ? item : item.slice(1);
    if (name === "all") {
      for (const o of OPTIONS) if (o.defaultOn) out[o.name] = on;
      continue;
    }
    if (!OPTION_NAMES.includes(name)) throw new Error(`unknown engine option ${JSON.stringify(name)}`);
    out[name] = on;
  }
  return out;
}

/** Whether every enabled option keeps the fp32-exact tolerance. */
export function isExact(set: OptionSet): boolean {
  return OPTIONS.every((o) => !set[o.name] || o.accuracyClass === "exact");
}

// The engine's optimization switches as the app presents them: one-line explanations, their
// accuracy effect, the presets, and the option-list syntax of `vggt-engine --options`.
// No Node imports: the renderer uses this module too.
import type { OptionSet } from "../../ipc/perf-types.js";

export type AccuracyClass = "exact" | "lossy";

export interface OptionInfo {
  name: string;
  label: string;
  /** What it does, in one line. */
  what: string;
  /** Its effect on the outputs. */
  accuracy: string;
  accuracyClass: AccuracyClass;
  defaultOn: boolean;
}

/** In the write-up's order (the cumulative benchmark adds them in this order). */
export const OPTIONS: readonly OptionInfo[] = [
  {
    name: "sincos-lowp",
    label: "Low-precision sin/cos",
    what: "Builds the DPT heads' sin/cos positional embedding in float32 instead of float64.",
    accuracy: "Exact: stays within the fp32 reference tolerance.",
    accuracyClass: "exact",
    defaultOn: true,
  },
  {
    name: "rope-fused",
    label: "Fused RoPE",
    what: "Applies the 2-D rotary embedding in one pass instead of multiply, rotate-half, multiply, add.",
    accuracy: "Exact: same arithmetic, rounding order only.",
    accuracyClass: "exact",
    defaultOn: true,
  },
  {
    name: "rope-cache",
    label: "RoPE cache",
    what: "Computes the RoPE positions and cos/sin tables once per patch-grid size, not in every layer.",
    accuracy: "Exact: identical values, reused.",
    accuracyClass: "exact",
    defaultOn: true,
  },
  {
    name: "dpt-pos-cache",
    label: "DPT position cache",
    what: "Caches the DPT heads' UV-grid positional embedding per image and feature size.",
    accuracy: "Exact: identical values, reused.",
    accuracyClass: "exact",
    defaultOn: true,
  },
  {
    name: "fused-add-ln",
    label: "Fused Add + LayerNorm",
    what: "Residual add and the following LayerNorm in one pass over memory.",
    accuracy: "Exact: fp32, summation order only.",
    accuracyClass: "exact",
    defaultOn: true,
  },
  {
    name: "bf16",
    label: "BF16 weights",
    what: "Holds the weights in bfloat16 and runs the large matrix products in bf16 (half the weight memory); with flash attention on, attention's two products use bf16 dot products too.",
    accuracy: "Lossy: about 1e-2 relative error (write-up: camera AUC 0.919 → 0.911).",
    accuracyClass: "lossy",
    defaultOn: true,
  },
  {
    name: "w8a8",
    label: "INT8 (W8A8)",
    what: "int8 weights per channel and int8 activations per token for the Linear layers. Off by default.",
    accuracy: "Lossy: larger error than bf16 (write-up: AUC 0.911 → 0.907 vs bf16).",
    accuracyClass: "lossy",
    defaultOn: false,
  },
  {
    name: "prepack",
    label: "Prepacked weights",
    what: "Converts conv and GEMM weights to the kernels' blocked layout once after loading, not on every call.",
    accuracy: "Exact: same values, different layout.",
    accuracyClass: "exact",
    defaultOn: true,
  },
  {
    name: "flash-attn",
    label: "Flash attention",
    what: "Tiled attention with an online softmax for global and frame attention: no full attention matrix in memory.",
    accuracy: "Exact on its own: within the fp32 reference tolerance (reordered sums); with bf16 on it shares bf16's tolerance.",
    accuracyClass: "exact",
    defaultOn: true,
  },
];

export const OPTION_NAMES: readonly string[] = OPTIONS.map((o) => o.name);

export interface Preset {
  id: string;
  label: string;
  description: string;
  on: readonly string[];
}

export const PRESETS: readonly Preset[] = [
  { id: "reference", label: "Reference (fp32)", description: "Every optimization off: the exact fp32 reference path.", on: [] },
  {
    id: "writeup",
    label: "Write-up (NPU recipe)",
    description: "The rows of the write-up's latency table.",
    on: ["sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln", "bf16", "prepack"],
  },
  {
    id: "all",
    label: "Default (all)",
    description:
      "Every option but int8: the default. bf16 weights are lossy, yet on the same VGGT-1B weights its outputs are closer to the fp32 outputs than the official release's bf16 autocast (cameras 1.24 vs 1.42 deg, points 6.3e-3 vs 1.6e-2 of their RMS), about 2.1x faster than the fp32 reference.",
    on: OPTIONS.filter((o) => o.defaultOn).map((o) => o.name),
  },
  {
    id: "fastest-exact",
    label: "Fastest exact",
    description: "Every option that keeps the fp32-exact tolerance.",
    on: OPTIONS.filter((o) => o.accuracyClass === "exact").map((o) => o.name),
  },
  { id: "fastest-int8", label: "Fastest (int8)", description: "Everything, int8 included.", on: OPTION_NAMES },
];

/** What a first start (app and CLI) runs with: the fastest set inside the official bf16 run's error. */
export const DEFAULT_PRESET = "all";

/** Why the default is lossy, in one sentence for the UI and the CLI help. */
export const DEFAULT_PRESET_WHY =
  "The default `all` holds the weights in bf16: on the same weights it stays closer to the fp32 outputs than the official bf16 run (cameras 1.24 vs 1.42 deg, points 6.3e-3 vs 1.6e-2 of their RMS) and runs about 2.1x faster than the fp32 reference (docs/PERFORMANCE.md).";

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

/** The engine's defaults (`all`: everything but w8a8). */
export function defaultSet(): OptionSet {
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

/** Inverse of toCliList, with the engine's `all` (everything but w8a8) and `-x` syntax. */
export function parseCliList(list: string): OptionSet {
  const out = setFromNames([]);
  for (const raw of list.split(",")) {
    const item = raw.trim();
    if (!item) continue;
    const on = !item.startsWith("-");
    const name = on ? item : item.slice(1);
    if (name === "all") {
      for (const o of OPTIONS) if (o.name !== "w8a8") out[o.name] = on;
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

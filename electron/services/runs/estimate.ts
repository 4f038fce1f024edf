// Time and memory estimate of a run, shown before the user starts it. Compute is counted in
// floating-point operations from the model's config and the token counts; the throughput is the
// one measured on the last completed run with the same kind of model, or a conservative default.
import type { Estimate, EstimateInput, PreprocessMode } from "../../ipc/types.js";
import { ENGINE_VOCABULARY } from "../../../common/engine-vocabulary.js";

export interface ModelDims {
  embedDim: number;
  depth: number; // aggregator: frame + global block pairs
  encoderDepth: number;
  mlpRatio: number;
  patchSize: number;
  imgSize: number;
  registerTokens: number;
  dptFeatures: number;
  /** DPT out_channels per intermediate layer (the official default when absent). */
  dptOutChannels?: number[];
  cameraTrunkDepth: number;
  cameraIterations: number;
}

/** facebook/VGGT-1B (the engine's built-in config), used when no config is at hand (benchmark mode). */
export const VGGT_1B_DIMS: ModelDims = dimsFromConfig(ENGINE_VOCABULARY.configs["vggt-1b"]);

/** facebook/VGGT-1B's parameter count with the track head (the official checkpoint), as the engine counts it. */
export const VGGT_1B_PARAMS: number = ENGINE_VOCABULARY.parameters["vggt-1b-track"].count;

export function dimsFromConfig(cfg: any): ModelDims {
  return {
    embedDim: cfg.embed_dim ?? 1024,
    depth: cfg.depth ?? 24,
    encoderDepth: cfg.encoder?.depth ?? 24,
    mlpRatio: cfg.mlp_ratio ?? 4,
    patchSize: cfg.patch_size ?? 14,
    imgSize: cfg.img_size ?? 518,
    registerTokens: cfg.num_register_tokens ?? 4,
    dptFeatures: cfg.dpt?.features ?? 256,
    dptOutChannels: cfg.dpt?.out_channels ?? [256, 512, 1024, 1024],
    cameraTrunkDepth: cfg.camera?.trunk_depth ?? 4,
    cameraIterations: cfg.camera?.iterations ?? 4,
  };
}

/** Preprocessed size of one image, as the official load_and_preprocess_images computes it. */
export function preprocessedSize(width: number, height: number, mode: PreprocessMode, target = 518, patch = 14): { width: number; height: number } {
  if (mode === "crop") {
    const h = Math.round((height * (target / width)) / patch) * patch;
    return { width: target, height: Math.min(h, target) };
  }
  // pad: the frame is padded to a square target x target.
  return { width: target, height: target };
}

/** Default throughput when nothing was measured yet: a modest 2-core desktop CPU in float32. */
export const DEFAULT_GFLOPS = 40;

export interface Throughput {
  gflops: number;
  basis: string;
}

export function runFlops(dims: ModelDims, frames: number, width: number, height: number): number {
  const E = dims.embedDim;
  const patches = (width / dims.patchSize) * (height / dims.patchSize);
  const perFrame = patches + 1 + dims.registerTokens; // camera/cls + registers
  const tokens = frames * perFrame;
  const linear = 2 * (4 + 2 * dims.mlpRatio) * E * E; // qkv + proj + MLP, per token
  const attn = (L: number) => 4 * E * L; // QK^T and AV, per token
  const encoder = dims.encoderDepth * frames * (patches + 1 + dims.registerTokens) * (linear + attn(perFrame));
  const frameBlocks = dims.depth * tokens * (linear + attn(perFrame));
  const globalBlocks = dims.depth * tokens * (linear + attn(tokens));
  // Two DPT heads (depth, points): ~ a few 3x3 convolutions at F channels over the full frame.
  const dpt = 2 * frames * width * height * 2 * 9 * dims.dptFeatures * dims.dptFeatures * 1.5;
  const camera = dims.cameraIterations * dims.cameraTrunkDepth * frames * (linear + attn(frames));
  return encoder + frameBlocks + globalBlocks + dpt + camera;
}

/** The engine process's resident size with no model: binary, libraries, oneDNN, OpenMP threads. */
export const ENGINE_BASE_BYTES = 40 * 2 ** 20;

/** The switches that decide how the engine holds weights (absent: off). */
export type WeightFlags = Partial<Record<"bf16" | "w8a8" | "prepack", boolean>>;

/**
  * Weights as the engine holds them for these switches (native-engine/src/model/vggt_model.cpp
  * set_options, model/layers.cpp Linear::set_mode): a Linear holds one copy, the one it runs from,
  * and its float32 is released once a converted copy exists (read again from the file or the seed
  * if a job switches back to exact). The encoder's and aggregator's Linears: int8 with residual
  * weights (w8a8's default, docs/INT8.md: as many bytes as bf16), bf16, or packed fp32 (prepack),
  * else float32; the camera trunk: 4 B either way (packed with prepack); the DPT heads' token
  * projections and fusion 1x1 convs (Linears): bf16 with bf16, else 4 B; their 3x3 convolutions
  * keep float32 plus a bf16 (bf16) or packed (prepack) copy; the rest (track head, embeddings,
  * norms, the camera head's small Linears) float32.
 */
export function heldWeightBytes(dims: ModelDims, params: number, flags: WeightFlags): number {
  const perBlock = (4 + 2 * dims.mlpRatio) * dims.embedDim * dims.embedDim;
  const big = (dims.encoderDepth + 2 * dims.depth) * perBlock;
  // The camera trunk's blocks are 2E wide.
  const camera = dims.cameraTrunkDepth * (4 + 2 * dims.mlpRatio) * (2 * dims.embedDim) ** 2;
  const { pointwise, convs } = dptParams(dims);
  const rest = Math.max(0, params - big - camera - pointwise - convs);
  // int8: the weights and, by default (w8a8.residual), their residual: 2 bytes.
  let bytes = big * (flags.w8a8 ? 2 : flags.bf16 ? 2 : 4);
  bytes += camera * 4;
  bytes += pointwise * (flags.bf16 ? 2 : 4);
  bytes += convs * (4 + (flags.bf16 ? 2 : flags.prepack ? 4 : 0));
  bytes += rest * 4;
  return bytes;
}

/** Parameters of the two DPT heads (depth, points) that run as Linears and as 3x3 convolutions. */
export function dptParams(dims: ModelDims): { pointwise: number; convs: number } {
  const F = dims.dptFeatures;
  const oc = dims.dptOutChannels ?? [256, 512, 1024, 1024];
  const sumOc = oc.reduce((a, b) => a + b, 0);
  // projects (2E -> oc_i) + 4 fusion out_convs (F -> F).
  const pointwise = 2 * dims.embedDim * sumOc + 4 * F * F;
  // layer_rn (oc_i -> F), 7 residual units of 2 convs (F -> F), resize_layers.3 (oc_3 -> oc_3),
  // output_conv1 (F -> F/2), output_conv2.0 (F/2 -> 32): all 3x3.
  const convs = 9 * (F * sumOc + 14 * F * F + oc[3] * oc[3] + (F / 2) * F + 32 * (F / 2));
  return { pointwise: 2 * pointwise, convs: 2 * convs };
}

/** Rows per chunk of the engine's qkv projection and MLP (ExecFlags::row_chunk). */
const ENGINE_ROW_CHUNK = 8192;

/** Activations and outputs of one forward pass (the engine's tensor peak, roughly). */
export function activationBytes(dims: ModelDims, frames: number, width: number, height: number, bf16 = false): number {
  const E = dims.embedDim;
  const perFrame = (width / dims.patchSize) * (height / dims.patchSize) + 1 + dims.registerTokens;
  const tokens = frames * perFrame;
  // Up to a row chunk of tokens: qkv, MLP hidden, residual copies. Beyond it the qkv output and
  // the MLP hidden exist one chunk at a time: x, q, k, v and the attention output (5 rows of E).
  const blockWork =
    tokens <= ENGINE_ROW_CHUNK
      ? tokens * E * 4 * (3 + dims.mlpRatio + 2)
      : tokens * E * 4 * 5 + ENGINE_ROW_CHUNK * E * 4 * (3 + dims.mlpRatio);
  // Aggregator outputs the DPT heads read; bfloat16 in bf16 runs.
  const keptLayers = 4 * tokens * 2 * E * (bf16 ? 2 : 4);
  const outputs = frames * width * height * 16 * 4; // depth, points, confs, images (float32)
  const dptWork = width * height * dims.dptFeatures * 4 * 3; // heads run frame by frame: ~3 full-size feature maps live
  return blockWork + keptLayers + outputs + dptWork;
}

/**
 * The engine process's peak resident size for one run: base + weights as held for the switches
 * + activations. Checked against real runs in estimate-memory.test.ts (docs/MEMORY.md).
 */
export function processPeakBytes(dims: ModelDims, params: number, flags: WeightFlags, frames: number, width: number, height: number): number {
  return ENGINE_BASE_BYTES + heldWeightBytes(dims, params, flags) + activationBytes(dims, frames, width, height, flags.bf16 === true);
}

/** The switches a run without explicit ones gets (the app's default preset, `all`). */
export const DEFAULT_WEIGHT_FLAGS: WeightFlags = { bf16: true, prepack: true, w8a8: false };

/** `params`: the checkpoint's parameter count (float32 bytes / 4 when unknown). */
export function estimateRun(input: EstimateInput, dims: ModelDims, params: number, throughput: Throughput, hostMemoryBytes: number): Estimate {
  const frames = input.sizes.length;
  let width = 0;
  let height = 0;
  for (const s of input.sizes) {
    const p = preprocessedSize(s.width, s.height, input.preprocess, dims.imgSize, dims.patchSize);
    width = Math.max(width, p.width);
    height = Math.max(height, p.height);
  }
  const tokensPerFrame = frames ? (width / dims.patchSize) * (height / dims.patchSize) + 1 + dims.registerTokens : 0;
  const flops = frames ? runFlops(dims, frames, width, height) : 0;
  const seconds = flops / (throughput.gflops * 1e9);
  const flags: WeightFlags = input.engineOptions ? { bf16: !!input.engineOptions.bf16, w8a8: !!input.engineOptions.w8a8, prepack: !!input.engineOptions.prepack } : DEFAULT_WEIGHT_FLAGS;
  const peakBytes = frames ? processPeakBytes(dims, params, flags, frames, width, height) : 0;
  const warnings: string[] = [];
  if (peakBytes > 0.8 * hostMemoryBytes)
    warnings.push(`needs about ${(peakBytes / 2 ** 30).toFixed(1)} GiB, more than 80% of this machine's ${(hostMemoryBytes / 2 ** 30).toFixed(0)} GiB: subsample the frames`);
  if (seconds > 600) warnings.push(`expected to take about ${Math.round(seconds / 60)} minutes: consider subsampling`);
  const distinct = new Set(input.sizes.map((s) => `${s.width}x${s.height}`));
  if (distinct.size > 1) warnings.push(`frames have ${distinct.size} different sizes; they are padded to ${width}x${height}`);
  return { frames, width, height, tokensPerFrame, seconds, peakBytes, basis: throughput.basis, warnings };
}

/** The share of the machine's memory a run may plan to use (the rest: the OS, the app, the viewer). */
export const MEMORY_SHARE = 0.8;
/** A run expected to take longer than this gets a warning (and is not what a default picks). */
export const LONG_RUN_SECONDS = 600;

export interface FitInput {
  dims: ModelDims;
  params: number;
  flags: WeightFlags;
  /** Original frame size (before preprocessing). */
  width: number;
  height: number;
  preprocess: PreprocessMode;
  hostMemoryBytes: number;
  throughput: Throughput;
  /** Time budget in seconds (default LONG_RUN_SECONDS); Infinity: memory only. */
  maxSeconds?: number;
  /** Never more than this many frames (e.g. the video's own frame count). */
  cap: number;
}

/**
 * The most frames of this size one run holds on this machine: peak memory within MEMORY_SHARE of
 * its memory and expected time within the budget; at least 2 (VGGT needs two views to relate).
 * Memory and time both grow with the frame count, so a bisection finds the largest.
 */
export function framesThatFit(f: FitInput): number {
  const p = preprocessedSize(f.width, f.height, f.preprocess, f.dims.imgSize, f.dims.patchSize);
  const maxSeconds = f.maxSeconds ?? LONG_RUN_SECONDS;
  const fits = (n: number) =>
    processPeakBytes(f.dims, f.params, f.flags, n, p.width, p.height) <= MEMORY_SHARE * f.hostMemoryBytes &&
    runFlops(f.dims, n, p.width, p.height) / (f.throughput.gflops * 1e9) <= maxSeconds;
  const cap = Math.max(1, Math.floor(f.cap));
  if (fits(cap)) return cap;
  let lo = 1;
  let hi = cap;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return Math.min(cap, Math.max(2, lo));
}

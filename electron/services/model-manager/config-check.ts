// Validation of a VGGT architecture config (the official JSON schema) before anything uses it: every
// field's type and range, so that a bad file gives one message naming the file and the field instead
// of a TypeError, a division by zero or a loop over a billion layers.
import type { VggtConfig } from "./vggt-params.js";

export class ConfigError extends Error {}

// Far above any VGGT size (VGGT-1B: 1024 wide, 24 deep, 16 heads) and small enough that the
// parameter table computed from a config stays small.
const MAX_DIM = 16384;
const MAX_DEPTH = 256;
const MAX_HEADS = 1024;
const MAX_IMG = 16384;

type Obj = Record<string, unknown>;

export function checkVggtConfig(raw: unknown, source: string): VggtConfig {
  const bad = (field: string, want: string, got: unknown) =>
    new ConfigError(`${source}: config field '${field}' must be ${want}, got ${JSON.stringify(got)?.slice(0, 40) ?? String(got)}`);
  const obj = (v: unknown, field: string): Obj => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(field, "an object", v);
    return v as Obj;
  };
  const int = (o: Obj, key: string, field: string, lo: number, hi: number, optional = false): number | undefined => {
    const v = o[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw bad(field, `an integer from ${lo} to ${hi}`, v);
    return v;
  };
  const root = obj(raw, "(top level)");
  const img = int(root, "img_size", "img_size", 1, MAX_IMG)!;
  const patch = int(root, "patch_size", "patch_size", 1, MAX_IMG)!;
  if (img % patch) throw bad("img_size", `a multiple of patch_size ${patch}`, img);
  const E = int(root, "embed_dim", "embed_dim", 1, MAX_DIM)!;
  const depth = int(root, "depth", "depth", 1, MAX_DEPTH)!;
  const heads = int(root, "num_heads", "num_heads", 1, MAX_HEADS)!;
  if (E % heads) throw bad("embed_dim", `divisible by num_heads ${heads}`, E);
  int(root, "num_register_tokens", "num_register_tokens", 0, 1024);
  const mlp = root.mlp_ratio;
  if (typeof mlp !== "number" || !Number.isFinite(mlp) || mlp <= 0 || mlp > 64) throw bad("mlp_ratio", "a number above 0 and at most 64", mlp);
  if (root.rope_freq !== undefined && (typeof root.rope_freq !== "number" || !Number.isFinite(root.rope_freq) || root.rope_freq <= 0))
    throw bad("rope_freq", "a positive number", root.rope_freq);
  if (typeof root.qk_norm !== "boolean") throw bad("qk_norm", "true or false", root.qk_norm);
  if (root.patch_embed !== undefined && typeof root.patch_embed !== "string") throw bad("patch_embed", "a string", root.patch_embed);
  const enc = obj(root.encoder, "encoder");
  int(enc, "depth", "encoder.depth", 1, MAX_DEPTH);
  const encHeads = int(enc, "num_heads", "encoder.num_heads", 1, MAX_HEADS)!;
  const encE = int(enc, "embed_dim", "encoder.embed_dim", 1, MAX_DIM, true) ?? E;
  if (encE % encHeads) throw bad("encoder.embed_dim", `divisible by encoder.num_heads ${encHeads}`, encE);
  const cam = obj(root.camera, "camera");
  int(cam, "trunk_depth", "camera.trunk_depth", 1, MAX_DEPTH);
  const camHeads = int(cam, "num_heads", "camera.num_heads", 1, MAX_HEADS)!;
  if (E % camHeads) throw bad("camera.num_heads", `a divisor of embed_dim ${E}`, camHeads);
  int(cam, "iterations", "camera.iterations", 1, 64, true);
  const dpt = obj(root.dpt, "dpt");
  int(dpt, "features", "dpt.features", 1, MAX_DIM);
  const oc = dpt.out_channels;
  if (!Array.isArray(oc) || oc.length !== 4 || oc.some((c) => !Number.isInteger(c) || c < 1 || c > MAX_DIM))
    throw bad("dpt.out_channels", `4 integers from 1 to ${MAX_DIM}`, oc);
  const idx = dpt.intermediate_layer_idx;
  if (!Array.isArray(idx) || idx.length !== 4 || idx.some((c) => !Number.isInteger(c) || c < 0 || c >= depth))
    throw bad("dpt.intermediate_layer_idx", `4 layer indices from 0 to ${depth - 1}`, idx);
  if (root.track !== undefined) {
    const t = obj(root.track, "track");
    if (typeof t.enabled !== "boolean") throw bad("track.enabled", "true or false", t.enabled);
    if (t.enabled) {
      int(t, "features", "track.features", 1, MAX_DIM);
      int(t, "hidden_size", "track.hidden_size", 1, MAX_DIM, true);
      int(t, "depth", "track.depth", 1, MAX_DEPTH, true);
      int(t, "num_virtual_tracks", "track.num_virtual_tracks", 1, 4096, true);
      int(t, "corr_levels", "track.corr_levels", 1, 16, true);
      int(t, "corr_radius", "track.corr_radius", 0, 64, true);
    }
  }
  return raw as VggtConfig;
}

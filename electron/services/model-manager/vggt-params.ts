// The official VGGT state-dict layout (names, shapes, order) computed from an architecture config,
// so that checkpoints can be validated without shipping a 1797-entry reference list.
// Order follows PyTorch's state_dict order (own parameters first, then children in registration order).
// For VGGT-1B the result is tested against the engine's own table (`vggt-engine describe --json`).
import { ENGINE_VOCABULARY } from "../../../common/engine-vocabulary.js";

export interface VggtConfig {
  img_size: number;
  patch_size: number;
  embed_dim: number;
  depth: number;
  num_heads: number;
  encoder: { depth: number; num_heads: number; embed_dim?: number };
  num_register_tokens: number;
  patch_embed?: string;
  mlp_ratio: number;
  rope_freq?: number;
  qk_norm: boolean;
  camera: { trunk_depth: number; num_heads: number; iterations?: number };
  dpt: { features: number; out_channels: number[]; intermediate_layer_idx: number[] };
  /** Absent or enabled:false = no track head (the tiny golden cases). */
  track?: {
    enabled: boolean;
    features: number;
    hidden_size?: number;
    depth?: number;
    num_virtual_tracks?: number;
    corr_levels?: number;
    corr_radius?: number;
  };
}

/** The facebook/VGGT-1B preset, as the engine describes its built-in `vggt-1b` config. */
export const VGGT_1B_CONFIG: VggtConfig = ENGINE_VOCABULARY.configs["vggt-1b"] as unknown as VggtConfig;

export interface ParamSpec {
  name: string;
  shape: number[];
}

export function configByName(name: string): VggtConfig {
  if (name === "vggt-1b") return VGGT_1B_CONFIG;
  throw new Error(`unknown model config '${name}' (known: vggt-1b)`);
}

/** Every parameter of the official model for `cfg`, in state_dict order. */
export function vggtParamSpecs(cfg: VggtConfig = VGGT_1B_CONFIG): ParamSpec[] {
  const out: ParamSpec[] = [];
  const p = (name: string, ...shape: number[]) => out.push({ name, shape });
  const linear = (prefix: string, outF: number, inF: number, bias = true) => {
    p(`${prefix}.weight`, outF, inF);
    if (bias) p(`${prefix}.bias`, outF);
  };
  const layerNorm = (prefix: string, dim: number) => {
    p(`${prefix}.weight`, dim);
    p(`${prefix}.bias`, dim);
  };
  const conv = (prefix: string, outC: number, inC: number, k: number, bias = true) => {
    p(`${prefix}.weight`, outC, inC, k, k);
    if (bias) p(`${prefix}.bias`, outC);
  };
  // DINOv2-style Block: norm1, attn(qkv, [q_norm, k_norm], proj), ls1, norm2, mlp, ls2.
  const block = (prefix: string, dim: number, heads: number, qkNorm: boolean) => {
    const hidden = Math.round(dim * cfg.mlp_ratio);
    layerNorm(`${prefix}.norm1`, dim);
    linear(`${prefix}.attn.qkv`, 3 * dim, dim);
    if (qkNorm) {
      layerNorm(`${prefix}.attn.q_norm`, dim / heads);
      layerNorm(`${prefix}.attn.k_norm`, dim / heads);
    }
    linear(`${prefix}.attn.proj`, dim, dim);
    p(`${prefix}.ls1.gamma`, dim);
    layerNorm(`${prefix}.norm2`, dim);
    linear(`${prefix}.mlp.fc1`, hidden, dim);
    linear(`${prefix}.mlp.fc2`, dim, hidden);
    p(`${prefix}.ls2.gamma`, dim);
  };

  const E = cfg.embed_dim;
  const encE = cfg.encoder.embed_dim ?? E;
  const R = cfg.num_register_tokens;
  const grid = cfg.img_size / cfg.patch_size;
  if (!Number.isInteger(grid)) throw new Error(`config: img_size ${cfg.img_size} is not a multiple of patch_size ${cfg.patch_size}`);
  if (E % cfg.num_heads) throw new Error(`config: embed_dim ${E} is not divisible by num_heads ${cfg.num_heads}`);

  // Aggregator
  p("aggregator.camera_token", 1, 2, 1, E);
  p("aggregator.register_token", 1, 2, R, E);
  const pe = "aggregator.patch_embed";
  p(`${pe}.cls_token`, 1, 1, encE);
  p(`${pe}.pos_embed`, 1, 1 + grid * grid, encE);
  p(`${pe}.register_tokens`, 1, R, encE);
  p(`${pe}.mask_token`, 1, encE);
  conv(`${pe}.patch_embed.proj`, encE, 3, cfg.patch_size);
  for (let i = 0; i < cfg.encoder.depth; i++) block(`${pe}.blocks.${i}`, encE, cfg.encoder.num_heads, false);
  layerNorm(`${pe}.norm`, encE);
  for (let i = 0; i < cfg.depth; i++) block(`aggregator.frame_blocks.${i}`, E, cfg.num_heads, cfg.qk_norm);
  for (let i = 0; i < cfg.depth; i++) block(`aggregator.global_blocks.${i}`, E, cfg.num_heads, cfg.qk_norm);

  // Camera head (dim 2E)
  const C = 2 * E;
  p("camera_head.empty_pose_tokens", 1, 1, 9);
  for (let i = 0; i < cfg.camera.trunk_depth; i++) block(`camera_head.trunk.${i}`, C, cfg.camera.num_heads, false);
  layerNorm("camera_head.token_norm", C);
  layerNorm("camera_head.trunk_norm", C);
  linear("camera_head.embed_pose", C, 9);
  linear("camera_head.poseLN_modulation.1", 3 * C, C);
  linear("camera_head.pose_branch.fc1", C / 2, C);
  linear("camera_head.pose_branch.fc2", 9, C / 2);

  // DPT heads
  const dpt = (prefix: string, features: number, outputDim: number | null) => {
    const oc = cfg.dpt.out_channels;
    if (oc.length !== 4) throw new Error(`config: dpt.out_channels must have 4 entries, got ${oc.length}`);
    layerNorm(`${prefix}.norm`, C);
    for (let k = 0; k < 4; k++) conv(`${prefix}.projects.${k}`, oc[k], C, 1);
    // ConvTranspose weights are [in, out, k, k]; level 2 is an Identity (no parameters).
    p(`${prefix}.resize_layers.0.weight`, oc[0], oc[0], 4, 4);
    p(`${prefix}.resize_layers.0.bias`, oc[0]);
    p(`${prefix}.resize_layers.1.weight`, oc[1], oc[1], 2, 2);
    p(`${prefix}.resize_layers.1.bias`, oc[1]);
    conv(`${prefix}.resize_layers.3`, oc[3], oc[3], 3);
    for (let k = 0; k < 4; k++) conv(`${prefix}.scratch.layer${k + 1}_rn`, features, oc[k], 3, false);
    for (let k = 1; k <= 4; k++) {
      const rn = `${prefix}.scratch.refinenet${k}`;
      conv(`${rn}.out_conv`, features, features, 1);
      // The deepest fusion block has no skip input, hence no first residual unit.
      const units = k === 4 ? [2] : [1, 2];
      for (const u of units) {
        conv(`${rn}.resConfUnit${u}.conv1`, features, features, 3);
        conv(`${rn}.resConfUnit${u}.conv2`, features, features, 3);
      }
    }
    if (outputDim === null) {
      conv(`${prefix}.scratch.output_conv1`, features, features, 3);
    } else {
      conv(`${prefix}.scratch.output_conv1`, features / 2, features, 3);
      conv(`${prefix}.scratch.output_conv2.0`, 32, features / 2, 3);
      conv(`${prefix}.scratch.output_conv2.2`, outputDim, 32, 1);
    }
  };
  dpt("point_head", cfg.dpt.features, 4);
  dpt("depth_head", cfg.dpt.features, 2);

  // Track head (feature-only DPT + CoTracker-style refiner)
  if (cfg.track?.enabled) {
    const t = cfg.track;
    const latent = t.features;
    const hidden = t.hidden_size ?? 384;
    const depth = t.depth ?? 6;
    const virtual = t.num_virtual_tracks ?? 64;
    const corrIn = (t.corr_levels ?? 7) * (2 * (t.corr_radius ?? 4) + 1) ** 2;
    const tdim = 3 * latent + 4;
    const mlpHidden = Math.round(hidden * 4);
    dpt("track_head.feature_extractor", latent, null);
    const tr = "track_head.tracker";
    p(`${tr}.query_ref_token`, 1, 2, tdim);
    linear(`${tr}.corr_mlp.fc1`, hidden, corrIn);
    linear(`${tr}.corr_mlp.fc2`, latent, hidden);
    const uf = `${tr}.updateformer`;
    p(`${uf}.virual_tracks`, 1, virtual, 1, hidden); // sic: the official name is misspelt
    layerNorm(`${uf}.input_norm`, tdim);
    linear(`${uf}.input_transform`, hidden, tdim);
    layerNorm(`${uf}.output_norm`, hidden);
    linear(`${uf}.flow_head`, latent + 2, hidden);
    const mha = (prefix: string) => {
      p(`${prefix}.in_proj_weight`, 3 * hidden, hidden);
      p(`${prefix}.in_proj_bias`, 3 * hidden);
      linear(`${prefix}.out_proj`, hidden, hidden);
    };
    const mlp = (prefix: string) => {
      linear(`${prefix}.fc1`, mlpHidden, hidden);
      linear(`${prefix}.fc2`, hidden, mlpHidden);
    };
    const attnBlock = (prefix: string) => {
      layerNorm(`${prefix}.norm1`, hidden);
      layerNorm(`${prefix}.norm2`, hidden);
      mha(`${prefix}.attn`);
      mlp(`${prefix}.mlp`);
    };
    const crossBlock = (prefix: string) => {
      layerNorm(`${prefix}.norm1`, hidden);
      layerNorm(`${prefix}.norm_context`, hidden);
      layerNorm(`${prefix}.norm2`, hidden);
      mha(`${prefix}.cross_attn`);
      mlp(`${prefix}.mlp`);
    };
    for (let i = 0; i < depth; i++) attnBlock(`${uf}.time_blocks.${i}`);
    for (let i = 0; i < depth; i++) attnBlock(`${uf}.space_virtual_blocks.${i}`);
    for (let i = 0; i < depth; i++) crossBlock(`${uf}.space_point2virtual_blocks.${i}`);
    for (let i = 0; i < depth; i++) crossBlock(`${uf}.space_virtual2point_blocks.${i}`);
    layerNorm(`${tr}.fmap_norm`, latent);
    layerNorm(`${tr}.ffeat_norm`, latent);
    linear(`${tr}.ffeat_updater.0`, latent, latent);
    linear(`${tr}.vis_predictor.0`, 1, latent);
    linear(`${tr}.conf_predictor.0`, 1, latent);
  }
  return out;
}

export function countParams(specs: ParamSpec[]): number {
  return specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}

/** Prefix of the optional track head: its absence only disables point tracking. */
export const TRACK_HEAD_PREFIX = "track_head.";

// The parameter table: every tensor the engine reads for one config, by official state-dict
// name and shape. It is built as one typed record per module (params::Block, params::Dpt, ...):
// each module's constructor takes its record and reads its tensors through it, so the names
// are spelled only in param_table.cpp, and `all` lists the same entries in state-dict order for
// loading, checkpoint validation, converted caches, random weights and `describe`.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"

namespace vggt {

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  // A transformer Linear weight of the encoder or aggregator blocks: converted caches store it
  // as bf16 or int8 (the MLPs' fc2 alone when the int8 scope is fc2).
  bool convertible = false;
  bool mlp_fc2 = false;
};

namespace params {

// weight and bias of a Linear, a LayerNorm or a convolution.
struct Affine {
  ParamSpec weight, bias;
};

// Pre-norm ViT block with LayerScale (encoder, aggregator, camera trunk).
struct Block {
  Affine norm1, qkv;
  std::optional<Affine> q_norm, k_norm;  // QK-norm: the aggregator's blocks when the config has it
  Affine proj;
  ParamSpec ls1;
  Affine norm2, fc1, fc2;
  ParamSpec ls2;
};

// DINOv2 patch encoder (aggregator.patch_embed).
struct Encoder {
  ParamSpec cls_token, pos_embed;
  std::optional<ParamSpec> register_tokens;
  // Masked-image modelling's token: part of the checkpoint, read by no module at inference.
  ParamSpec mask_token;
  Affine patch_proj;  // the stride-14 patch convolution
  std::vector<Block> blocks;
  Affine norm;
};

struct Aggregator {
  ParamSpec camera_token, register_token;
  Encoder patch_embed;
  std::vector<Block> frame_blocks, global_blocks;
};

struct CameraHead {
  ParamSpec empty_pose_tokens;
  std::vector<Block> trunk;
  Affine token_norm, trunk_norm, embed_pose;
  Affine modulation;  // poseLN_modulation.1
  Affine branch_fc1, branch_fc2;
};

struct Dpt {
  Affine norm;
  std::array<Affine, 4> projects;  // 1x1 convolutions on the tokens
  Affine resize0, resize1, resize3;  // resize_layers 0 and 1 (transposed) and 3; 2 is an identity
  std::array<ParamSpec, 4> layer_rn;  // scratch.layer1_rn..layer4_rn (no bias)
  struct Fusion {
    Affine out_conv;
    std::optional<Affine> unit1_conv1, unit1_conv2;  // refinenet4 has no first residual unit
    Affine unit2_conv1, unit2_conv2;
  };
  std::array<Fusion, 4> refinenet;  // refinenet1..refinenet4
  Affine output_conv1;
  // Absent in the track head's feature-only DPT; output_conv2_2's rows are the head's outputs.
  std::optional<Affine> output_conv2_0, output_conv2_2;
};

// AttnBlock / CrossAttnBlock of the tracker's update transformer.
struct TrackBlock {
  Affine norm1;
  std::optional<Affine> norm_context;  // cross-attention blocks
  Affine norm2;
  Affine in_proj, out_proj;  // nn.MultiheadAttention: q, k, v packed in in_proj
  Affine fc1, fc2;
};

struct Tracker {
  ParamSpec query_ref_token;
  Affine corr_fc1, corr_fc2;
  ParamSpec virtual_tracks;
  Affine input_norm, input_transform, output_norm, flow_head;
  std::vector<TrackBlock> time_blocks, space_virtual_blocks, space_point2virtual_blocks, space_virtual2point_blocks;
  Affine fmap_norm, ffeat_norm, ffeat_updater, vis_predictor;
  std::optional<Affine> conf_predictor;
};

struct TrackHead {
  Dpt feature_extractor;
  Tracker tracker;
};

struct Model {
  Aggregator aggregator;
  CameraHead camera_head;
  Dpt point_head, depth_head;
  std::optional<TrackHead> track_head;  // when cfg.track_enabled
  std::vector<ParamSpec> all;           // every entry above, in state-dict order
};

Model table(const ModelConfig& cfg);

// True for the track head's tensors (a checkpoint without any of them loads without it).
bool is_track_head(const std::string& name);

}  // namespace params

// params::table(cfg).all: every parameter the engine reads for this config, in state-dict order.
std::vector<ParamSpec> expected_params(const ModelConfig& cfg);

}  // namespace vggt

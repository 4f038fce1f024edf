// The official TrackHead: a feature-only DPT on the aggregated tokens (down_ratio 2, no
// position embedding) and BaseTrackerPredictor (correlation pyramid, iterative update
// transformer, visibility and confidence). Split in two so that a finished run can keep its
// feature maps (the track cache) and answer later queries without the encoder and aggregator.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"
#include "model/layers.h"
#include "model/param_table.h"
#include "model/parts.h"
#include "model/weights.h"

namespace vggt {

// What the tracker needs from a run: per frame, the DPT feature map after the tracker's
// LayerNorm (fmap_norm) and its 2x2-average-pooled pyramid. Level l: [S, h_l, w_l, C].
struct TrackFeatures {
  int64_t frames = 0, height = 0, width = 0;  // the model input (S, H, W)
  std::vector<Tensor> pyramid;                // pyramid[0]: [S, H/2, W/2, C]
  size_t bytes() const;
};

// The most query points one call takes (a 64 x 64 grid).
constexpr int64_t kMaxQueryPoints = 4096;

// Throws naming `what` and the first bad point unless q is [N, 2] with 1 <= N <= kMaxQueryPoints,
// finite, inside the model input frame (0 <= x <= W-1, 0 <= y <= H-1).
void check_query_points(const Tensor& q, int64_t H, int64_t W, const std::string& what);

// An n x n grid of query points: the centres of n x n equal cells of an H x W frame.
Tensor query_grid(int64_t n, int64_t H, int64_t W);

struct TrackOutputs {
  Tensor track;  // [S, N, 2] model-input pixels (final iteration)
  Tensor vis;    // [S, N]
  Tensor conf;   // [S, N] (empty without predict_conf)
  std::vector<Tensor> iterations;  // [S, N, 2] after each iteration (track = the last)
  Tensor query_feats;              // [N, C] normalised frame-0 features at the queries
  Tensor corr0;                    // [S, N, levels*(2r+1)^2] correlations of iteration 0
};

// nn.MultiheadAttention with packed in-projection, inside the tracker's attention blocks.
struct TrackAttention {
  Linear q, kv;  // in_proj rows [0, h) and [h, 3h)
  Linear qkv;    // all of in_proj (self-attention: one GEMM)
  Linear out;
  int64_t heads = 8;
  TrackAttention() = default;
  TrackAttention(const WeightStore& ws, const params::Affine& in_proj, const params::Affine& out_proj, int64_t hidden,
                 int64_t heads);
  // x [B*Nq, h] attends to ctx [B*Nk, h] (ctx == nullptr: self-attention) -> [B*Nq, h].
  Tensor forward(const Tensor& x, const Tensor* ctx, int64_t B, int64_t Nq, int64_t Nk) const;
  void set_mode(LinearMode m);
};

// AttnBlock / CrossAttnBlock of the update transformer: x = norm1(x) (the residual is the
// normalised x); x += attn(x[, norm_context(ctx)]); x += mlp(norm2(x)).
struct TrackBlock {
  LayerNorm norm1, norm2, norm_context;
  TrackAttention attn;
  Linear fc1, fc2;
  bool cross = false;
  TrackBlock() = default;
  // Cross-attention when the table's block has norm_context.
  TrackBlock(const WeightStore& ws, const params::TrackBlock& p, int64_t hidden, int64_t heads);
  void forward(Tensor& x, const Tensor* ctx, int64_t B, int64_t Nq, int64_t Nk) const;
  void set_mode(LinearMode m);
};

struct TrackHead {
  const ModelConfig& cfg;
  DptHead extractor;
  LayerNorm fmap_norm, ffeat_norm;
  Linear corr_fc1, corr_fc2, ffeat_updater, vis_predictor, conf_predictor;
  Tensor query_ref_token;  // [1, 2, 3C+4]
  LayerNorm input_norm, output_norm;
  Linear input_transform, flow_head;
  Tensor virtual_tracks;  // [1, V, 1, hidden]
  std::vector<TrackBlock> time_blocks, space_virtual_blocks, space_point2virtual_blocks, space_virtual2point_blocks;

  TrackHead(const WeightStore& ws, const ModelConfig& cfg, const params::TrackHead& p);
  // bf16 / w8a8 / prepack for the tracker's Linears; the extractor's convs follow set_conv_modes.
  void set_linear_mode(LinearMode m);

  // Frames [0, S) of the aggregated layers -> the track cache. `raw_maps`, when given, receives
  // the DPT output before fmap_norm as [S, C, H/2, W/2] (the official debug layout).
  TrackFeatures features(const std::map<int, Tensor>& layers, int64_t S, int64_t H, int64_t W, const StepFn& step,
                         Tensor* raw_maps = nullptr) const;
  // queries [N, 2]: (x, y) pixels of the model input's frame 0. `step` is called per iteration.
  TrackOutputs track(const TrackFeatures& f, const Tensor& queries, const StepFn& step) const;

 private:
  Tensor update_transformer(const Tensor& x, int64_t N, int64_t S) const;  // [N*S, 3C+4] -> [N*S, C+2]
};

}  // namespace vggt

// The model's stages, each built from the weight store through its parameter-table record
// (model/param_table.h); composed in vggt_model.cpp.
#pragma once
#include <functional>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"
#include "model/layers.h"
#include "model/param_table.h"
#include "model/vggt_model.h"
#include "model/weights.h"
#include "ops/conv.h"

namespace vggt {

// Called between layers: reports progress and throws CancelledError when asked to stop.
using StepFn = std::function<void(const std::string& stage, int step, int total)>;

// DINOv2-with-registers patch encoder.
struct Encoder {
  const ModelConfig& cfg;
  Tensor patch_w, patch_b, cls_token, pos_embed, register_tokens;
  std::vector<TransformerBlock> blocks;
  LayerNorm norm;
  Encoder(const WeightStore& ws, const ModelConfig& cfg, const params::Encoder& p);
  // images [S, 3, H, W] in [0, 1] -> normalised patch tokens [S, Hp*Wp, E].
  Tensor forward(const Tensor& images, const StepFn& step, BlockTimes* times, const ExecFlags& flags) const;
  Tensor interpolated_pos_embed(int64_t hp, int64_t wp) const;  // [1 + hp*wp, E]
};

// The aggregator outputs the heads read, per kept layer frame||global tokens [S, P, 2E]. At
// 100+ frames they are the largest buffers of a run (4 layers x 8 KiB per token in float32), so
// a bf16 run keeps them in bfloat16; the camera head's tokens (last layer, token 0) stay float32.
struct KeptLayers {
  int64_t S = 0, P = 0, C = 0;
  std::map<int, Tensor> f32;                  // [S, P, C] float32
  std::map<int, std::vector<uint16_t>> bf16;  // [S, P, C] bfloat16 (bf16 runs without debug/track)
  Tensor camera;                              // [S, 1, C] last layer's camera tokens, float32
  // Float32 [s1 - s0, P, C] of frames [s0, s1) for every kept layer (views of float32 storage).
  std::map<int, Tensor> frames(int64_t s0, int64_t s1) const;
  size_t bytes() const;
  void clear();
};

// Alternating frame/global attention over camera, register and patch tokens.
struct Aggregator {
  const ModelConfig& cfg;
  Tensor camera_token, register_token;
  std::vector<TransformerBlock> frame_blocks, global_blocks;
  Aggregator(const WeightStore& ws, const ModelConfig& cfg, const params::Aggregator& p);
  // patch_tokens [S, Hp*Wp, E] (released once copied) -> frame||global outputs [S, P, 2E] of the
  // layers in `keep` (bfloat16 when keep_bf16) and the last layer's camera tokens.
  // frame_offset: global index of the first frame (sequence parallelism: frames on other ranks).
  KeptLayers forward(Tensor patch_tokens, int64_t hp, int64_t wp, const std::vector<int>& keep, bool keep_bf16,
                     const StepFn& step, BlockTimes* frame_times, BlockTimes* global_times, const ExecFlags& flags,
                     int64_t frame_offset = 0) const;
  // rope-cache: per-token rotation tables per patch grid, built once and reused across runs.
  mutable std::mutex rope_mu;
  mutable std::map<std::pair<int64_t, int64_t>, std::shared_ptr<const RopeTokens>> rope_cache;
};

struct CameraHead {
  const ModelConfig& cfg;
  std::vector<TransformerBlock> trunk;
  LayerNorm token_norm, trunk_norm;
  Tensor empty_pose;
  Linear embed_pose, modulation, branch_fc1, branch_fc2;
  CameraHead(const WeightStore& ws, const ModelConfig& cfg, const params::CameraHead& p);
  // last layer tokens [S, P, 2E] -> pose encodings after each iteration, each [S, 9].
  std::vector<Tensor> forward(const Tensor& last_layer, const StepFn& step, const ExecFlags& flags) const;
};

struct DptHead {
  const ModelConfig& cfg;
  int out_dim;            // 0: feature only (the track head's extractor: no output_conv2, no pos_embed)
  bool depth_activation;  // exp (depth head) vs inv_log (point head)
  LayerNorm norm;
  // Activations are channels-last [1, h, w, C] throughout (oneDNN's native conv layout).
  std::vector<Linear> projects;  // 1x1 convs applied to tokens
  Tensor resize0_w, resize0_b, resize1_w, resize1_b;
  ops::Conv2d resize3;
  std::vector<ops::Conv2d> layer_rn;  // 4
  struct Fusion {
    bool has_unit1;
    ops::Conv2d u1c1, u1c2, u2c1, u2c2;
    Linear out_conv;  // 1x1 conv, run on channels-last pixels
  };
  std::vector<Fusion> refine;  // refinenet1..4 at index 0..3
  ops::Conv2d out_conv1, out_conv2a;
  Linear out_conv2b;  // final 1x1 conv -> out_dim channels

  // out_dim from the table (output_conv2's rows; 0 without it).
  DptHead(const WeightStore& ws, const ModelConfig& cfg, const params::Dpt& p, bool depth);
  void set_conv_modes(bool prepack, bool bf16);
  bool sincos_lowp = false;  // UV embedding in float32, not float64 (option sincos-lowp)
  bool pos_cache = false;    // UV embedding cached per (C, h, w, aspect) (option dpt-pos-cache)
  // Runs frames [s0, s1) -> preds [n, H, W, out_dim-1] and conf [n, H, W].
  void forward(const std::map<int, Tensor>& layers, int64_t s0, int64_t s1, int64_t H, int64_t W, Tensor& preds,
               Tensor& conf, int64_t out_offset) const;
  // Feature-only head (out_dim 0), frame s: output_conv1 of the fused features resized to
  // (H/down_ratio, W/down_ratio), [1, H/d, W/d, F] channels-last.
  Tensor features(const std::map<int, Tensor>& layers, int64_t s, int64_t H, int64_t W, int down_ratio) const;
  Tensor pos_embed(int64_t C, int64_t h, int64_t w, double aspect) const;
  mutable std::mutex pe_mu;

 private:
  // Token projection, resize and fusion of frame s, up to (not including) the last fusion
  // block's 2x upsampling, which the callers fuse with output_conv1's input.
  Tensor fuse(const std::map<int, Tensor>& layers, int64_t s, int64_t H, int64_t W) const;

 public:
  mutable std::map<std::tuple<int64_t, int64_t, int64_t, double>, Tensor> pe_cache;
};

// pose_enc -> extrinsic [S,3,4] and intrinsic [S,3,3] at (H, W).
void pose_encoding_to_extri_intri(const Tensor& pose_enc, int64_t H, int64_t W, Tensor& extrinsic, Tensor& intrinsic);
// depth [S,H,W,1] + cameras -> world points [S,H,W,3].
Tensor unproject_depth(const Tensor& depth, const Tensor& extrinsic, const Tensor& intrinsic);

}  // namespace vggt

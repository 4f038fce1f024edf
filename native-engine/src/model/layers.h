// Building blocks shared by the encoder, the aggregator and the camera head.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/weights.h"
#include "ops/rope.h"

namespace vggt {

struct Linear {
  Tensor w, b;  // w [N, K] (PyTorch layout), b [N] or empty
  Linear() = default;
  Linear(const WeightStore& ws, const std::string& prefix, bool bias = true);
  int64_t out_features() const { return w.dim(0); }
  int64_t in_features() const { return w.dim(1); }
  Tensor forward(const Tensor& x) const;  // x [M, K] -> [M, N]
  double gflop(int64_t rows) const { return 2.0 * rows * w.numel() / 1e9; }
};

struct LayerNorm {
  Tensor w, b;
  float eps = 1e-5f;
  LayerNorm() = default;
  LayerNorm(const WeightStore& ws, const std::string& prefix, float eps);
  Tensor forward(const Tensor& x) const;  // over the last dim
};

// Where the time of a block goes, for per-stage benchmarks.
struct BlockTimes {
  double attn_ms = 0, mlp_ms = 0, other_ms = 0;
  double attn_gflop = 0, linear_gflop = 0;
};

// Pre-norm ViT block with LayerScale: x += ls1 * attn(norm1(x)); x += ls2 * mlp(norm2(x)).
// Optional QK-norm (LayerNorm over head_dim) and 2-D RoPE (aggregator blocks).
struct TransformerBlock {
  LayerNorm norm1, norm2;
  Linear qkv, proj, fc1, fc2;
  Tensor ls1, ls2;
  LayerNorm q_norm, k_norm;
  bool has_qk_norm = false;
  int64_t heads = 1;

  TransformerBlock() = default;
  TransformerBlock(const WeightStore& ws, const std::string& prefix, int64_t heads, float norm_eps, bool qk_norm);

  // x: [B*N, C] holding B sequences of N tokens, updated in place.
  // pos: [N, 2] per token when rope is non-null.
  void forward(Tensor& x, int64_t B, int64_t N, const int32_t* pos, const ops::RopeTable* rope,
               BlockTimes* times = nullptr) const;
};

}  // namespace vggt

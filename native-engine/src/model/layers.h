// Building blocks shared by the encoder, the aggregator and the camera head.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/weights.h"
#include "ops/attention.h"
#include "ops/rope.h"
#include "ops/sparse_global_attention.h"

namespace vggt {

namespace ops {
class LinearF32Packed;
class LinearBF16;
class LinearW8A8;
}  // namespace ops

// How a Linear runs: plain fp32 sgemm on the checkpoint's layout (the exact reference), or with
// weights converted once when the model loads or an option is toggled (prepacked fp32, bf16,
// int8), so that no forward pass pays for the conversion.
enum class LinearMode { F32, F32Packed, BF16, W8A8 };

struct Linear {
  // w [N, K] (PyTorch layout), b [N] or empty. Built from a WeightStore, w stays empty until a
  // float32 path needs it (weight()) and is dropped again when a converted mode (bf16, int8,
  // packed) is set, so the float32 and the converted copy are never both held.
  mutable Tensor w;
  Tensor b;
  Linear() = default;
  Linear(const WeightStore& ws, const params::Affine& p);
  Linear(const Tensor& weight, const Tensor& bias) : w(weight), b(bias), shape_(weight.shape()) {}
  int64_t out_features() const { return shape_[0]; }
  int64_t in_features() const { return shape_[1]; }
  int64_t weight_numel() const { return shape_[0] * shape_[1]; }
  const Tensor& weight() const;
  // x [M, K] -> [M, N]. W8A8 only: in every `period` rows the first `special` (camera and
  // register tokens) get a second int8 level (see ops::LinearW8A8).
  Tensor forward(const Tensor& x, int64_t period = 0, int special = 0) const;
  double gflop(int64_t rows) const { return 2.0 * rows * weight_numel() / 1e9; }
  // Converts the weights for `m` (kept until the mode changes; other forms are released).
  // hadamard: W8A8 with a Walsh-Hadamard rotation where K is a power of two.
  // residual: W8A8 with residual weights (ops::LinearW8A8::set_residual).
  void set_mode(LinearMode m, bool hadamard = false, bool residual = false);
  LinearMode mode() const { return mode_; }
  // MLP fusion in bf16 mode: this Linear (fc1) with GELU in its epilogue, handing bf16
  // activations straight to `next` (fc2). Empty when either is not native bf16.
  Tensor forward_gelu_into(const Tensor& x, const Linear& next) const;
  size_t weight_bytes() const;  // as held for the current mode

 private:
  LinearMode mode_ = LinearMode::F32;
  bool hadamard_ = false;
  bool residual_ = false;
  const WeightStore* store_ = nullptr;
  std::string name_;
  std::vector<int64_t> shape_;
  std::shared_ptr<const ops::LinearF32Packed> packed_;
  std::shared_ptr<const ops::LinearBF16> bf16_;
  std::shared_ptr<const ops::LinearW8A8> w8a8_;
};

// How one global layer's attention is thinned (many-frame options; see ops/sparse_global_attention.h).
struct GlobalSparsity {
  enum Kind { dense, kv_subsample, block_sparse } kind = dense;
  ops::FrameLayout layout;
  int stride = 1;
  double keep = 1, cdf = 0;
};

// Global attention spread over MPI ranks (sequence parallelism; see model/sequence_parallel.h).
// Each rank holds q, k, v of its own tokens [B, H, N_local, D] and gets out [B, N_local, H, D].
class GlobalAttention {
 public:
  virtual ~GlobalAttention() = default;
  // sparsity: the layer's many-frame option (layout.S counts this rank's frames only).
  virtual void attention(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t H,
                         int64_t N_local, int64_t D, float scale, ops::AttentionKernel kernel,
                         const GlobalSparsity& sparsity) const = 0;
};

// Per-run switches that change how blocks compute (see EngineOptions).
struct ExecFlags {
  GlobalSparsity global_sparsity;  // set per global layer by the aggregator
  // Many-frame options (0 = off): leading global layers run as frame attention; kv-subsample
  // stride over global layers [kv_first, kv_last]; block-sparse keep ratio for the others.
  int global_early_frame = 0;
  int kv_stride = 0, kv_first = 0, kv_last = -1;
  double block_keep = 0, block_cdf = 0;
  const GlobalAttention* distributed = nullptr;  // set: global blocks attend across ranks
  bool rope_fused = false;    // one pass over q/k per rotation, no temporaries
  bool rope_cache = false;    // positions and per-token cos/sin built once per grid
  bool fused_add_ln = false;  // residual add + LayerNorm in one pass; one-pass LayerNorm
  ops::AttentionKernel global_attn = ops::AttentionKernel::exact;  // kernel of global blocks
  ops::AttentionKernel frame_attn = ops::AttentionKernel::exact;   // ... of frame blocks
  // Blocks with more tokens run their qkv projection and MLP a row chunk at a time, so that the
  // fused [T, 3C] qkv output and the [T, 4C] hidden activations never exist whole (a 4C chunk of
  // 8192 rows is 128 MiB for VGGT-1B); rows are independent, so results do not depend on it.
  int64_t row_chunk = 8192;
  // w8a8 outliers=special: the leading tokens of every frame (camera + registers) whose int8
  // activations get a second level; 0 = off.
  int int8_special = 0;
};

// Precomputed per-token rotations for one token sequence (rope-cache): [N, D] cos and sin.
struct RopeTokens {
  std::vector<float> cos, sin;
  int64_t N = 0, D = 0;
};

struct LayerNorm {
  Tensor w, b;
  float eps = 1e-5f;
  LayerNorm() = default;
  LayerNorm(const WeightStore& ws, const params::Affine& p, float eps);
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
  // QK-norm when the table's block has it.
  TransformerBlock(const WeightStore& ws, const params::Block& p, int64_t heads, float norm_eps);

  // x: [B*N, C] holding B sequences of N tokens, updated in place.
  // pos: [N, 2] per token when rope is non-null.
  void forward(Tensor& x, int64_t B, int64_t N, const int32_t* pos, const ops::RopeTable* rope,
               BlockTimes* times = nullptr, const ExecFlags& flags = {}, bool global = false,
               const RopeTokens* rope_tokens = nullptr, float rope_base = 100.f) const;
  void set_linear_mode(LinearMode m);
  // w8a8 scope: fc2 in `fc2_mode`, qkv/proj/fc1 in `rest`; hadamard as in Linear::set_mode.
  void set_linear_modes(LinearMode fc2_mode, LinearMode rest, bool hadamard, bool residual = false);
  size_t weight_bytes() const;
};

}  // namespace vggt

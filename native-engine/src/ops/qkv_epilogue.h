// The attention blocks' QKV epilogue in one pass: split the fused Linear's output into per-head
// q, k, v and, while each head row is still in L1, apply QK-norm and RoPE to q and k.
#pragma once
#include <cstdint>

namespace vggt::ops {

// LayerNorm over one head row (QK-norm); eps as the block's norm.
struct HeadNorm {
  const float* w = nullptr;
  const float* b = nullptr;
  float eps = 1e-5f;
};

// qkv [B, N, 3, H, D] (the Linear's output) -> q, k, v [B, H, N, D]. q_norm / k_norm null: no
// QK-norm; otherwise the vector LayerNorm of ops/layernorm_fused.h on each D-wide row. cos_tok
// null: no RoPE; otherwise the per-token tables [period, D] (token n uses row n % period) with
// the fused rotation of rope_apply. Bit for bit the result of split_qkv, then layernorm on q
// and k, then rope_apply(fused) on q and k, in a fifth of the passes over memory.
void split_qkv_norm_rope(const float* qkv, float* q, float* k, float* v, int64_t B, int64_t N, int64_t H, int64_t D,
                         const HeadNorm* q_norm, const HeadNorm* k_norm, const float* cos_tok, const float* sin_tok,
                         int64_t period);

}  // namespace vggt::ops

// Exact scaled-dot-product attention (reference path): softmax rows computed in full,
// queries processed in chunks so the score block stays bounded for long global sequences.
#pragma once
#include <cstdint>

namespace vggt::ops {

// q, k, v: [B, H, N, D] contiguous; out: [B, N, H, D]. scale = 1/sqrt(D) typically.
void attention_exact(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t H, int64_t N,
                     int64_t D, float scale);

// Which kernel a block's attention runs (engine options flash-attn, and bf16 on top of it).
enum class AttentionKernel { exact, flash, flash_bf16 };

// Same contract as attention_exact, with the chosen kernel (see ops/flash_attention.h).
void attention(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out, int64_t B,
               int64_t H, int64_t N, int64_t D, float scale);

// Softmax of one row of scores in place (max-shifted; the vector exp where AVX-512 runs);
// returns the row's log-sum-exp, which blockwise attention needs to merge partial results.
float softmax_row(float* s, int64_t n, bool vector_exp);

// Splits qkv [B, N, 3, H, D] (the Linear's output) into q, k, v [B, H, N, D].
void split_qkv(const float* qkv, float* q, float* k, float* v, int64_t B, int64_t N, int64_t H, int64_t D);

}  // namespace vggt::ops

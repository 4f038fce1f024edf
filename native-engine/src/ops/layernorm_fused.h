// Inference LayerNorm kernels over the last dimension C (row-major [rows, C]).
#pragma once
#include <cstdint>

namespace vggt::ops {

// Fused residual add + LayerNorm: x += r (in place, the new residual stream), then
// y = (x - mean) / sqrt(var + eps) * w + b. x, r and y are [rows, C]; w, b are [C] (either
// may be null: scale 1 / shift 0). y must not alias x or r.
void add_layernorm(float* x, const float* r, float* y, const float* w, const float* b,
                   int64_t rows, int C, float eps);

// y = LayerNorm(x) * w + b. One pass over memory: sum and sum of squares (shifted by the
// row's first element) accumulate in registers while the row is read; the normalising pass
// re-reads the row from L1. When the shifted moments would cancel badly (variance tiny
// against the spread) the variance is recomputed exactly from the L1-resident row.
// y may alias x.
void layernorm(const float* x, float* y, const float* w, const float* b, int64_t rows, int C,
               float eps);

namespace detail {
void add_layernorm_generic(float* x, const float* r, float* y, const float* w, const float* b,
                           int64_t rows, int C, float eps);
void layernorm_generic(const float* x, float* y, const float* w, const float* b, int64_t rows,
                       int C, float eps);
void add_layernorm_avx512(float* x, const float* r, float* y, const float* w, const float* b,
                          int64_t rows, int C, float eps);
void layernorm_avx512(const float* x, float* y, const float* w, const float* b, int64_t rows,
                      int C, float eps);
}  // namespace detail

}  // namespace vggt::ops

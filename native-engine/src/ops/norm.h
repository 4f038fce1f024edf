// LayerNorm over the last dimension (reference two-pass form).
#pragma once
#include <cstdint>

namespace vggt::ops {

// y = (x - mean) / sqrt(var + eps) * w + b per row of C values; w, b may be null (no affine).
void layer_norm(const float* x, float* y, const float* w, const float* b, int64_t rows, int64_t C, float eps);

// Fused LayerScale residual + LayerNorm (inference): x += gamma * o, then y = LN(x) * w + b,
// one pass over x and o per row (the row stays in cache for the normalising pass).
void add_scaled_layer_norm(float* x, const float* o, const float* gamma, float* y, const float* w, const float* b,
                           int64_t rows, int64_t C, float eps);

}  // namespace vggt::ops

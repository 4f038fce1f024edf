// Pointwise activations and residual updates.
#pragma once
#include <cstdint>

namespace vggt::ops {

void gelu_erf(float* x, int64_t n);  // exact GELU, 0.5 x (1 + erf(x / sqrt 2))
void relu(float* x, int64_t n);
void relu_to(const float* x, float* y, int64_t n);
void silu_to(const float* x, float* y, int64_t n);
void add(float* x, const float* r, int64_t n);  // x += r
// x[r, c] += gamma[c] * y[r, c]  (LayerScale residual)
void add_scaled(float* x, const float* y, const float* gamma, int64_t rows, int64_t C);

namespace detail {
void gelu_erf_avx512(float* x, int64_t n);  // chosen by gelu_erf() when AVX-512 runs
}  // namespace detail

}  // namespace vggt::ops

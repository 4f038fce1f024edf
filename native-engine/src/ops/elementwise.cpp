#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>

#include "core/cpu_features.h"

namespace vggt::ops {

void gelu_erf(float* x, int64_t n) {
  if (isa_level() == IsaLevel::avx512) {
    const int64_t block = 1 << 14;
#pragma omp parallel for if (n > 65536)
    for (int64_t b = 0; b < n; b += block) detail::gelu_erf_avx512(x + b, std::min(block, n - b));
    return;
  }
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678118654752f));
}

void relu(float* x, int64_t n) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
}

void relu_to(const float* x, float* y, int64_t n) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

void silu_to(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.f + std::exp(-x[i]));
}

void add(float* x, const float* r, int64_t n) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) x[i] += r[i];
}

void add_scaled(float* x, const float* y, const float* gamma, int64_t rows, int64_t C) {
#pragma omp parallel for if (rows * C > 65536)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) x[r * C + c] += gamma[c] * y[r * C + c];
}

}  // namespace vggt::ops

#include "ops/norm.h"

#include <algorithm>
#include <cmath>

namespace vggt::ops {

void layer_norm(const float* x, float* y, const float* w, const float* b, int64_t rows, int64_t C, float eps) {
#pragma omp parallel for if (rows * C > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    // Two passes in double: the mean-shifted variance avoids cancellation.
    double mean = 0;
    for (int64_t i = 0; i < C; ++i) mean += xr[i];
    mean /= C;
    double var = 0;
    for (int64_t i = 0; i < C; ++i) {
      double d = xr[i] - mean;
      var += d * d;
    }
    var /= C;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < C; ++i) {
      float v = (xr[i] - m) * inv;
      if (w) v = v * w[i];
      if (b) v = v + b[i];
      yr[i] = v;
    }
  }
}

void add_scaled_layer_norm(float* x, const float* o, const float* gamma, float* y, const float* w, const float* b,
                           int64_t rows, int64_t C, float eps) {
#pragma omp parallel for if (rows * C > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * C;
    const float* orow = o + r * C;
    float* yr = y + r * C;
    // Moments shifted by the row's first value: cancellation-safe in one pass.
    const float shift = xr[0] + gamma[0] * orow[0];
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < C; ++i) {
      const float v = xr[i] + gamma[i] * orow[i];
      xr[i] = v;
      const double dv = v - shift;
      s1 += dv;
      s2 += dv * dv;
    }
    const double mean_s = s1 / C;
    const double var = std::max(0.0, s2 / C - mean_s * mean_s);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean_s + shift);
    for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] - m) * inv * w[i] + b[i];
  }
}

}  // namespace vggt::ops

#include "ops/norm.h"

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

}  // namespace vggt::ops

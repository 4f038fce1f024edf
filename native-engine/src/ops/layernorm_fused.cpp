#include "ops/layernorm_fused.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/cpu_features.h"

namespace vggt::ops {
namespace {

// Moments of d = s - s[0] in 8 interleaved partial sums (short chains: accurate, and the
// compiler can keep them in one vector register).
struct Moments {
  float sum = 0.0f, sumsq = 0.0f;
};

template <bool kAdd>
inline Moments row_moments(float* x, const float* r, const float* src, int C) {
  float s1[8] = {0}, s2[8] = {0};
  const float shift = kAdd ? x[0] + r[0] : src[0];
  int k = 0;
  for (; k + 8 <= C; k += 8)
    for (int j = 0; j < 8; ++j) {
      float v;
      if constexpr (kAdd) {
        v = x[k + j] + r[k + j];
        x[k + j] = v;
      } else {
        v = src[k + j];
      }
      const float d = v - shift;
      s1[j] += d;
      s2[j] += d * d;
    }
  for (; k < C; ++k) {
    float v;
    if constexpr (kAdd) {
      v = x[k] + r[k];
      x[k] = v;
    } else {
      v = src[k];
    }
    const float d = v - shift;
    s1[0] += d;
    s2[0] += d * d;
  }
  Moments m;
  for (int j = 0; j < 8; ++j) {
    m.sum += s1[j];
    m.sumsq += s2[j];
  }
  return m;
}

inline void normalize_row(const float* s, float* y, const float* w, const float* b, int C,
                          Moments mo, float eps) {
  const float shift = s[0];
  const float mean_d = mo.sum / C;
  const float ex2 = mo.sumsq / C;
  float var = ex2 - mean_d * mean_d;
  float mean = shift + mean_d;
  if (var * 16.0f < ex2) {
    // The shift was far from the mean (>~4 std): E[d^2]-E[d]^2 and the large partial sums
    // lost too many bits. Corrected two-pass around the estimate, on the cache-resident row.
    float e1[8] = {0}, e2[8] = {0};
    int k = 0;
    for (; k + 8 <= C; k += 8)
      for (int j = 0; j < 8; ++j) {
        const float d = s[k + j] - mean;
        e1[j] += d;
        e2[j] += d * d;
      }
    for (; k < C; ++k) {
      const float d = s[k] - mean;
      e1[0] += d;
      e2[0] += d * d;
    }
    float t1 = 0.0f, t2 = 0.0f;
    for (int j = 0; j < 8; ++j) {
      t1 += e1[j];
      t2 += e2[j];
    }
    const float corr = t1 / C;
    mean += corr;
    var = t2 / C - corr * corr;
  }
  const float rstd = 1.0f / std::sqrt(std::max(var, 0.0f) + eps);
  for (int k = 0; k < C; ++k) {
    float v = (s[k] - mean) * rstd;
    if (w) v *= w[k];
    if (b) v += b[k];
    y[k] = v;
  }
}

constexpr int64_t kRowsPerChunk = 16;

}  // namespace

namespace detail {

void add_layernorm_generic(float* x, const float* r, float* y, const float* w, const float* b,
                           int64_t rows, int C, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    float* xr = x + i * C;
    Moments mo = row_moments<true>(xr, r + i * C, nullptr, C);
    normalize_row(xr, y + i * C, w, b, C, mo, eps);
  }
}

void layernorm_generic(const float* x, float* y, const float* w, const float* b, int64_t rows,
                       int C, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * C;
    Moments mo = row_moments<false>(nullptr, nullptr, xr, C);
    normalize_row(xr, y + i * C, w, b, C, mo, eps);
  }
}

}  // namespace detail

namespace {
// Runs body(offset, n) over chunks of kRowsPerChunk rows of C floats, in parallel when the
// tensor is big enough to pay for the threads.
template <class Body>
void for_row_chunks(int64_t rows, int C, Body body) {
#pragma omp parallel for schedule(static) if (rows * C > (1 << 15))
  for (int64_t i = 0; i < rows; i += kRowsPerChunk) body(i * C, std::min(kRowsPerChunk, rows - i));
}
}  // namespace

void add_layernorm(float* x, const float* r, float* y, const float* w, const float* b,
                   int64_t rows, int C, float eps) {
  if (rows <= 0 || C <= 0) return;
  const bool wide = isa_level() >= IsaLevel::avx512;
  for_row_chunks(rows, C, [&](int64_t o, int64_t n) {
    if (wide)
      detail::add_layernorm_avx512(x + o, r + o, y + o, w, b, n, C, eps);
    else
      detail::add_layernorm_generic(x + o, r + o, y + o, w, b, n, C, eps);
  });
}

void layernorm(const float* x, float* y, const float* w, const float* b, int64_t rows, int C,
               float eps) {
  if (rows <= 0 || C <= 0) return;
  const bool wide = isa_level() >= IsaLevel::avx512;
  for_row_chunks(rows, C, [&](int64_t o, int64_t n) {
    if (wide)
      detail::layernorm_avx512(x + o, y + o, w, b, n, C, eps);
    else
      detail::layernorm_generic(x + o, y + o, w, b, n, C, eps);
  });
}

}  // namespace vggt::ops

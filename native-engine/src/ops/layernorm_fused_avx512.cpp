// AVX-512 LayerNorm kernels; same algorithm as the generic ones in layernorm_fused.cpp.
// GCC 12 warns about the self-initialised __Y inside its own AVX-512 intrinsics (GCC bug
// 105593, fixed in 13); the warning points at the compiler headers, not at this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "ops/layernorm_fused.h"

namespace vggt::ops::detail {
namespace {

inline __mmask16 tail_mask(int left) {
  return static_cast<__mmask16>(left >= 16 ? 0xFFFF : (1u << left) - 1);
}

// Pass over memory: optional residual add (stored back), moments of d = s - s[0] in two
// independent accumulator pairs.
template <bool kAdd>
inline void moments(float* x, const float* r, const float* src, int C, float* sum, float* sumsq) {
  const float shift = kAdd ? x[0] + r[0] : src[0];
  const __m512 vs = _mm512_set1_ps(shift);
  __m512 a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
  __m512 b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps();
  int k = 0;
  auto load = [&](int kk, __mmask16 mk) {
    if constexpr (kAdd) {
      const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, x + kk), _mm512_maskz_loadu_ps(mk, r + kk));
      _mm512_mask_storeu_ps(x + kk, mk, v);
      return v;
    } else {
      return _mm512_maskz_loadu_ps(mk, src + kk);
    }
  };
  for (; k + 32 <= C; k += 32) {
    const __m512 d0 = _mm512_sub_ps(load(k, 0xFFFF), vs);
    const __m512 d1 = _mm512_sub_ps(load(k + 16, 0xFFFF), vs);
    a1 = _mm512_add_ps(a1, d0);
    a2 = _mm512_fmadd_ps(d0, d0, a2);
    b1 = _mm512_add_ps(b1, d1);
    b2 = _mm512_fmadd_ps(d1, d1, b2);
  }
  for (; k < C; k += 16) {
    const __mmask16 mk = tail_mask(C - k);
    const __m512 d = _mm512_maskz_sub_ps(mk, load(k, mk), vs);
    a1 = _mm512_add_ps(a1, d);
    a2 = _mm512_fmadd_ps(d, d, a2);
  }
  *sum = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
  *sumsq = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
}

inline void normalize(const float* s, float* y, const float* w, const float* b, int C, float sum,
                      float sumsq, float eps) {
  const float mean_d = sum / C;
  const float ex2 = sumsq / C;
  float var = ex2 - mean_d * mean_d;
  float mean = s[0] + mean_d;
  if (var * 16.0f < ex2) {  // see layernorm_fused.cpp: corrected two-pass from L1
    const __m512 vm0 = _mm512_set1_ps(mean);
    __m512 a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
    for (int k = 0; k < C; k += 16) {
      const __mmask16 mk = tail_mask(C - k);
      const __m512 d = _mm512_maskz_sub_ps(mk, _mm512_maskz_loadu_ps(mk, s + k), vm0);
      a1 = _mm512_add_ps(a1, d);
      a2 = _mm512_fmadd_ps(d, d, a2);
    }
    const float corr = _mm512_reduce_add_ps(a1) / C;
    mean += corr;
    var = _mm512_reduce_add_ps(a2) / C - corr * corr;
  }
  const __m512 vm = _mm512_set1_ps(mean);
  const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(std::max(var, 0.0f) + eps));
  for (int k = 0; k < C; k += 16) {
    const __mmask16 mk = tail_mask(C - k);
    __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, s + k), vm), rstd);
    if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk, w + k));
    if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, b + k));
    _mm512_mask_storeu_ps(y + k, mk, v);
  }
}

}  // namespace

void add_layernorm_avx512(float* x, const float* r, float* y, const float* w, const float* b,
                          int64_t rows, int C, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    float* xr = x + i * C;
    float s1, s2;
    moments<true>(xr, r + i * C, nullptr, C, &s1, &s2);
    normalize(xr, y + i * C, w, b, C, s1, s2, eps);
  }
}

void layernorm_avx512(const float* x, float* y, const float* w, const float* b, int64_t rows,
                      int C, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * C;
    float s1, s2;
    moments<false>(nullptr, nullptr, xr, C, &s1, &s2);
    normalize(xr, y + i * C, w, b, C, s1, s2, eps);
  }
}

}  // namespace vggt::ops::detail

// AVX-512 helpers of the low-precision Linear layers: activation conversion to bf16/int8 and
// int32 -> fp32 dequantisation. Bit-identical to the generic versions in linear_lowp.cpp.
// GCC 12 warns about the self-initialised __Y inside its own AVX-512 intrinsics (GCC bug
// 105593, fixed in 13); the warning points at the compiler headers, not at this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "ops/linear_lowp.h"

namespace vggt::ops::detail {

static inline __mmask16 tail_mask(int64_t left) {
  return static_cast<__mmask16>(left >= 16 ? 0xFFFF : (1u << left) - 1);
}

void f32_to_bf16_avx512(const float* x, int64_t n, uint16_t* out) {
  // Integer round-to-nearest-even (vcvtneps2bf16 would flush subnormals, unlike the generic
  // path); NaNs are kept quiet.
  const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mk = tail_mask(n - i);
    const __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(mk, x + i));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, lsb)), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
    _mm256_mask_storeu_epi16(out + i, mk, _mm512_cvtepi32_epi16(r));
  }
}

void quantize_rows_s8_avx512(const float* x, int64_t M, int K, int8_t* q, float* scale) {
  for (int64_t m = 0; m < M; ++m) {
    const float* xr = x + m * K;
    int8_t* qr = q + m * K;
    __m512 vmax = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16)
      vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(K - k), xr + k)));
    const float amax = _mm512_reduce_max_ps(vmax);
    if (!(amax > 0.0f) || !std::isfinite(amax)) {
      quantize_rows_s8_generic(xr, 1, K, qr, scale + m);  // same special-case handling
      continue;
    }
    const __m512 inv = _mm512_set1_ps(127.0f / amax);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    scale[m] = amax / 127.0f;
    for (int k = 0; k < K; k += 16) {
      const __mmask16 mk = tail_mask(K - k);
      __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xr + k), inv);
      v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
      const __m512i iv = _mm512_cvtps_epi32(v);  // round to nearest even (MXCSR default)
      _mm_mask_storeu_epi8(qr + k, mk, _mm512_cvtsepi32_epi8(iv));
    }
  }
}

void dequantize_rows_avx512(const int32_t* acc, int64_t M, int N, const float* sx,
                            const float* sw, const float* b, float* y) {
  for (int64_t m = 0; m < M; ++m) {
    const int32_t* a = acc + m * N;
    float* yr = y + m * N;
    const __m512 s = _mm512_set1_ps(sx[m]);
    for (int n = 0; n < N; n += 16) {
      const __mmask16 mk = tail_mask(N - n);
      const __m512 av = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(mk, a + n));
      const __m512 sc = _mm512_mul_ps(s, _mm512_maskz_loadu_ps(mk, sw + n));
      __m512 v = _mm512_mul_ps(av, sc);
      if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, b + n));
      _mm512_mask_storeu_ps(yr + n, mk, v);
    }
  }
}

}  // namespace vggt::ops::detail

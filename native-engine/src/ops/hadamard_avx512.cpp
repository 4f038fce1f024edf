// AVX-512 fast Walsh-Hadamard transform: the four in-register stages (h = 1, 2, 4, 8) by lane
// permutes, the rest as whole-vector butterflies. Same additions as fwht_generic, in the same
// order per element, so the results are bit-identical.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "ops/hadamard.h"

namespace vggt::ops::detail {

void fwht_avx512(float* x, int n) {
  // Lane j of stage h: j & h ? x[j^h] - x[j] : x[j] + x[j^h].
  const __m512i p1 = _mm512_setr_epi32(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
  const __m512i p2 = _mm512_setr_epi32(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
  const __m512i p4 = _mm512_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
  const __m512i p8 = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  const __mmask16 m1 = 0xAAAA, m2 = 0xCCCC, m4 = 0xF0F0, m8 = 0xFF00;
  auto stage = [](__m512 v, __m512i perm, __mmask16 hi) {
    const __m512 s = _mm512_permutexvar_ps(perm, v);
    // low lanes: v + s; high lanes: s - v
    return _mm512_mask_sub_ps(_mm512_add_ps(v, s), hi, s, v);
  };
  for (int i = 0; i < n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    v = stage(v, p1, m1);
    v = stage(v, p2, m2);
    v = stage(v, p4, m4);
    v = stage(v, p8, m8);
    _mm512_storeu_ps(x + i, v);
  }
  for (int h = 16; h < n; h <<= 1)
    for (int i = 0; i < n; i += 2 * h)
      for (int j = i; j < i + h; j += 16) {
        const __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + h);
        _mm512_storeu_ps(x + j, _mm512_add_ps(a, b));
        _mm512_storeu_ps(x + j + h, _mm512_sub_ps(a, b));
      }
}

}  // namespace vggt::ops::detail

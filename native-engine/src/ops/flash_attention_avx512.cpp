// AVX-512 flash attention (compiled with -mavx512f/bw/vl/dq -mfma; run only when
// isa_level() says the CPU has them).
// GCC 12 warns about the self-initialised __Y inside its own AVX-512 intrinsics (GCC bug
// 105593, fixed in 13); the warning points at the compiler headers, not at this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>

#include "core/cpu_features.h"
#include "ops/exp_avx512.h"
#include "ops/flash_attention.h"
#include "ops/scratch_buffer.h"

namespace vggt::ops::detail {
namespace {

// Must match flash_attention.cpp (flash_attention_scratch_bytes accounts for both paths).
// A 64x64 score tile (16 KiB) with the 64-key K^T and V slices (16 KiB each for D=64) keep
// the inner loops in Zen 4's 32 KiB L1 / 1 MiB L2; 64 query rows per task give 32 flop per
// byte of K/V streamed from L3.
constexpr int kBR = 64;
constexpr int kBC = 64;
constexpr int kRB = 6;  // register block: 6 rows x 4 zmm = 24 accumulators

using Buffer = ScratchBuffer;

Buffer alloc_floats(size_t n) { return scratch_bytes(n * sizeof(float)); }

void pack_kt_tile(const float* k, float* kp, int N, int D, int tile) {
  const int j0 = tile * kBC, nc = std::min(kBC, N - j0);
  for (int d = 0; d < D; ++d) {
    float* dst = kp + static_cast<size_t>(d) * kBC;
    for (int c = 0; c < nc; ++c) dst[c] = k[static_cast<size_t>(j0 + c) * D + d];
    for (int c = nc; c < kBC; ++c) dst[c] = 0.0f;
  }
}

// s[RB][64] = qs[RB][D] * kt[D][64]
template <int RB>
inline void qk_block(const float* qs, const float* kt, float* s, int D) {
  __m512 acc[RB][4];
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < 4; ++i) acc[r][i] = _mm512_setzero_ps();
  for (int d = 0; d < D; ++d) {
    const float* kd = kt + static_cast<size_t>(d) * kBC;
    const __m512 k0 = _mm512_load_ps(kd), k1 = _mm512_load_ps(kd + 16);
    const __m512 k2 = _mm512_load_ps(kd + 32), k3 = _mm512_load_ps(kd + 48);
    for (int r = 0; r < RB; ++r) {
      const __m512 qb = _mm512_set1_ps(qs[static_cast<size_t>(r) * D + d]);
      acc[r][0] = _mm512_fmadd_ps(qb, k0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(qb, k1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(qb, k2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(qb, k3, acc[r][3]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < 4; ++i) _mm512_store_ps(s + r * kBC + 16 * i, acc[r][i]);
}

// o[RB][c0:c0+16*NV] = o * alpha[r] + p[RB][0:nc] * v[0:nc][c0:...]; last vector masked.
template <int RB, int NV>
inline void pv_block(const float* p, const float* v, int nc, int D, float* o, const float* alpha,
                     __mmask16 tail) {
  __m512 acc[RB][NV];
  for (int r = 0; r < RB; ++r) {
    const __m512 a = _mm512_set1_ps(alpha[r]);
    for (int i = 0; i < NV; ++i) {
      const __mmask16 mk = i == NV - 1 ? tail : 0xFFFF;
      acc[r][i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, o + static_cast<size_t>(r) * D + 16 * i), a);
    }
  }
  for (int j = 0; j < nc; ++j) {
    __m512 vj[NV];
    for (int i = 0; i < NV; ++i) {
      const __mmask16 mk = i == NV - 1 ? tail : 0xFFFF;
      vj[i] = _mm512_maskz_loadu_ps(mk, v + static_cast<size_t>(j) * D + 16 * i);
    }
    for (int r = 0; r < RB; ++r) {
      const __m512 pb = _mm512_set1_ps(p[r * kBC + j]);
      for (int i = 0; i < NV; ++i) acc[r][i] = _mm512_fmadd_ps(pb, vj[i], acc[r][i]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < NV; ++i) {
      const __mmask16 mk = i == NV - 1 ? tail : 0xFFFF;
      _mm512_mask_storeu_ps(o + static_cast<size_t>(r) * D + 16 * i, mk, acc[r][i]);
    }
}

template <int RB>
inline void pv_rows(const float* p, const float* v, int nc, int D, float* o, const float* alpha) {
  for (int c0 = 0; c0 < D; c0 += 64) {
    const int w = std::min(64, D - c0);
    const int nv = (w + 15) / 16;
    const int rem = w - (nv - 1) * 16;
    const __mmask16 tail = static_cast<__mmask16>(rem == 16 ? 0xFFFF : (1u << rem) - 1);
    switch (nv) {
      case 1: pv_block<RB, 1>(p, v + c0, nc, D, o + c0, alpha, tail); break;
      case 2: pv_block<RB, 2>(p, v + c0, nc, D, o + c0, alpha, tail); break;
      case 3: pv_block<RB, 3>(p, v + c0, nc, D, o + c0, alpha, tail); break;
      default: pv_block<RB, 4>(p, v + c0, nc, D, o + c0, alpha, tail); break;
    }
  }
}

template <int RB>
inline void row_block(const float* qs, const float* kt, float* s, const float* v, int nc, int D,
                      float* o, float* m, float* l, float* alpha) {
  qk_block<RB>(qs, kt, s, D);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int r = 0; r < RB; ++r) {
    float* sr = s + r * kBC;
    __m512 x[4];
    for (int i = 0; i < 4; ++i) {
      // Padded keys (zeros in K^T) must not take part in the softmax.
      const __mmask16 valid =
          _mm512_cmplt_epi32_mask(_mm512_add_epi32(lane, _mm512_set1_epi32(16 * i)),
                                  _mm512_set1_epi32(nc));
      x[i] = _mm512_mask_blend_ps(valid, ninf, _mm512_load_ps(sr + 16 * i));
    }
    const float tile_max =
        _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(x[0], x[1]), _mm512_max_ps(x[2], x[3])));
    const float mx = std::max(m[r], tile_max);
    const __m512 vmx = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      const __m512 e = exp512(_mm512_sub_ps(x[i], vmx));
      _mm512_store_ps(sr + 16 * i, e);
      sum = _mm512_add_ps(sum, e);
    }
    const float a = _mm512_cvtss_f32(exp512(_mm512_set1_ps(m[r] - mx)));
    alpha[r] = a;
    l[r] = l[r] * a + _mm512_reduce_add_ps(sum);
    m[r] = mx;
  }
  pv_rows<RB>(s, v, nc, D, o, alpha);
}

struct TaskScratch {
  float* qs;  // [kBR][D]
  float* o;   // [kBR][D]
  float* s;   // [kBR][kBC]
  float* m;   // [kBR]
  float* l;   // [kBR]
};

void flash_task(const float* q, const float* kp, const float* v, float* out, int N, int D, int H,
                int h, int r0, float scale, const TaskScratch& ws) {
  const int nr = std::min(kBR, N - r0);
  const int ntiles = (N + kBC - 1) / kBC;
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int r = 0; r < nr; ++r) {
    const float* qr = q + static_cast<size_t>(r0 + r) * D;
    float* qsr = ws.qs + static_cast<size_t>(r) * D;
    float* orow = ws.o + static_cast<size_t>(r) * D;
    for (int d = 0; d < D; d += 16) {
      const __mmask16 mk = static_cast<__mmask16>(D - d >= 16 ? 0xFFFF : (1u << (D - d)) - 1);
      _mm512_mask_storeu_ps(qsr + d, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, qr + d), vscale));
      _mm512_mask_storeu_ps(orow + d, mk, _mm512_setzero_ps());
    }
    ws.m[r] = -std::numeric_limits<float>::infinity();
    ws.l[r] = 0.0f;
  }
  float alpha[kRB];
  for (int t = 0; t < ntiles; ++t) {
    const int j0 = t * kBC, nc = std::min(kBC, N - j0);
    const float* kt = kp + static_cast<size_t>(t) * D * kBC;
    const float* vt = v + static_cast<size_t>(j0) * D;
    for (int rb = 0; rb < nr; rb += kRB) {
      const size_t qo = static_cast<size_t>(rb) * D;
      float* s = ws.s + static_cast<size_t>(rb) * kBC;
      switch (std::min(kRB, nr - rb)) {
        case 1: row_block<1>(ws.qs + qo, kt, s, vt, nc, D, ws.o + qo, ws.m + rb, ws.l + rb, alpha); break;
        case 2: row_block<2>(ws.qs + qo, kt, s, vt, nc, D, ws.o + qo, ws.m + rb, ws.l + rb, alpha); break;
        case 3: row_block<3>(ws.qs + qo, kt, s, vt, nc, D, ws.o + qo, ws.m + rb, ws.l + rb, alpha); break;
        case 4: row_block<4>(ws.qs + qo, kt, s, vt, nc, D, ws.o + qo, ws.m + rb, ws.l + rb, alpha); break;
        case 5: row_block<5>(ws.qs + qo, kt, s, vt, nc, D, ws.o + qo, ws.m + rb, ws.l + rb, alpha); break;
        default: row_block<6>(ws.qs + qo, kt, s, vt, nc, D, ws.o + qo, ws.m + rb, ws.l + rb, alpha); break;
      }
    }
  }
  for (int r = 0; r < nr; ++r) {
    const __m512 inv = _mm512_set1_ps(1.0f / ws.l[r]);
    const float* orow = ws.o + static_cast<size_t>(r) * D;
    float* dst = out + (static_cast<size_t>(r0 + r) * H + h) * D;
    for (int d = 0; d < D; d += 16) {
      const __mmask16 mk = static_cast<__mmask16>(D - d >= 16 ? 0xFFFF : (1u << (D - d)) - 1);
      _mm512_mask_storeu_ps(dst + d, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, orow + d), inv));
    }
  }
}

}  // namespace

void flash_exp_avx512(const float* x, float* y, int n) {
  for (int i = 0; i < n; i += 16) {
    const __mmask16 mk = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, mk, exp512(_mm512_maskz_loadu_ps(mk, x + i)));
  }
}

void flash_attention_avx512(const float* q, const float* k, const float* v, float* out, int B,
                            int H, int N, int D, float scale) {
  if (detected_isa() < IsaLevel::avx512) {  // never run AVX-512 code on a CPU without it
    flash_attention_avx2(q, k, v, out, B, H, N, D, scale);
    return;
  }
  if (B <= 0 || H <= 0 || N <= 0 || D <= 0) return;
  const int BH = B * H;
  const int ntiles = (N + kBC - 1) / kBC;
  const int nqt = (N + kBR - 1) / kBR;
  const size_t head = static_cast<size_t>(N) * D;
  const size_t head_kp = static_cast<size_t>(ntiles) * kBC * D;
  Buffer kp = alloc_floats(static_cast<size_t>(BH) * head_kp);
  float* kpp = scratch_data<float>(kp);
#pragma omp parallel
  {
#pragma omp for collapse(2) schedule(static)
    for (int bh = 0; bh < BH; ++bh)
      for (int t = 0; t < ntiles; ++t)
        pack_kt_tile(k + bh * head, kpp + bh * head_kp + static_cast<size_t>(t) * kBC * D, N, D, t);
    Buffer mine = alloc_floats(static_cast<size_t>(kBR) * D * 2 + static_cast<size_t>(kBR) * kBC +
                               2 * kBR);
    TaskScratch ws;
    ws.qs = scratch_data<float>(mine);
    ws.o = ws.qs + static_cast<size_t>(kBR) * D;
    ws.s = ws.o + static_cast<size_t>(kBR) * D;
    ws.m = ws.s + static_cast<size_t>(kBR) * kBC;
    ws.l = ws.m + kBR;
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int bh = 0; bh < BH; ++bh)
      for (int qt = 0; qt < nqt; ++qt) {
        const int b = bh / H, h = bh % H;
        flash_task(q + bh * head, kpp + bh * head_kp, v + bh * head,
                   out + static_cast<size_t>(b) * N * H * D, N, D, H, h, qt * kBR, scale, ws);
      }
  }
}

}  // namespace vggt::ops::detail

#include "ops/flash_attention.h"
#include "ops/scratch_buffer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#include <oneapi/dnnl/dnnl.h>

#include "core/cpu_features.h"

namespace vggt::ops {
namespace {

// Portable tiles: a 64x64 score tile plus the 64-key K^T/V slices stay in L1/L2.
constexpr int kBR = 64;  // query rows per task
constexpr int kBC = 64;  // keys per tile

using Buffer = ScratchBuffer;

Buffer alloc_floats(size_t n) { return scratch_bytes(n * sizeof(float)); }

#define VGGT_INLINE inline __attribute__((always_inline))

// Same algorithm as the AVX-512 kernel's exp (see flash_attention_avx512.cpp), written so
// the compiler vectorises it: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, Taylor
// degree 7 for e^r (truncation < 2^-27 relative), 2^n from the exponent bits.
VGGT_INLINE float exp_poly(float x) {
  const float lo = -87.33654f;  // below: result would be subnormal; flush to 0
  float xc = x < lo ? lo : x;
  float t = xc * 1.44269504088896341f + 12582912.0f;  // round-to-nearest via 1.5*2^23
  float n = t - 12582912.0f;
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  float p = 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, sizeof(two_n));
  return x < lo ? 0.0f : p * two_n;
}

// Packs K^T per (b,h) in key tiles: kp[bh][tile][d][c] = k[bh][tile*kBC + c][d], zero padded.
VGGT_INLINE void pack_kt_tile(const float* k, float* kp, int N, int D, int tile) {
  const int j0 = tile * kBC, nc = std::min(kBC, N - j0);
  for (int d = 0; d < D; ++d) {
    float* dst = kp + static_cast<size_t>(d) * kBC;
    for (int c = 0; c < nc; ++c) dst[c] = k[static_cast<size_t>(j0 + c) * D + d];
    for (int c = nc; c < kBC; ++c) dst[c] = 0.0f;
  }
}

struct TaskScratch {
  float* qs;  // [kBR][D] scaled queries
  float* o;   // [kBR][D] running output
  float* s;   // [kBR][kBC] scores / probabilities
  float* m;   // [kBR] running max
  float* l;   // [kBR] running sum
};

// One (b,h, query tile) task. The loops keep the contiguous index innermost so -O3
// vectorises them for whatever target the caller was compiled for.
VGGT_INLINE void flash_task(const float* q, const float* kp, const float* v, float* out, int N,
                            int D, int H, int h, int r0, float scale, const TaskScratch& ws) {
  const int nr = std::min(kBR, N - r0);
  const int ntiles = (N + kBC - 1) / kBC;
  for (int r = 0; r < nr; ++r) {
    const float* qr = q + static_cast<size_t>(r0 + r) * D;
    float* qsr = ws.qs + static_cast<size_t>(r) * D;
    for (int d = 0; d < D; ++d) qsr[d] = qr[d] * scale;
    std::fill(ws.o + static_cast<size_t>(r) * D, ws.o + static_cast<size_t>(r + 1) * D, 0.0f);
    ws.m[r] = -std::numeric_limits<float>::infinity();
    ws.l[r] = 0.0f;
  }
  for (int t = 0; t < ntiles; ++t) {
    const int j0 = t * kBC, nc = std::min(kBC, N - j0);
    const float* kt = kp + static_cast<size_t>(t) * D * kBC;
    for (int r = 0; r < nr; ++r) {
      float* sr = ws.s + static_cast<size_t>(r) * kBC;
      const float* qsr = ws.qs + static_cast<size_t>(r) * D;
      for (int c = 0; c < kBC; ++c) sr[c] = 0.0f;
      for (int d = 0; d < D; ++d) {
        const float qd = qsr[d];
        const float* kd = kt + static_cast<size_t>(d) * kBC;
        for (int c = 0; c < kBC; ++c) sr[c] += qd * kd[c];
      }
      float mx = ws.m[r];
      for (int c = 0; c < nc; ++c) mx = std::max(mx, sr[c]);
      const float alpha = exp_poly(ws.m[r] - mx);
      float sum = 0.0f;
      for (int c = 0; c < nc; ++c) {
        sr[c] = exp_poly(sr[c] - mx);
        sum += sr[c];
      }
      ws.m[r] = mx;
      ws.l[r] = ws.l[r] * alpha + sum;
      float* orow = ws.o + static_cast<size_t>(r) * D;
      for (int d = 0; d < D; ++d) orow[d] *= alpha;
      for (int c = 0; c < nc; ++c) {
        const float p = sr[c];
        const float* vr = v + static_cast<size_t>(j0 + c) * D;
        for (int d = 0; d < D; ++d) orow[d] += p * vr[d];
      }
    }
  }
  for (int r = 0; r < nr; ++r) {
    const float inv = 1.0f / ws.l[r];
    const float* orow = ws.o + static_cast<size_t>(r) * D;
    float* dst = out + (static_cast<size_t>(r0 + r) * H + h) * D;
    for (int d = 0; d < D; ++d) dst[d] = orow[d] * inv;
  }
}

using TaskFn = void (*)(const float*, const float*, const float*, float*, int, int, int, int, int,
                        float, const TaskScratch&);
using PackFn = void (*)(const float*, float*, int, int, int);

void task_generic(const float* q, const float* kp, const float* v, float* out, int N, int D, int H,
                  int h, int r0, float scale, const TaskScratch& ws) {
  flash_task(q, kp, v, out, N, D, H, h, r0, scale, ws);
}
void pack_generic(const float* k, float* kp, int N, int D, int tile) {
  pack_kt_tile(k, kp, N, D, tile);
}
// Same source compiled for AVX2+FMA (the always-inline bodies take the caller's target).
__attribute__((target("avx2,fma"))) void task_avx2(const float* q, const float* kp,
                                                    const float* v, float* out, int N, int D,
                                                    int H, int h, int r0, float scale,
                                                    const TaskScratch& ws) {
  flash_task(q, kp, v, out, N, D, H, h, r0, scale, ws);
}
__attribute__((target("avx2,fma"))) void pack_avx2(const float* k, float* kp, int N, int D,
                                                    int tile) {
  pack_kt_tile(k, kp, N, D, tile);
}

size_t packed_k_floats(int B, int H, int N, int D) {
  const size_t ntiles = (static_cast<size_t>(N) + kBC - 1) / kBC;
  return static_cast<size_t>(B) * H * ntiles * kBC * D;
}
size_t task_scratch_floats(int D) {
  return static_cast<size_t>(kBR) * D * 2 + static_cast<size_t>(kBR) * kBC + 2 * kBR;
}

void flash_portable(TaskFn task, PackFn pack, const float* q, const float* k, const float* v,
                    float* out, int B, int H, int N, int D, float scale) {
  if (B <= 0 || H <= 0 || N <= 0 || D <= 0) return;
  const int BH = B * H;
  const int ntiles = (N + kBC - 1) / kBC;
  const int nqt = (N + kBR - 1) / kBR;
  const size_t head = static_cast<size_t>(N) * D;
  const size_t head_kp = static_cast<size_t>(ntiles) * kBC * D;
  Buffer kp = alloc_floats(packed_k_floats(B, H, N, D));
  float* kpp = scratch_data<float>(kp);
#pragma omp parallel
  {
#pragma omp for collapse(2) schedule(static)
    for (int bh = 0; bh < BH; ++bh)
      for (int t = 0; t < ntiles; ++t)
        pack(k + bh * head, kpp + bh * head_kp + static_cast<size_t>(t) * kBC * D, N, D, t);
    Buffer mine = alloc_floats(task_scratch_floats(D));
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
        task(q + bh * head, kpp + bh * head_kp, v + bh * head,
             out + static_cast<size_t>(b) * N * H * D, N, D, H, h, qt * kBR, scale, ws);
      }
  }
}

}  // namespace

float flash_exp_approx(float x) { return exp_poly(x); }

namespace detail {
void flash_attention_generic(const float* q, const float* k, const float* v, float* out, int B,
                             int H, int N, int D, float scale) {
  flash_portable(task_generic, pack_generic, q, k, v, out, B, H, N, D, scale);
}
void flash_attention_avx2(const float* q, const float* k, const float* v, float* out, int B,
                          int H, int N, int D, float scale) {
  if (detected_isa() < IsaLevel::avx2) {  // never run AVX2 code on a CPU without it
    flash_attention_generic(q, k, v, out, B, H, N, D, scale);
    return;
  }
  flash_portable(task_avx2, pack_avx2, q, k, v, out, B, H, N, D, scale);
}
}  // namespace detail

void flash_attention(const float* q, const float* k, const float* v, float* out, int B, int H,
                     int N, int D, float scale) {
  switch (isa_level()) {
    case IsaLevel::avx512:
      detail::flash_attention_avx512(q, k, v, out, B, H, N, D, scale);
      return;
    case IsaLevel::avx2:
      detail::flash_attention_avx2(q, k, v, out, B, H, N, D, scale);
      return;
    default:
      detail::flash_attention_generic(q, k, v, out, B, H, N, D, scale);
  }
}

size_t flash_attention_scratch_bytes(int B, int H, int N, int D, int threads) {
  // Both flash paths share this layout (the AVX-512 kernel uses the same tile constants).
  return (packed_k_floats(B, H, N, D) + static_cast<size_t>(threads) * task_scratch_floats(D)) *
         sizeof(float);
}

bool flash_attention_bf16_native(int D) {
  return isa_level() >= IsaLevel::avx512 && cpu_features().avx512_bf16 && D % 16 == 0 && D <= 128;
}

void flash_attention_bf16(const float* q, const float* k, const float* v, float* out, int B, int H,
                          int N, int D, float scale) {
  if (flash_attention_bf16_native(D))
    detail::flash_attention_bf16_avx512(q, k, v, out, B, H, N, D, scale);
  else
    flash_attention(q, k, v, out, B, H, N, D, scale);
}

size_t flash_attention_bf16_scratch_bytes(int B, int H, int N, int D, int threads) {
  // Mirrors flash_attention_bf16_avx512.cpp: bf16-pair packed K and V tiles for every head,
  // plus per thread the bf16 queries, fp32 output rows, one register block of scores and
  // probabilities, row max/sum and alignment slack.
  if (!flash_attention_bf16_native(D)) return flash_attention_scratch_bytes(B, H, N, D, threads);
  constexpr size_t kRB = 6, kTile = 128;  // the bf16 kernel's register block and key tile
  const size_t ntiles = (static_cast<size_t>(N) + kTile - 1) / kTile;
  const size_t packed = static_cast<size_t>(B) * H * ntiles * kTile * D * 2 * sizeof(uint16_t);
  const size_t task = static_cast<size_t>(kBR) * D * 2 + static_cast<size_t>(kBR) * D * 4 +
                      kRB * kTile * 4 + kRB * kTile * 2 + kBR * 4 + kBR * 16 * 4 + 6 * 64;
  return packed + static_cast<size_t>(threads) * task;
}

size_t naive_attention_scratch_bytes(int B, int H, int N, int D, int threads) {
  (void)D;
  const int BH = B * H;
  const int par = BH >= threads ? threads : 1;
  return static_cast<size_t>(par) * N * N * sizeof(float);
}

void naive_attention(const float* q, const float* k, const float* v, float* out, int B, int H,
                     int N, int D, float scale) {
  if (B <= 0 || H <= 0 || N <= 0 || D <= 0) return;
  const int BH = B * H;
  const int threads = omp_get_max_threads();
  const size_t head = static_cast<size_t>(N) * D;
  const size_t nn = static_cast<size_t>(N) * N;
  // One head per thread when there are enough heads (sgemm then runs single-threaded inside
  // the parallel region); otherwise heads in turn with threaded sgemm.
  const bool per_thread = BH >= threads;
  auto one_head = [&](int bh, float* S, bool parallel_rows) {
    const int b = bh / H, h = bh % H;
    const float* qh = q + bh * head;
    const float* kh = k + bh * head;
    const float* vh = v + bh * head;
    dnnl_sgemm('N', 'T', N, N, D, scale, qh, D, kh, D, 0.0f, S, N);
#pragma omp parallel for if (parallel_rows) schedule(static)
    for (int i = 0; i < N; ++i) {
      float* row = S + static_cast<size_t>(i) * N;
      float mx = row[0];
      for (int j = 1; j < N; ++j) mx = std::max(mx, row[j]);
      double sum = 0.0;
      for (int j = 0; j < N; ++j) {
        row[j] = std::exp(row[j] - mx);
        sum += row[j];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int j = 0; j < N; ++j) row[j] *= inv;
    }
    float* oh = out + static_cast<size_t>(b) * N * H * D + static_cast<size_t>(h) * D;
    dnnl_sgemm('N', 'N', N, D, N, 1.0f, S, N, vh, D, 0.0f, oh, static_cast<int64_t>(H) * D);
  };
  if (per_thread) {
#pragma omp parallel
    {
      Buffer S = alloc_floats(nn);
#pragma omp for schedule(dynamic, 1)
      for (int bh = 0; bh < BH; ++bh) one_head(bh, scratch_data<float>(S), false);
    }
  } else {
    Buffer S = alloc_floats(nn);
    for (int bh = 0; bh < BH; ++bh) one_head(bh, scratch_data<float>(S), true);
  }
}

}  // namespace vggt::ops

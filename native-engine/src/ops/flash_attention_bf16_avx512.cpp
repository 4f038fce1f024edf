// Flash attention with bf16 dot products (AVX512-BF16 vdpbf16ps): Q K^T and P V take bf16
// inputs with fp32 accumulation; the online softmax (max, exp, sums, rescaling) and the output
// stay fp32. Same tiling as the fp32 kernel, half the multiply instructions per tile.
// GCC 12 warns about the self-initialised __Y inside its own AVX-512 intrinsics (GCC bug
// 105593, fixed in 13); the warning points at the compiler headers, not at this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>

#include "core/cpu_features.h"
#include "ops/flash_attention.h"
#include "ops/scratch_buffer.h"

namespace vggt::ops::detail {
namespace {

// A "word" is a pair of bf16 values, the unit vdpbf16ps multiplies and adds per fp32 lane.
// K tile: [D/2][kBC] words (word = two consecutive dims of one key) -> one 16-lane load gives
// 16 keys. V tile: [kBC/2][D] words (word = one dim of two consecutive keys) -> one load
// gives 16 dims. Q rows and P rows are plain bf16 rows, so a 32-bit broadcast is a word.
constexpr int kBR = kFlashQueryTile;  // query rows per task
constexpr int kBC = kFlashKeyTile;    // keys per tile
constexpr int kNV = kBC / 16;  // score vectors per row
constexpr int kRB = 6;   // register block: 6 rows x 4 zmm accumulators


// 2^x for the softmax, whose probabilities are then rounded to bf16 (2^-9 relative): x = n + r,
// |r| <= 1/2, 2^r by Taylor degree 5 in r ln2 (truncation < 2.5e-6 relative), 2^n by vscalefps.
// Inputs are clamped at -126 (so -inf gives 2^-126 ~ 1e-38, not 0: only padded keys reach it,
// and their V rows are zero). Half the instructions of exp512, which serves exact paths.
inline __m512 exp2_for_bf16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.3333558146e-3f);  // ln2^5 / 5!
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.6181291076e-3f));  // ln2^4 / 4!
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.5504108665e-2f));  // ln2^3 / 3!
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022650696e-1f));  // ln2^2 / 2!
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.9314718056e-1f));  // ln2
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512bh as_bh(__m512i x) { return reinterpret_cast<__m512bh>(x); }

// 16 floats -> 16 bf16 (round to nearest even), as 16-bit lanes of a ymm.
inline __m256i to_bf16(__m512 x) { return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(x)); }

// Words of one key tile of K: kw[dp][c] = (k[j0+c][2dp], k[j0+c][2dp+1]); zero past N.
void pack_k_tile(const float* k, uint32_t* kw, int N, int D, int tile) {
  const int j0 = tile * kBC, nc = std::min(kBC, N - j0), Dh = D / 2;
  alignas(64) uint32_t row[64];  // D <= 128 -> at most 64 words
  for (int c = 0; c < kBC; ++c) {
    if (c < nc) {
      const float* kr = k + static_cast<size_t>(j0 + c) * D;
      for (int d = 0; d < D; d += 16)
        _mm256_store_si256(reinterpret_cast<__m256i*>(row + d / 2), to_bf16(_mm512_loadu_ps(kr + d)));
    } else {
      std::fill(row, row + Dh, 0u);
    }
    for (int dp = 0; dp < Dh; ++dp) kw[static_cast<size_t>(dp) * kBC + c] = row[dp];
  }
}

// Words of one key tile of V: vw[cp][d] = (v[j0+2cp][d], v[j0+2cp+1][d]); zero past N.
void pack_v_tile(const float* v, uint32_t* vw, int N, int D, int tile) {
  const int j0 = tile * kBC;
  for (int cp = 0; cp < kBC / 2; ++cp) {
    const int a = j0 + 2 * cp, b = a + 1;
    uint32_t* dst = vw + static_cast<size_t>(cp) * D;
    for (int d = 0; d < D; d += 16) {
      const __m512 va = a < N ? _mm512_loadu_ps(v + static_cast<size_t>(a) * D + d) : _mm512_setzero_ps();
      const __m512 vb = b < N ? _mm512_loadu_ps(v + static_cast<size_t>(b) * D + d) : _mm512_setzero_ps();
      const __m512i lo = _mm512_cvtepu16_epi32(to_bf16(va));
      const __m512i hi = _mm512_slli_epi32(_mm512_cvtepu16_epi32(to_bf16(vb)), 16);
      _mm512_storeu_si512(dst + d, _mm512_or_si512(lo, hi));
    }
  }
}

// s[RB][half*64 : +64] = qw[RB][D/2] . kw[D/2][half*64 : +64]
template <int RB>
inline void qk_half(const uint32_t* qw, const uint32_t* kw, float* s, int Dh, int half) {
  kw += half * 64;
  s += half * 64;
  __m512 acc[RB][4];
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < 4; ++i) acc[r][i] = _mm512_setzero_ps();
  for (int dp = 0; dp < Dh; ++dp) {
    const uint32_t* kd = kw + static_cast<size_t>(dp) * kBC;
    const __m512bh k0 = as_bh(_mm512_load_si512(kd)), k1 = as_bh(_mm512_load_si512(kd + 16));
    const __m512bh k2 = as_bh(_mm512_load_si512(kd + 32)), k3 = as_bh(_mm512_load_si512(kd + 48));
    for (int r = 0; r < RB; ++r) {
      const __m512bh qb = as_bh(_mm512_set1_epi32(static_cast<int>(qw[static_cast<size_t>(r) * Dh + dp])));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], qb, k0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], qb, k1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], qb, k2);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], qb, k3);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < 4; ++i) _mm512_store_ps(s + r * kBC + 16 * i, acc[r][i]);
}

template <int RB>
inline void qk_block(const uint32_t* qw, const uint32_t* kw, float* s, int Dh, int nc) {
  qk_half<RB>(qw, kw, s, Dh, 0);
  if (nc > 64) qk_half<RB>(qw, kw, s, Dh, 1);
}

// o[RB][c0 : c0+16*NV] = o * alpha[r] + pw[RB][0:ncp] . vw[0:ncp][c0 : ...]
template <int RB, int NV>
inline void pv_block(const uint32_t* pw, const uint32_t* vw, int ncp, int D, float* o, const float* alpha) {
  __m512 acc[RB][NV];
  for (int r = 0; r < RB; ++r) {
    const __m512 a = _mm512_set1_ps(alpha[r]);
    for (int i = 0; i < NV; ++i) acc[r][i] = _mm512_mul_ps(_mm512_loadu_ps(o + static_cast<size_t>(r) * D + 16 * i), a);
  }
  for (int cp = 0; cp < ncp; ++cp) {
    __m512bh vj[NV];
    for (int i = 0; i < NV; ++i) vj[i] = as_bh(_mm512_loadu_si512(vw + static_cast<size_t>(cp) * D + 16 * i));
    for (int r = 0; r < RB; ++r) {
      const __m512bh pb = as_bh(_mm512_set1_epi32(static_cast<int>(pw[r * (kBC / 2) + cp])));
      for (int i = 0; i < NV; ++i) acc[r][i] = _mm512_dpbf16_ps(acc[r][i], pb, vj[i]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < NV; ++i) _mm512_storeu_ps(o + static_cast<size_t>(r) * D + 16 * i, acc[r][i]);
}

template <int RB>
inline void pv_rows(const uint32_t* pw, const uint32_t* vw, int ncp, int D, float* o, const float* alpha) {
  for (int c0 = 0; c0 < D; c0 += 64) {
    switch (std::min(4, (D - c0) / 16)) {
      case 1: pv_block<RB, 1>(pw, vw + c0, ncp, D, o + c0, alpha); break;
      case 2: pv_block<RB, 2>(pw, vw + c0, ncp, D, o + c0, alpha); break;
      case 3: pv_block<RB, 3>(pw, vw + c0, ncp, D, o + c0, alpha); break;
      default: pv_block<RB, 4>(pw, vw + c0, ncp, D, o + c0, alpha); break;
    }
  }
}

template <int RB>
inline void row_block(const uint32_t* qw, const uint32_t* kw, float* s, uint32_t* pw, const uint32_t* vw, int nc,
                      int D, float* o, float* m, float* l, const float* bias) {
  qk_block<RB>(qw, kw, s, D / 2, nc);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  float alpha[RB];
  for (int r = 0; r < RB; ++r) {
    const float* sr = s + r * kBC;
    __m512 x[kNV];
    for (int i = 0; i < kNV; ++i) x[i] = _mm512_load_ps(sr + 16 * i);
    if (bias)  // per-key additive logits (log2 units), e.g. a mean-fill key standing for many
      for (int i = 0; i < kNV; ++i) x[i] = _mm512_add_ps(x[i], _mm512_loadu_ps(bias + 16 * i));
    if (nc < kBC) {
      // Padded keys must not take part in the softmax.
      for (int i = 0; i < kNV; ++i) {
        const __mmask16 valid =
            _mm512_cmplt_epi32_mask(_mm512_add_epi32(lane, _mm512_set1_epi32(16 * i)), _mm512_set1_epi32(nc));
        x[i] = _mm512_mask_blend_ps(valid, ninf, x[i]);
      }
    }
    __m512 vmax = x[0];
    for (int i = 1; i < kNV; ++i) vmax = _mm512_max_ps(vmax, x[i]);
    const float mx = std::max(m[r], _mm512_reduce_max_ps(vmax));
    const __m512 vmx = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    uint32_t* pr = pw + r * (kBC / 2);
    for (int i = 0; i < kNV; i += 2) {
      const __m512 e0 = exp2_for_bf16(_mm512_sub_ps(x[i], vmx));
      const __m512 e1 = exp2_for_bf16(_mm512_sub_ps(x[i + 1], vmx));
      // The row sum uses the fp32 probabilities; P V sees them rounded to bf16 (unbiased RNE).
      _mm512_store_si512(pr + 8 * i, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(e1, e0)));
      sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
    }
    // The running max rarely moves after the first tiles: then the rescale factor is 1.
    const float a = mx == m[r] ? 1.0f : _mm512_cvtss_f32(exp2_for_bf16(_mm512_set1_ps(m[r] - mx)));
    alpha[r] = a;
    // Row sums stay as 16 partial lanes until the end (no horizontal add per tile).
    float* lr = l + r * 16;
    _mm512_store_ps(lr, _mm512_fmadd_ps(_mm512_load_ps(lr), _mm512_set1_ps(a), sum));
    m[r] = mx;
  }
  pv_rows<RB>(pw, vw, (nc + 1) / 2, D, o, alpha);
}

struct TaskScratch {
  uint32_t* qw;  // [kBR][D/2] scaled queries, bf16 pairs
  float* o;      // [kBR][D] running output
  float* s;      // [kRB][kBC] scores of one register block
  uint32_t* pw;  // [kRB][kBC/2] probabilities, bf16 pairs
  float* m;      // [kBR] running max (log2 units)
  float* l;      // [kBR][16] running sums, 16 partial lanes per row
};

// Must match flash_attention_bf16_scratch_bytes() in flash_attention.cpp (the same tiles).
size_t task_scratch_bytes(int D) {
  return static_cast<size_t>(kBR) * D * 2 + static_cast<size_t>(kBR) * D * 4 + kRB * kBC * 4 + kRB * kBC * 2 +
         kBR * 4 + kBR * 16 * 4 + 6 * 64;
}

TaskScratch carve(void* base, int D) {
  auto align = [](char* p) { return reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63}); };
  char* p = align(static_cast<char*>(base));
  TaskScratch ws;
  ws.qw = reinterpret_cast<uint32_t*>(p);
  p = align(p + static_cast<size_t>(kBR) * D * 2);
  ws.o = reinterpret_cast<float*>(p);
  p = align(p + static_cast<size_t>(kBR) * D * 4);
  ws.s = reinterpret_cast<float*>(p);
  p = align(p + kRB * kBC * 4);
  ws.pw = reinterpret_cast<uint32_t*>(p);
  p = align(p + kRB * kBC * 2);
  ws.l = reinterpret_cast<float*>(p);
  ws.m = ws.l + kBR * 16;
  return ws;
}

// One key segment of a task: packed tiles, optional per-key bias (log2 units, padded to whole
// tiles) and optional per-tile keep flags (skipped tiles are never computed).
struct KeySeg {
  const uint32_t* kw;
  const uint32_t* vw;
  int n;
  const float* bias;
  const uint8_t* keep;
};

// Query rows [r0, r0 + kBR) of one head (q: that head's [nq, D] rows) over the key segments;
// writes out[(r0 + r) * H + h][D].
void flash_task(const float* q, int nq, const KeySeg* segs, int nseg, float* out, int D, int H, int h, int r0,
                float scale, const TaskScratch& ws) {
  const int nr = std::min(kBR, nq - r0);
  const int Dh = D / 2;
  // log2(e) folded into the query scale: the softmax then runs on 2^x (see exp2_for_bf16).
  const __m512 vscale = _mm512_set1_ps(scale * 1.44269504088896341f);
  for (int r = 0; r < kBR; ++r) {
    // Rows past nq (last task) compute on zeros and are never written out.
    uint32_t* qwr = ws.qw + static_cast<size_t>(r) * Dh;
    float* orow = ws.o + static_cast<size_t>(r) * D;
    for (int d = 0; d < D; d += 16) {
      const __m512 x = r < nr ? _mm512_mul_ps(_mm512_loadu_ps(q + static_cast<size_t>(r0 + r) * D + d), vscale)
                              : _mm512_setzero_ps();
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qwr + d / 2), to_bf16(x));
      _mm512_storeu_ps(orow + d, _mm512_setzero_ps());
    }
    ws.m[r] = -std::numeric_limits<float>::infinity();
    _mm512_store_ps(ws.l + r * 16, _mm512_setzero_ps());
  }
  const size_t ktile = static_cast<size_t>(Dh) * kBC, vtile = static_cast<size_t>(kBC / 2) * D;
  for (int sg = 0; sg < nseg; ++sg) {
    const KeySeg& seg = segs[sg];
    const int ntiles = (seg.n + kBC - 1) / kBC;
    for (int t = 0; t < ntiles; ++t) {
      if (seg.keep && !seg.keep[t]) continue;
      const int nc = std::min(kBC, seg.n - t * kBC);
      const uint32_t* kt = seg.kw + t * ktile;
      const uint32_t* vt = seg.vw + t * vtile;
      const float* bt = seg.bias ? seg.bias + static_cast<size_t>(t) * kBC : nullptr;
      for (int rb = 0; rb < nr; rb += kRB) {
        const uint32_t* qo = ws.qw + static_cast<size_t>(rb) * Dh;
        float* oo = ws.o + static_cast<size_t>(rb) * D;
        switch (std::min(kRB, nr - rb)) {
          case 1: row_block<1>(qo, kt, ws.s, ws.pw, vt, nc, D, oo, ws.m + rb, ws.l + rb * 16, bt); break;
          case 2: row_block<2>(qo, kt, ws.s, ws.pw, vt, nc, D, oo, ws.m + rb, ws.l + rb * 16, bt); break;
          case 3: row_block<3>(qo, kt, ws.s, ws.pw, vt, nc, D, oo, ws.m + rb, ws.l + rb * 16, bt); break;
          case 4: row_block<4>(qo, kt, ws.s, ws.pw, vt, nc, D, oo, ws.m + rb, ws.l + rb * 16, bt); break;
          case 5: row_block<5>(qo, kt, ws.s, ws.pw, vt, nc, D, oo, ws.m + rb, ws.l + rb * 16, bt); break;
          default: row_block<6>(qo, kt, ws.s, ws.pw, vt, nc, D, oo, ws.m + rb, ws.l + rb * 16, bt); break;
        }
      }
    }
  }
  for (int r = 0; r < nr; ++r) {
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_load_ps(ws.l + r * 16)));
    const float* orow = ws.o + static_cast<size_t>(r) * D;
    float* dst = out + (static_cast<size_t>(r0 + r) * H + h) * D;
    for (int d = 0; d < D; d += 16) _mm512_storeu_ps(dst + d, _mm512_mul_ps(_mm512_loadu_ps(orow + d), inv));
  }
}

size_t packed_words(int N, int D) {
  const size_t ntiles = (static_cast<size_t>(N) + kBC - 1) / kBC;
  return ntiles * kBC * D / 2;  // per head, for K or for V
}
}  // namespace

void flash_attention_bf16_avx512(const float* q, const float* k, const float* v, float* out, int B, int H, int N,
                                 int D, float scale) {
  if (detected_isa() < IsaLevel::avx512 || !cpu_features().avx512_bf16 || D % 16 != 0 || D > 128) {  // never run AVX512-BF16 code without it
    flash_attention_avx512(q, k, v, out, B, H, N, D, scale);
    return;
  }
  if (B <= 0 || H <= 0 || N <= 0) return;
  const int BH = B * H;
  const int ntiles = (N + kBC - 1) / kBC;
  const int nqt = (N + kBR - 1) / kBR;
  const size_t head = static_cast<size_t>(N) * D;
  const size_t head_w = packed_words(N, D);
  const size_t ktile = static_cast<size_t>(D / 2) * kBC, vtile = static_cast<size_t>(kBC / 2) * D;
  ScratchBuffer packed = scratch_bytes(static_cast<size_t>(BH) * head_w * 2 * sizeof(uint32_t));
  uint32_t* kw = static_cast<uint32_t*>(packed.get());
  uint32_t* vw = kw + static_cast<size_t>(BH) * head_w;
#pragma omp parallel
  {
#pragma omp for collapse(2) schedule(static)
    for (int bh = 0; bh < BH; ++bh)
      for (int t = 0; t < ntiles; ++t) {
        pack_k_tile(k + bh * head, kw + bh * head_w + t * ktile, N, D, t);
        pack_v_tile(v + bh * head, vw + bh * head_w + t * vtile, N, D, t);
      }
    ScratchBuffer mine = scratch_bytes(task_scratch_bytes(D));
    const TaskScratch ws = carve(mine.get(), D);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int bh = 0; bh < BH; ++bh)
      for (int qt = 0; qt < nqt; ++qt) {
        const int b = bh / H, h = bh % H;
        const KeySeg seg{kw + bh * head_w, vw + bh * head_w, N, nullptr, nullptr};
        flash_task(q + bh * head, N, &seg, 1, out + static_cast<size_t>(b) * N * H * D, D, H, h, qt * kBR, scale, ws);
      }
  }
}

namespace {
bool bf16_kernel_usable(int D) {
  return detected_isa() >= IsaLevel::avx512 && cpu_features().avx512_bf16 && D % 16 == 0 && D <= 128;
}

// K and V of n keys ([n, D] rows) packed into whole tiles at kw/vw.
void pack_keys(const float* k, const float* v, int n, int D, uint32_t* kw, uint32_t* vw) {
  const size_t ktile = static_cast<size_t>(D / 2) * kBC, vtile = static_cast<size_t>(kBC / 2) * D;
  for (int t = 0; t * kBC < n; ++t) {
    pack_k_tile(k, kw + t * ktile, n, D, t);
    pack_v_tile(v, vw + t * vtile, n, D, t);
  }
}
}  // namespace

bool flash_bf16_sparse_native(int D) { return bf16_kernel_usable(D); }

void block_sparse_bf16_avx512(const float* q, const float* k, const float* v, float* out, int H, int N, int D,
                              float scale, const uint8_t* tile_keep, bool release_kv) {
  if (!bf16_kernel_usable(D)) throw std::logic_error("block_sparse_bf16_avx512: AVX512-BF16 kernel not usable");
  if (H <= 0 || N <= 0) return;
  const int nkt = (N + kBC - 1) / kBC, nqt = (N + kBR - 1) / kBR;
  const size_t head = static_cast<size_t>(N) * D, head_w = packed_words(N, D);
  ScratchBuffer packed = scratch_bytes(static_cast<size_t>(H) * head_w * 2 * sizeof(uint32_t));
  uint32_t* kw = static_cast<uint32_t*>(packed.get());
  uint32_t* vw = kw + static_cast<size_t>(H) * head_w;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int h = 0; h < H; ++h) {
      pack_keys(k + h * head, v + h * head, N, D, kw + h * head_w, vw + h * head_w);
      // At 200 frames k and v are 0.8 GiB each and their bf16 packing 0.8 GiB: released head by
      // head, the packing costs no RSS beyond them.
      if (release_kv) {
        release_pages(const_cast<float*>(k + h * head), head * sizeof(float));
        release_pages(const_cast<float*>(v + h * head), head * sizeof(float));
      }
    }
    ScratchBuffer mine = scratch_bytes(task_scratch_bytes(D));
    const TaskScratch ws = carve(mine.get(), D);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int h = 0; h < H; ++h)
      for (int qt = 0; qt < nqt; ++qt) {
        const KeySeg seg{kw + h * head_w, vw + h * head_w, N, nullptr,
                         tile_keep + (static_cast<size_t>(h) * nqt + qt) * nkt};
        flash_task(q + h * head, N, &seg, 1, out, D, H, h, qt * kBR, scale, ws);
      }
  }
}

void kv_subsample_bf16_avx512(const float* q, const float* k, const float* v, float* out, int H, int S, int P, int D,
                              float scale, const float* kc, const float* vc, const float* bias_c, int Nc,
                              const int* own_mean, const int32_t* dropped, int Ne) {
  if (!bf16_kernel_usable(D)) throw std::logic_error("kv_subsample_bf16_avx512: AVX512-BF16 kernel not usable");
  if (H <= 0 || S <= 0 || P <= 0) return;
  const int N = S * P;
  const size_t head = static_cast<size_t>(N) * D, cw = packed_words(Nc, D), ew = packed_words(std::max(Ne, 1), D);
  const size_t ctiles = (static_cast<size_t>(Nc) + kBC - 1) / kBC;
  ScratchBuffer packed = scratch_bytes(static_cast<size_t>(H) * cw * 2 * sizeof(uint32_t));
  uint32_t* kw = static_cast<uint32_t*>(packed.get());
  uint32_t* vw = kw + static_cast<size_t>(H) * cw;
  const int nqt = (P + kBR - 1) / kBR;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int h = 0; h < H; ++h)
      pack_keys(kc + static_cast<size_t>(h) * Nc * D, vc + static_cast<size_t>(h) * Nc * D, Nc, D, kw + h * cw,
                vw + h * cw);
    ScratchBuffer mine = scratch_bytes(task_scratch_bytes(D));
    const TaskScratch ws = carve(mine.get(), D);
    // Per task: this frame's dropped keys (gathered, packed) and the shared bias with the frame's
    // own mean-fill key masked out (its tokens are all present in full).
    ScratchBuffer ebuf = scratch_bytes(2 * ew * sizeof(uint32_t) + 2 * static_cast<size_t>(std::max(Ne, 1)) * D * sizeof(float) +
                                       ctiles * kBC * sizeof(float));
    uint32_t* ekw = static_cast<uint32_t*>(ebuf.get());
    uint32_t* evw = ekw + ew;
    float* ek = reinterpret_cast<float*>(evw + ew);
    float* ev = ek + static_cast<size_t>(std::max(Ne, 1)) * D;
    float* bias = ev + static_cast<size_t>(std::max(Ne, 1)) * D;
    constexpr float kLog2e = 1.44269504088896341f;
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int h = 0; h < H; ++h)
      for (int f = 0; f < S; ++f) {
        const float* kf = k + h * head + static_cast<size_t>(f) * P * D;
        const float* vf = v + h * head + static_cast<size_t>(f) * P * D;
        for (int e = 0; e < Ne; ++e) {
          std::copy_n(kf + static_cast<size_t>(dropped[e]) * D, D, ek + static_cast<size_t>(e) * D);
          std::copy_n(vf + static_cast<size_t>(dropped[e]) * D, D, ev + static_cast<size_t>(e) * D);
        }
        if (Ne > 0) pack_keys(ek, ev, Ne, D, ekw, evw);
        for (int c = 0; c < Nc; ++c) bias[c] = bias_c[c] * kLog2e;
        for (size_t c = Nc; c < ctiles * kBC; ++c) bias[c] = 0.f;
        if (own_mean[f] >= 0) bias[own_mean[f]] = -std::numeric_limits<float>::infinity();
        const KeySeg segs[2] = {{kw + h * cw, vw + h * cw, Nc, bias, nullptr}, {ekw, evw, Ne, nullptr, nullptr}};
        for (int qt = 0; qt < nqt; ++qt)
          flash_task(q + h * head + static_cast<size_t>(f) * P * D, P, segs, Ne > 0 ? 2 : 1,
                     out + static_cast<size_t>(f) * P * H * D, D, H, h, qt * kBR, scale, ws);
      }
  }
}

}  // namespace vggt::ops::detail

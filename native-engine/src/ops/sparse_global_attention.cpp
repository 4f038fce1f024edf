#include "ops/sparse_global_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "ops/flash_attention.h"

namespace vggt::ops {

namespace {
constexpr double kMasked = -std::numeric_limits<double>::infinity();

bool is_kept(int64_t tok, const FrameLayout& L, int stride) {
  const int64_t p = tok - L.special, r = p / L.wp, c = p % L.wp;
  return r % stride == 0 && c % stride == 0;
}

// Softmax attention of every query over N original keys plus n_extra extra keys, in double,
// with an additive logit bias(h, i, j) (kMasked = key not attended). The test oracle.
template <class Bias>
void masked_reference(const float* q, const float* k, const float* v, const float* ek, const float* ev,
                      int64_t n_extra, float* out, int64_t H, int64_t N, int64_t D, float scale, const Bias& bias) {
#pragma omp parallel
  {
    std::vector<double> s(N + n_extra), acc(D);
#pragma omp for collapse(2) schedule(dynamic, 16)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i) {
        const float* qi = q + (h * N + i) * D;
        double mx = kMasked;
        for (int64_t j = 0; j < N + n_extra; ++j) {
          const double b = bias(h, i, j);
          if (b == kMasked) {
            s[j] = kMasked;
            continue;
          }
          const float* kj = j < N ? k + (h * N + j) * D : ek + (h * n_extra + (j - N)) * D;
          double d = 0;
          for (int64_t t = 0; t < D; ++t) d += static_cast<double>(qi[t]) * kj[t];
          s[j] = d * scale + b;
          mx = std::max(mx, s[j]);
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        double sum = 0;
        for (int64_t j = 0; j < N + n_extra; ++j) {
          if (s[j] == kMasked) continue;
          const double p = std::exp(s[j] - mx);
          sum += p;
          const float* vj = j < N ? v + (h * N + j) * D : ev + (h * n_extra + (j - N)) * D;
          for (int64_t t = 0; t < D; ++t) acc[t] += p * vj[t];
        }
        float* o = out + (i * H + h) * D;
        for (int64_t t = 0; t < D; ++t) o[t] = static_cast<float>(acc[t] / sum);
      }
  }
}

void check_layout(const FrameLayout& L) {
  if (L.S < 1 || L.special < 0 || L.hp < 1 || L.wp < 1 || L.P != L.special + L.hp * L.wp)
    throw std::invalid_argument("sparse global attention: inconsistent frame layout");
}
}  // namespace

std::vector<int32_t> kv_kept_patches(const FrameLayout& L, int stride) {
  std::vector<int32_t> r;
  for (int64_t t = L.special; t < L.P; ++t)
    if (is_kept(t, L, stride)) r.push_back(static_cast<int32_t>(t));
  return r;
}

std::vector<int32_t> kv_dropped_patches(const FrameLayout& L, int stride) {
  std::vector<int32_t> r;
  for (int64_t t = L.special; t < L.P; ++t)
    if (!is_kept(t, L, stride)) r.push_back(static_cast<int32_t>(t));
  return r;
}

void kv_subsample_attention_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                      const FrameLayout& L, int64_t D, float scale, int stride) {
  check_layout(L);
  const int64_t N = L.tokens(), S = L.S, P = L.P;
  const std::vector<int32_t> dropped = kv_dropped_patches(L, stride);
  const int64_t nd = static_cast<int64_t>(dropped.size());
  // Mean-fill keys/values, one per frame: [H][S][D].
  std::vector<float> mk(H * S * D, 0.f), mv(H * S * D, 0.f);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t f = 0; f < S && nd > 0; ++f)
      for (int64_t t = 0; t < D; ++t) {
        double a = 0, b = 0;
        for (int32_t p : dropped) {
          a += k[(h * N + f * P + p) * D + t];
          b += v[(h * N + f * P + p) * D + t];
        }
        mk[(h * S + f) * D + t] = static_cast<float>(a / nd);
        mv[(h * S + f) * D + t] = static_cast<float>(b / nd);
      }
  std::vector<uint8_t> kept(P, 0);
  for (int64_t t = 0; t < L.special; ++t) kept[t] = 1;
  for (int32_t t : kv_kept_patches(L, stride)) kept[t] = 1;
  const double log_nd = nd > 0 ? std::log(static_cast<double>(nd)) : 0.0;
  masked_reference(q, k, v, mk.data(), mv.data(), S, out, H, N, D, scale, [&](int64_t, int64_t i, int64_t j) {
    const int64_t fi = i / P;
    if (j >= N) return (j - N == fi || nd == 0) ? kMasked : log_nd;
    if (j / P == fi) return 0.0;
    return kept[j % P] ? 0.0 : kMasked;
  });
}

int64_t kv_compact_keys(const float* k, const float* v, int64_t H, const FrameLayout& L, int64_t D, int stride,
                        std::vector<float>& kc, std::vector<float>& vc) {
  check_layout(L);
  const int64_t N = L.tokens(), S = L.S, P = L.P;
  const std::vector<int32_t> kept = kv_kept_patches(L, stride), dropped = kv_dropped_patches(L, stride);
  const int64_t nd = static_cast<int64_t>(dropped.size());
  const int64_t per = L.special + static_cast<int64_t>(kept.size()) + (nd > 0 ? 1 : 0), Nc = S * per;
  kc.assign(H * Nc * D, 0.f);
  vc.assign(H * Nc * D, 0.f);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t h = 0; h < H; ++h)
    for (int64_t f = 0; f < S; ++f) {
      const float* kf = k + (h * N + f * P) * D;
      const float* vf = v + (h * N + f * P) * D;
      float* kd = kc.data() + (h * Nc + f * per) * D;
      float* vd = vc.data() + (h * Nc + f * per) * D;
      int64_t c = 0;
      auto put = [&](int64_t tok) {
        std::copy_n(kf + tok * D, D, kd + c * D);
        std::copy_n(vf + tok * D, D, vd + c * D);
        ++c;
      };
      for (int64_t t = 0; t < L.special; ++t) put(t);
      for (int32_t t : kept) put(t);
      if (nd > 0) {
        std::vector<double> a(D, 0.0), b(D, 0.0);
        for (int32_t p : dropped)
          for (int64_t t = 0; t < D; ++t) {
            a[t] += kf[p * D + t];
            b[t] += vf[p * D + t];
          }
        for (int64_t t = 0; t < D; ++t) {
          kd[c * D + t] = static_cast<float>(a[t] / nd);
          vd[c * D + t] = static_cast<float>(b[t] / nd);
        }
      }
    }
  return per;
}

void kv_subsample_attention_shared_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                             const FrameLayout& L, int64_t D, float scale, int stride, const float* kc,
                                             const float* vc, int64_t S_total, int64_t frame0) {
  check_layout(L);
  const int64_t N = L.tokens(), P = L.P;
  const int64_t nd = static_cast<int64_t>(kv_dropped_patches(L, stride).size());
  const int64_t per = L.special + static_cast<int64_t>(kv_kept_patches(L, stride).size()) + (nd > 0 ? 1 : 0);
  const double log_nd = nd > 0 ? std::log(static_cast<double>(nd)) : 0.0;
  // Keys of a query in local frame fi: its own frame in full, then every other frame's shared keys.
  masked_reference(q, k, v, kc, vc, S_total * per, out, H, N, D, scale, [&](int64_t, int64_t i, int64_t j) {
    const int64_t fi = i / P;
    if (j < N) return j / P == fi ? 0.0 : kMasked;
    const int64_t c = j - N, g = c / per;
    if (g == frame0 + fi) return kMasked;  // its own frame is already there in full
    return (nd > 0 && c % per == per - 1) ? log_nd : 0.0;
  });
}

void kv_subsample_attention_shared(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out,
                                   int64_t H, const FrameLayout& L, int64_t D, float scale, int stride, const float* kc,
                                   const float* vc, int64_t S_total, int64_t frame0) {
  check_layout(L);
  if (frame0 < 0 || frame0 + L.S > S_total) throw std::invalid_argument("kv-subsample: frames outside the sequence");
  if (kernel != AttentionKernel::flash_bf16 || !flash_bf16_sparse_native(static_cast<int>(D))) {
    kv_subsample_attention_shared_reference(q, k, v, out, H, L, D, scale, stride, kc, vc, S_total, frame0);
    return;
  }
  const std::vector<int32_t> dropped = kv_dropped_patches(L, stride);
  const int64_t nd = static_cast<int64_t>(dropped.size());
  const int64_t per = L.special + static_cast<int64_t>(kv_kept_patches(L, stride).size()) + (nd > 0 ? 1 : 0);
  const int64_t Nc = S_total * per;
  // The kernel adds each query frame's dropped keys to the shared ones (its kept keys are shared)
  // and masks that frame's own mean-fill key.
  std::vector<float> bias(Nc, 0.f);
  std::vector<int> own_mean(L.S, -1);
  if (nd > 0) {
    for (int64_t g = 0; g < S_total; ++g) bias[g * per + per - 1] = static_cast<float>(std::log(static_cast<double>(nd)));
    for (int64_t f = 0; f < L.S; ++f) own_mean[f] = static_cast<int>((frame0 + f) * per + per - 1);
  }
  detail::kv_subsample_bf16_avx512(q, k, v, out, static_cast<int>(H), static_cast<int>(L.S), static_cast<int>(L.P),
                                   static_cast<int>(D), scale, kc, vc, bias.data(), static_cast<int>(Nc),
                                   own_mean.data(), dropped.data(), static_cast<int>(nd));
}

void kv_subsample_attention(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out,
                            int64_t H, const FrameLayout& L, int64_t D, float scale, int stride) {
  check_layout(L);
  if (kernel != AttentionKernel::flash_bf16 || !flash_bf16_sparse_native(static_cast<int>(D))) {
    kv_subsample_attention_reference(q, k, v, out, H, L, D, scale, stride);
    return;
  }
  std::vector<float> kc, vc;
  kv_compact_keys(k, v, H, L, D, stride, kc, vc);
  kv_subsample_attention_shared(kernel, q, k, v, out, H, L, D, scale, stride, kc.data(), vc.data(), L.S, 0);
}

std::vector<int64_t> special_first_order(const FrameLayout& L) {
  std::vector<int64_t> order;
  order.reserve(L.tokens());
  for (int64_t f = 0; f < L.S; ++f)
    for (int64_t t = 0; t < L.special; ++t) order.push_back(f * L.P + t);
  for (int64_t f = 0; f < L.S; ++f)
    for (int64_t t = L.special; t < L.P; ++t) order.push_back(f * L.P + t);
  return order;
}

std::vector<uint8_t> select_key_tiles(const float* qp, const float* kp, int64_t H, int64_t N, int64_t D, float scale,
                                      int64_t n_special, double keep, double cdf) {
  const int64_t QT = kFlashQueryTile, KT = kFlashKeyTile;
  const int64_t nqt = (N + QT - 1) / QT, nkt = (N + KT - 1) / KT;
  std::vector<uint8_t> sel(static_cast<size_t>(H * nqt * nkt), 0);
  // Key tiles wholly past the special tokens compete; the others are always kept.
  const int64_t first_cand = (n_special + KT - 1) / KT, ncand = nkt - first_cand;
  const int64_t n_keep = std::min<int64_t>(ncand, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(keep * ncand - 1e-9))));
#pragma omp parallel
  {
    std::vector<float> kbar(nkt * D), qbar(D);
    std::vector<double> z(std::max<int64_t>(ncand, 1));
    std::vector<int64_t> idx(std::max<int64_t>(ncand, 1));
#pragma omp for schedule(static)
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = qp + h * N * D;
      const float* kh = kp + h * N * D;
      for (int64_t t = 0; t < nkt; ++t) {
        const int64_t j0 = t * KT, j1 = std::min(N, j0 + KT);
        for (int64_t d = 0; d < D; ++d) {
          double a = 0;
          for (int64_t j = j0; j < j1; ++j) a += kh[j * D + d];
          kbar[t * D + d] = static_cast<float>(a / (j1 - j0));
        }
      }
      for (int64_t qt = 0; qt < nqt; ++qt) {
        uint8_t* row = sel.data() + (h * nqt + qt) * nkt;
        const int64_t i0 = qt * QT, i1 = std::min(N, i0 + QT);
        if (i0 < n_special || ncand <= 0) {  // a tile holding special queries stays dense
          std::fill(row, row + nkt, uint8_t{1});
          continue;
        }
        std::fill(row, row + first_cand, uint8_t{1});
        for (int64_t d = 0; d < D; ++d) {
          double a = 0;
          for (int64_t i = i0; i < i1; ++i) a += qh[i * D + d];
          qbar[d] = static_cast<float>(a / (i1 - i0));
        }
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t c = 0; c < ncand; ++c) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += static_cast<double>(qbar[d]) * kbar[(first_cand + c) * D + d];
          z[c] = s * scale;
          mx = std::max(mx, z[c]);
        }
        double sum = 0;
        for (int64_t c = 0; c < ncand; ++c) sum += (z[c] = std::exp(z[c] - mx));
        std::iota(idx.begin(), idx.begin() + ncand, int64_t{0});
        std::stable_sort(idx.begin(), idx.begin() + ncand, [&](int64_t a, int64_t b) { return z[a] > z[b]; });
        double cum = 0;
        for (int64_t r = 0; r < ncand; ++r) {
          if (r >= n_keep && cum >= cdf * sum) break;
          row[first_cand + idx[r]] = 1;
          cum += z[idx[r]];
        }
      }
    }
  }
  return sel;
}

namespace {
// q, k, v [H, N, D] gathered into `order`.
std::vector<float> reorder(const float* x, int64_t H, int64_t N, int64_t D, const std::vector<int64_t>& order) {
  std::vector<float> y(H * N * D);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < N; ++i) std::copy_n(x + (h * N + order[i]) * D, D, y.data() + (h * N + i) * D);
  return y;
}
}  // namespace

void block_sparse_attention_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                      const FrameLayout& L, int64_t D, float scale, double keep, double cdf) {
  check_layout(L);
  const int64_t N = L.tokens();
  const std::vector<int64_t> order = special_first_order(L);
  std::vector<int64_t> pos(N);
  for (int64_t i = 0; i < N; ++i) pos[order[i]] = i;
  const std::vector<float> qp = reorder(q, H, N, D, order), kp = reorder(k, H, N, D, order);
  const std::vector<uint8_t> sel = select_key_tiles(qp.data(), kp.data(), H, N, D, scale, L.S * L.special, keep, cdf);
  const int64_t nqt = (N + kFlashQueryTile - 1) / kFlashQueryTile, nkt = (N + kFlashKeyTile - 1) / kFlashKeyTile;
  masked_reference(q, k, v, nullptr, nullptr, 0, out, H, N, D, scale, [&](int64_t h, int64_t i, int64_t j) {
    const int64_t qt = pos[i] / kFlashQueryTile, kt = pos[j] / kFlashKeyTile;
    return sel[(h * nqt + qt) * nkt + kt] ? 0.0 : kMasked;
  });
}

void block_sparse_attention(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out,
                            int64_t H, const FrameLayout& L, int64_t D, float scale, double keep, double cdf) {
  check_layout(L);
  if (kernel != AttentionKernel::flash_bf16 || !flash_bf16_sparse_native(static_cast<int>(D))) {
    block_sparse_attention_reference(q, k, v, out, H, L, D, scale, keep, cdf);
    return;
  }
  // Callers that keep their q, k, v (sequence parallelism, benchmarks) get the in-place path on copies.
  const size_t n = static_cast<size_t>(L.tokens() * H * D);
  std::vector<float> qc(q, q + n), kc(k, k + n), vc(v, v + n);
  block_sparse_attention_inplace(kernel, qc.data(), kc.data(), vc.data(), out, H, L, D, scale, keep, cdf);
}

namespace {
void check_permutation(const std::vector<int64_t>& src, int64_t rows) {
  if (static_cast<int64_t>(src.size()) != rows) throw std::invalid_argument("permute_rows_inplace: permutation size");
  std::vector<uint8_t> seen(static_cast<size_t>(rows), 0);
  for (int64_t s : src)
    if (s < 0 || s >= rows || seen[s]++) throw std::invalid_argument("permute_rows_inplace: not a permutation");
}

// src must be a permutation of 0..rows-1 (check_permutation).
void permute_rows_unchecked(float* x, int64_t rows, int64_t width, const std::vector<int64_t>& src) {
  std::vector<uint8_t> done(static_cast<size_t>(rows), 0);
  std::vector<float> tmp(static_cast<size_t>(width));
  // Cycle by cycle: each position takes the row of its source, which is still unmoved because
  // the source is the next position of the cycle to be written.
  for (int64_t start = 0; start < rows; ++start) {
    if (done[start] || src[start] == start) continue;
    std::copy_n(x + start * width, width, tmp.data());
    int64_t j = start;
    while (src[j] != start) {
      std::copy_n(x + src[j] * width, width, x + j * width);
      done[j] = 1;
      j = src[j];
    }
    std::copy_n(tmp.data(), width, x + j * width);
    done[j] = 1;
  }
}
}  // namespace

void permute_rows_inplace(float* x, int64_t rows, int64_t width, const std::vector<int64_t>& src) {
  check_permutation(src, rows);
  permute_rows_unchecked(x, rows, width, src);
}

void block_sparse_attention_inplace(AttentionKernel kernel, float* q, float* k, float* v, float* out, int64_t H,
                                    const FrameLayout& L, int64_t D, float scale, double keep, double cdf) {
  check_layout(L);
  if (kernel != AttentionKernel::flash_bf16 || !flash_bf16_sparse_native(static_cast<int>(D))) {
    block_sparse_attention_reference(q, k, v, out, H, L, D, scale, keep, cdf);
    return;
  }
  const int64_t N = L.tokens();
  const std::vector<int64_t> order = special_first_order(L);
  check_permutation(order, N);  // before the parallel region: nothing may throw inside it
  // One head per task: each head's [N, D] rows are an independent permutation problem.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < 3 * H; ++t) {
    float* x = (t < H ? q : t < 2 * H ? k : v) + (t % H) * N * D;
    permute_rows_unchecked(x, N, D, order);
  }
  const std::vector<uint8_t> sel = select_key_tiles(q, k, H, N, D, scale, L.S * L.special, keep, cdf);
  detail::block_sparse_bf16_avx512(q, k, v, out, static_cast<int>(H), static_cast<int>(N), static_cast<int>(D), scale,
                                   sel.data(), /*release_kv=*/true);
  // out holds the rows in special-first order: row i belongs at order[i].
  std::vector<int64_t> back(N);
  for (int64_t i = 0; i < N; ++i) back[order[i]] = i;
  permute_rows_unchecked(out, N, H * D, back);
}

void frame_masked_attention_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                      const FrameLayout& L, int64_t D, float scale) {
  check_layout(L);
  masked_reference(q, k, v, nullptr, nullptr, 0, out, H, L.tokens(), D, scale,
                   [&](int64_t, int64_t i, int64_t j) { return i / L.P == j / L.P ? 0.0 : kMasked; });
}

}  // namespace vggt::ops

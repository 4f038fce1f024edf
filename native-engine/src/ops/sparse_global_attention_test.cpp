// Sparse global attention (many-frame options): fast bf16 kernels against their token-mask
// references, degenerate settings against exact attention, and the tile selection's rules.
#include "ops/sparse_global_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/flash_attention.h"
#include "testing/peak_rss.h"

namespace vggt::ops {
namespace {

struct Data {
  std::vector<float> q, k, v;
};

// S frames of 5 special tokens + an hp x wp grid; q/k with gain 2 so the softmax is peaked
// enough that dropping keys changes the output measurably.
FrameLayout layout(int64_t S, int64_t hp, int64_t wp) { return {S, 5 + hp * wp, 5, hp, wp}; }

Data random_data(int64_t H, int64_t N, int64_t D, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd;
  Data d{std::vector<float>(H * N * D), std::vector<float>(H * N * D), std::vector<float>(H * N * D)};
  for (auto& x : d.q) x = 2.f * nd(g);
  for (auto& x : d.k) x = 2.f * nd(g);
  for (auto& x : d.v) x = nd(g);
  return d;
}

struct Dev {
  double max_rel, rms_rel;
};
Dev deviation(const std::vector<float>& a, const std::vector<float>& b) {
  double se = 0, sr = 0, mx = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    se += d * d;
    sr += static_cast<double>(b[i]) * b[i];
    mx = std::max(mx, std::abs(d));
  }
  const double rms = std::sqrt(sr / a.size());
  return {mx / rms, std::sqrt(se / a.size()) / rms};
}

// The bf16 kernels round q, k, v and p to 8 mantissa bits; the sparse kernels may be no further
// from their reference than the dense bf16 flash kernel is from exact attention on the same
// inputs, times this margin.
constexpr double kBf16Margin = 1.5;
// Scale of bf16 rounding on these inputs (dense bf16 flash vs exact measured: max 5.6e-2, rms
// 4e-3 of rms) for "the option changes the output by much more than rounding" checks.
constexpr double kBf16Rms = 8e-3;
// fp32 rounding (the goldens' tolerance).
constexpr double kF32Max = 1e-3, kF32Rms = 1e-4;

constexpr int64_t H = 2, D = 64;
const float kScale = 1.f / 8.f;

std::vector<float> exact(const Data& d, int64_t N) {
  std::vector<float> o(N * H * D);
  attention_exact(d.q.data(), d.k.data(), d.v.data(), o.data(), 1, H, N, D, kScale);
  return o;
}

// How far the dense bf16 flash kernel is from exact attention on these inputs.
Dev dense_bf16_error(const Data& d, int64_t N) {
  std::vector<float> o(N * H * D);
  flash_attention_bf16(d.q.data(), d.k.data(), d.v.data(), o.data(), 1, H, static_cast<int>(N), D, kScale);
  return deviation(o, exact(d, N));
}

TEST(KvSubsample, KeptAndDroppedPartitionTheGrid) {
  const FrameLayout L = layout(2, 7, 9);
  auto kept = kv_kept_patches(L, 3), dropped = kv_dropped_patches(L, 3);
  EXPECT_EQ(kept.size(), 3u * 3u);  // rows 0,3,6 x cols 0,3,6
  EXPECT_EQ(kept.size() + dropped.size(), static_cast<size_t>(7 * 9));
  EXPECT_EQ(kept.front(), 5);
  EXPECT_EQ(kept[1], 5 + 3);
  EXPECT_TRUE(kv_dropped_patches(L, 1).empty());
}

TEST(KvSubsample, StrideOneReferenceEqualsExactAttention) {
  const FrameLayout L = layout(3, 6, 7);
  const Data d = random_data(H, L.tokens(), D, 1);
  std::vector<float> o(L.tokens() * H * D);
  kv_subsample_attention_reference(d.q.data(), d.k.data(), d.v.data(), o.data(), H, L, D, kScale, 1);
  const Dev e = deviation(o, exact(d, L.tokens()));
  EXPECT_LE(e.max_rel, kF32Max);
  EXPECT_LE(e.rms_rel, kF32Rms);
}

TEST(KvSubsample, ReferenceDiffersFromExactWhenSubsampling) {
  // The option must do something: at stride 3 the output moves far beyond bf16 rounding.
  const FrameLayout L = layout(3, 6, 7);
  const Data d = random_data(H, L.tokens(), D, 2);
  std::vector<float> o(L.tokens() * H * D);
  kv_subsample_attention_reference(d.q.data(), d.k.data(), d.v.data(), o.data(), H, L, D, kScale, 3);
  EXPECT_GT(deviation(o, exact(d, L.tokens())).rms_rel, 10 * kBf16Rms);
}

TEST(KvSubsample, Bf16KernelMatchesReference) {
  if (!flash_bf16_sparse_native(D)) GTEST_SKIP() << "no AVX512-BF16: the reference is what runs";
  for (int stride : {1, 2, 3}) {
    const FrameLayout L = layout(4, 11, 13);  // P = 148: frames span several tiles
    const Data d = random_data(H, L.tokens(), D, 10 + stride);
    std::vector<float> fast(L.tokens() * H * D), ref(L.tokens() * H * D);
    kv_subsample_attention(AttentionKernel::flash_bf16, d.q.data(), d.k.data(), d.v.data(), fast.data(), H, L, D,
                           kScale, stride);
    kv_subsample_attention_reference(d.q.data(), d.k.data(), d.v.data(), ref.data(), H, L, D, kScale, stride);
    const Dev e = deviation(fast, ref), base = dense_bf16_error(d, L.tokens());
    EXPECT_LE(e.max_rel, kBf16Margin * base.max_rel) << "stride " << stride;
    EXPECT_LE(e.rms_rel, kBf16Margin * base.rms_rel) << "stride " << stride;
  }
}

// Sequence parallelism (Ring): a rank holding frames [f0, f1) attends its queries to its own
// frames and the shared keys of all frames; that is the whole-sequence result restricted to
// those queries, for the reference (fp32 tolerance) and the fast kernel (bit for bit: same keys,
// same order).
TEST(KvSubsample, FrameSliceWithSharedKeysEqualsWholeSequence) {
  const FrameLayout L = layout(4, 11, 13);
  const int64_t N = L.tokens(), P = L.P;
  const Data d = random_data(H, N, D, 77);
  for (int stride : {1, 3}) {
    std::vector<float> kc, vc;
    const int64_t per = kv_compact_keys(d.k.data(), d.v.data(), H, L, D, stride, kc, vc);
    EXPECT_EQ(per, 5 + ((11 + stride - 1) / stride) * ((13 + stride - 1) / stride) + (stride > 1 ? 1 : 0));
    std::vector<float> whole_ref(N * H * D), whole_fast(N * H * D);
    kv_subsample_attention_reference(d.q.data(), d.k.data(), d.v.data(), whole_ref.data(), H, L, D, kScale, stride);
    kv_subsample_attention(AttentionKernel::flash_bf16, d.q.data(), d.k.data(), d.v.data(), whole_fast.data(), H, L, D,
                           kScale, stride);
    for (auto [f0, f1] : {std::pair<int64_t, int64_t>{0, 1}, {1, 4}, {2, 3}}) {
      FrameLayout part = L;
      part.S = f1 - f0;
      const int64_t n = part.tokens();
      std::vector<float> q(H * n * D), k(H * n * D), v(H * n * D);
      for (int64_t h = 0; h < H; ++h) {
        std::copy_n(d.q.data() + (h * N + f0 * P) * D, n * D, q.data() + h * n * D);
        std::copy_n(d.k.data() + (h * N + f0 * P) * D, n * D, k.data() + h * n * D);
        std::copy_n(d.v.data() + (h * N + f0 * P) * D, n * D, v.data() + h * n * D);
      }
      std::vector<float> ref(n * H * D), fast(n * H * D);
      kv_subsample_attention_shared_reference(q.data(), k.data(), v.data(), ref.data(), H, part, D, kScale, stride,
                                              kc.data(), vc.data(), L.S, f0);
      const std::vector<float> want_ref(whole_ref.begin() + f0 * P * H * D, whole_ref.begin() + f1 * P * H * D);
      const Dev e = deviation(ref, want_ref);
      EXPECT_LE(e.max_rel, kF32Max) << "stride " << stride << " frames " << f0 << ".." << f1;
      EXPECT_LE(e.rms_rel, kF32Rms) << "stride " << stride << " frames " << f0 << ".." << f1;
      if (!flash_bf16_sparse_native(D)) continue;
      kv_subsample_attention_shared(AttentionKernel::flash_bf16, q.data(), k.data(), v.data(), fast.data(), H, part, D,
                                    kScale, stride, kc.data(), vc.data(), L.S, f0);
      const std::vector<float> want_fast(whole_fast.begin() + f0 * P * H * D, whole_fast.begin() + f1 * P * H * D);
      EXPECT_EQ(fast, want_fast) << "stride " << stride << " frames " << f0 << ".." << f1;
    }
  }
}

TEST(KvSubsample, Bf16StrideOneEqualsDenseBf16Flash) {
  if (!flash_bf16_sparse_native(D)) GTEST_SKIP() << "no AVX512-BF16";
  const FrameLayout L = layout(3, 10, 12);
  const Data d = random_data(H, L.tokens(), D, 5);
  std::vector<float> fast(L.tokens() * H * D), dense(L.tokens() * H * D);
  kv_subsample_attention(AttentionKernel::flash_bf16, d.q.data(), d.k.data(), d.v.data(), fast.data(), H, L, D, kScale, 1);
  flash_attention_bf16(d.q.data(), d.k.data(), d.v.data(), dense.data(), 1, H, static_cast<int>(L.tokens()), D, kScale);
  // Same keys in the same order; only the tile boundaries differ (own frame's full tokens come
  // through the shared set here), so the fp32 sums differ in order only.
  const Dev e = deviation(fast, dense);
  EXPECT_LE(e.max_rel, 1e-4);
  EXPECT_LE(e.rms_rel, 1e-5);
}

TEST(KvSubsample, OtherKernelsRunTheReference) {
  const FrameLayout L = layout(2, 5, 6);
  const Data d = random_data(H, L.tokens(), D, 6);
  std::vector<float> a(L.tokens() * H * D), b(L.tokens() * H * D);
  kv_subsample_attention(AttentionKernel::exact, d.q.data(), d.k.data(), d.v.data(), a.data(), H, L, D, kScale, 2);
  kv_subsample_attention_reference(d.q.data(), d.k.data(), d.v.data(), b.data(), H, L, D, kScale, 2);
  EXPECT_EQ(a, b);
}

TEST(BlockSparse, SelectionKeepsSpecialTilesAndTheRequestedFraction) {
  const FrameLayout L = layout(6, 12, 14);  // N = 1038: 17 query tiles, 9 key tiles
  const int64_t N = L.tokens();
  const Data d = random_data(H, N, D, 7);
  const auto order = special_first_order(L);
  ASSERT_EQ(order.size(), static_cast<size_t>(N));
  EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), static_cast<size_t>(N));
  const int64_t nqt = (N + 63) / 64, nkt = (N + 127) / 128, ns = L.S * L.special;  // 30 special tokens
  for (double keep : {0.25, 0.5, 1.0}) {
    auto sel = select_key_tiles(d.q.data(), d.k.data(), H, N, D, kScale, ns, keep, 0.0);
    const int64_t ncand = nkt - 1, want = static_cast<int64_t>(std::ceil(keep * ncand - 1e-9));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t qt = 0; qt < nqt; ++qt) {
        const uint8_t* row = sel.data() + (h * nqt + qt) * nkt;
        int64_t n = 0;
        for (int64_t t = 0; t < nkt; ++t) n += row[t];
        EXPECT_EQ(row[0], 1) << "the tile of special keys is always computed";
        if (qt == 0)
          EXPECT_EQ(n, nkt) << "the query tile holding special tokens is dense";
        else
          EXPECT_EQ(n, 1 + want) << "keep " << keep;
      }
  }
  // cdf = 1 keeps every tile whatever the keep ratio.
  auto all = select_key_tiles(d.q.data(), d.k.data(), H, N, D, kScale, ns, 0.1, 1.0);
  for (uint8_t x : all) EXPECT_EQ(x, 1);
}

TEST(BlockSparse, KeepAllReferenceEqualsExactAttention) {
  const FrameLayout L = layout(3, 9, 10);
  const Data d = random_data(H, L.tokens(), D, 8);
  std::vector<float> o(L.tokens() * H * D);
  block_sparse_attention_reference(d.q.data(), d.k.data(), d.v.data(), o.data(), H, L, D, kScale, 1.0, 0.0);
  const Dev e = deviation(o, exact(d, L.tokens()));
  EXPECT_LE(e.max_rel, kF32Max);
  EXPECT_LE(e.rms_rel, kF32Rms);
}

TEST(BlockSparse, Bf16KernelMatchesReference) {
  if (!flash_bf16_sparse_native(D)) GTEST_SKIP() << "no AVX512-BF16: the reference is what runs";
  const FrameLayout L = layout(6, 12, 14);
  const Data d = random_data(H, L.tokens(), D, 9);
  for (double keep : {0.25, 0.6, 1.0}) {
    std::vector<float> fast(L.tokens() * H * D), ref(L.tokens() * H * D);
    block_sparse_attention(AttentionKernel::flash_bf16, d.q.data(), d.k.data(), d.v.data(), fast.data(), H, L, D,
                           kScale, keep, 0.0);
    block_sparse_attention_reference(d.q.data(), d.k.data(), d.v.data(), ref.data(), H, L, D, kScale, keep, 0.0);
    const Dev e = deviation(fast, ref), base = dense_bf16_error(d, L.tokens());
    EXPECT_LE(e.max_rel, kBf16Margin * base.max_rel) << "keep " << keep;
    EXPECT_LE(e.rms_rel, kBf16Margin * base.rms_rel) << "keep " << keep;
    if (keep < 1) EXPECT_GT(deviation(ref, exact(d, L.tokens())).rms_rel, 10 * kBf16Rms) << "keep " << keep;
  }
}

TEST(BlockSparse, Bf16KeepAllEqualsDenseBf16Flash) {
  if (!flash_bf16_sparse_native(D)) GTEST_SKIP() << "no AVX512-BF16";
  const FrameLayout L = layout(4, 10, 11);
  const Data d = random_data(H, L.tokens(), D, 4);
  std::vector<float> fast(L.tokens() * H * D), dense(L.tokens() * H * D);
  block_sparse_attention(AttentionKernel::flash_bf16, d.q.data(), d.k.data(), d.v.data(), fast.data(), H, L, D, kScale,
                         1.0, 0.0);
  flash_attention_bf16(d.q.data(), d.k.data(), d.v.data(), dense.data(), 1, H, static_cast<int>(L.tokens()), D, kScale);
  // Every tile computed; only the key order (special-first) differs, which changes the running
  // max the bf16-rounded probabilities are taken against: a few % of bf16 rounding (measured
  // max 5.3e-3, rms 1.4e-4), far below the option's own effect.
  const Dev e = deviation(fast, dense);
  EXPECT_LE(e.max_rel, 1e-2);
  EXPECT_LE(e.rms_rel, 3e-4);
}

TEST(PermuteRows, InPlaceEqualsGatherAndRefusesNonPermutations) {
  const int64_t rows = 97, width = 5;
  std::vector<int64_t> src(rows);
  std::iota(src.begin(), src.end(), 0);
  std::shuffle(src.begin(), src.end(), std::mt19937(5));
  std::vector<float> x(rows * width);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  std::vector<float> want(x.size());
  for (int64_t i = 0; i < rows; ++i) std::copy_n(x.data() + src[i] * width, width, want.data() + i * width);
  permute_rows_inplace(x.data(), rows, width, src);
  EXPECT_EQ(x, want);
  std::vector<int64_t> dup = src;
  dup[3] = dup[4];
  EXPECT_THROW(permute_rows_inplace(x.data(), rows, width, dup), std::invalid_argument);
  EXPECT_THROW(permute_rows_inplace(x.data(), rows + 1, width, src), std::invalid_argument);
  dup = src;
  dup[0] = rows;
  EXPECT_THROW(permute_rows_inplace(x.data(), rows, width, dup), std::invalid_argument);
}

using vggt::testing::peak_rss_kib;
using vggt::testing::rss_kib;
using vggt::testing::reset_peak_rss;

// At many frames the copying version held 4 reordered [N, H*D] copies beside the block's own
// q, k, v and output (3.2 GiB at 200 VGGT-1B frames). 16 heads of 64 over 10 frames of 930 tokens:
// each array is 38 MB (above malloc's mmap threshold, so a copy shows in the peak RSS).
TEST(BlockSparse, InPlaceAllocatesNoCopyOfTheInputs) {
  if (!flash_bf16_sparse_native(D)) GTEST_SKIP() << "no AVX512-BF16: the reference path runs";
  const int64_t heads = 16;
  const FrameLayout L = layout(10, 25, 37);
  const int64_t N = L.tokens();
  Data d = random_data(heads, N, D, 13);
  std::vector<float> out(N * heads * D, 0.f);
  if (!reset_peak_rss()) GTEST_SKIP() << "cannot reset the peak RSS here";
  const long base = peak_rss_kib(), rss_before = rss_kib();
  ASSERT_GT(base, 0);
  block_sparse_attention_inplace(AttentionKernel::flash_bf16, d.q.data(), d.k.data(), d.v.data(), out.data(), heads, L,
                                 D, kScale, 0.25, 0.0);
  const long inplace_growth = peak_rss_kib() - base;
  const long array_kib = static_cast<long>(N * heads * D * sizeof(float) / 1024);
  // The kernel's bf16 packing of K and V is one float array's size, but k and v are released head
  // by head as they are packed: the peak grows by a few heads' packing (2 threads), not by it all.
  EXPECT_LT(inplace_growth, array_kib / 2) << "peak RSS grew by " << inplace_growth << " KiB; one array is "
                                           << array_kib;
  // k and v (two arrays) were consumed: their pages are back with the OS. (Not the full two
  // arrays: under ASan the freed packing, one array, stays resident in its quarantine.)
  EXPECT_LT(rss_kib(), rss_before - array_kib * 3 / 4) << "RSS " << rss_before << " -> " << rss_kib() << " KiB";
  // Released pages read as zero (random normal data never is); only the partial pages at each
  // head's ends keep theirs.
  size_t zeros = 0, samples = 0;
  for (size_t i = 0; i < d.k.size(); i += 1024, ++samples) zeros += d.k[i] == 0.f;
  EXPECT_GT(zeros, samples * 95 / 100) << zeros << " of " << samples;
  // The copying version on the same data (3 copies) does show them: the measurement can fail.
  ASSERT_TRUE(reset_peak_rss());
  const long base2 = peak_rss_kib();
  block_sparse_attention(AttentionKernel::flash_bf16, d.q.data(), d.k.data(), d.v.data(), out.data(), heads, L, D,
                         kScale, 0.25, 0.0);
  EXPECT_GT(peak_rss_kib() - base2, inplace_growth + 2 * array_kib);
}

TEST(EarlyFrame, BatchedFrameAttentionEqualsFrameMaskedGlobalAttention) {
  // global-early-frame runs a global layer as attention over B = S sequences of P tokens.
  const FrameLayout L = layout(3, 6, 8);
  const Data d = random_data(H, L.tokens(), D, 3);
  // [H, S*P, D] -> [S, H, P, D] for the batched call.
  std::vector<float> qb(d.q.size()), kb(d.k.size()), vb(d.v.size());
  for (int64_t h = 0; h < H; ++h)
    for (int64_t f = 0; f < L.S; ++f)
      for (int64_t t = 0; t < L.P; ++t)
        for (int64_t x = 0; x < D; ++x) {
          const size_t src = ((h * L.S + f) * L.P + t) * D + x, dst = ((f * H + h) * L.P + t) * D + x;
          qb[dst] = d.q[src];
          kb[dst] = d.k[src];
          vb[dst] = d.v[src];
        }
  std::vector<float> batched(L.tokens() * H * D), ref(L.tokens() * H * D);
  attention_exact(qb.data(), kb.data(), vb.data(), batched.data(), L.S, H, L.P, D, kScale);
  frame_masked_attention_reference(d.q.data(), d.k.data(), d.v.data(), ref.data(), H, L, D, kScale);
  const Dev e = deviation(batched, ref);  // both [S*P, H, D]
  EXPECT_LE(e.max_rel, kF32Max);
  EXPECT_LE(e.rms_rel, kF32Rms);
}

}  // namespace
}  // namespace vggt::ops

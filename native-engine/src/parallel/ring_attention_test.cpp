// Ring and Ulysses attention pieces that run without an MPI launch: the log-sum-exp merge,
// block-wise attention against the exact kernel, and both schemes on a single rank.
#include "parallel/ring_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ops/attention.h"
#include "parallel/ulysses_attention.h"

namespace vggt::parallel {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

// Attention in double precision for one (b,h): the reference for extreme logits.
std::vector<double> attention_f64(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                  int64_t N, int64_t M, int64_t D, double scale) {
  std::vector<double> out(N * D, 0.0);
  for (int64_t i = 0; i < N; ++i) {
    std::vector<double> s(M);
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < M; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < D; ++d) dot += double(q[i * D + d]) * k[j * D + d];
      s[j] = dot * scale;
      mx = std::max(mx, s[j]);
    }
    double sum = 0;
    for (auto& x : s) sum += (x = std::exp(x - mx));
    for (int64_t j = 0; j < M; ++j)
      for (int64_t d = 0; d < D; ++d) out[i * D + d] += s[j] / sum * v[j * D + d];
  }
  return out;
}

TEST(LseMerge, EmptyBlockIsIdentityAndOrderDoesNotMatter) {
  const int64_t D = 4;
  std::vector<float> o = {1, 2, 3, 4}, lse = {0.5f};
  const std::vector<float> ob = {9, 9, 9, 9}, empty = {-std::numeric_limits<float>::infinity()};
  lse_merge(o.data(), lse.data(), ob.data(), empty.data(), 1, D);
  EXPECT_EQ(o, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(lse[0], 0.5f);

  // Two blocks with equal mass average their outputs and add log 2 to the lse.
  std::vector<float> a = {0, 0, 0, 0}, la = {-std::numeric_limits<float>::infinity()};
  const std::vector<float> b1 = {2, 4, 6, 8}, l1 = {3.f}, b2 = {4, 0, 2, 0}, l2 = {3.f};
  lse_merge(a.data(), la.data(), b1.data(), l1.data(), 1, D);
  lse_merge(a.data(), la.data(), b2.data(), l2.data(), 1, D);
  EXPECT_EQ(a, (std::vector<float>{3, 2, 4, 4}));
  EXPECT_NEAR(la[0], 3.f + std::log(2.f), 1e-6);
}

TEST(LseMerge, StableForLogitsThatOverflowExp) {
  // Block log-sum-exps around +-1e4: exp() of them over/underflows float; the merge must not.
  const int64_t D = 2;
  std::vector<float> o = {1, 0}, lse = {1e4f};
  const std::vector<float> ob = {0, 1}, lb = {1e4f + std::log(3.f)};
  lse_merge(o.data(), lse.data(), ob.data(), lb.data(), 1, D);
  // lb - la is only known to float spacing at 1e4 (~1e-3), hence 1e-3.
  EXPECT_NEAR(o[0], 0.25f, 1e-3);
  EXPECT_NEAR(o[1], 0.75f, 1e-3);
  EXPECT_NEAR(lse[0], 1e4f + std::log(4.f), 1e-2);  // float spacing at 1e4 is ~1e-3
  std::vector<float> o2 = {1, 1}, l2 = {-1e4f};
  lse_merge(o2.data(), l2.data(), ob.data(), lb.data(), 1, D);  // the first block weighs e^-2e4 = 0
  EXPECT_EQ(o2, ob);
}

// Keys split into uneven blocks, merged in ring order (a rank's own block first): equal to
// the exact kernel over all keys. Tolerance 2e-6 absolute on O(1) outputs: float rounding of a
// different summation order; a wrong weight would be off by ~1e-1.
TEST(RingBlocks, BlockwiseMergeEqualsFullAttention) {
  const int64_t B = 1, H = 3, N = 150, D = 16;
  const float scale = 1.f / std::sqrt(float(D));
  auto q = randn(B * H * N * D, 1), k = randn(B * H * N * D, 2), v = randn(B * H * N * D, 3);
  std::vector<float> ref(B * N * H * D);
  ops::attention_exact(q.data(), k.data(), v.data(), ref.data(), B, H, N, D, scale);

  const std::vector<std::pair<int64_t, int64_t>> blocks = {{97, 150}, {0, 1}, {1, 97}};  // uneven, shuffled
  std::vector<float> o(B * H * N * D, 0.f), lse(B * H * N, -std::numeric_limits<float>::infinity());
  for (auto [a, b] : blocks) {
    const int64_t M = b - a;
    std::vector<float> kb(B * H * M * D), vb(B * H * M * D);
    for (int64_t bh = 0; bh < B * H; ++bh) {
      std::copy_n(k.data() + (bh * N + a) * D, M * D, kb.data() + bh * M * D);
      std::copy_n(v.data() + (bh * N + a) * D, M * D, vb.data() + bh * M * D);
    }
    // Query rows in two slabs, as ring_attention does between MPI progress calls.
    attend_block_merge(q.data(), N, kb.data(), vb.data(), M, B * H, D, scale, 0, 61, o.data(), lse.data());
    attend_block_merge(q.data(), N, kb.data(), vb.data(), M, B * H, D, scale, 61, N, o.data(), lse.data());
  }
  std::vector<float> got(B * N * H * D);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < N; ++i) std::copy_n(o.data() + (h * N + i) * D, D, got.data() + (i * H + h) * D);
  EXPECT_LT(max_abs_diff(got, ref), 2e-6);
}

TEST(RingBlocks, ExtremeLogitsMatchDoublePrecision) {
  // Scores up to ~1e3 (q, k with sd 8, scale 1): a naive exp-sum overflows float.
  const int64_t N = 40, M = 40, D = 16;
  auto q = randn(N * D, 4, 8.f), k = randn(M * D, 5, 8.f), v = randn(M * D, 6);
  const auto ref = attention_f64(q, k, v, N, M, D, 1.0);
  std::vector<float> o(N * D, 0.f), lse(N, -std::numeric_limits<float>::infinity());
  for (auto [a, b] : std::vector<std::pair<int64_t, int64_t>>{{13, 27}, {0, 13}, {27, M}})
    attend_block_merge(q.data(), N, k.data() + a * D, v.data() + a * D, b - a, 1, D, 1.f, 0, N, o.data(), lse.data());
  double worst = 0;
  for (int64_t i = 0; i < N * D; ++i) {
    ASSERT_TRUE(std::isfinite(o[i]));
    worst = std::max(worst, std::abs(o[i] - ref[i]));
  }
  // Scores ~1e3 carry float rounding of ~1e-4 in the exponent, so outputs agree to ~1e-4.
  EXPECT_LT(worst, 1e-3);
  EXPECT_GT(lse[0], 100.f);
}

// One rank (no MPI launch): both schemes reduce to plain attention and must equal it.
TEST(SequenceParallelSingleRank, UlyssesAndRingEqualExactAttention) {
  const Comm comm = Comm::world();
  ASSERT_EQ(comm.size(), 1);
  const int64_t B = 1, H = 4, N = 70, D = 8;
  const float scale = 1.f / std::sqrt(float(D));
  auto q = randn(B * H * N * D, 7), k = randn(B * H * N * D, 8), v = randn(B * H * N * D, 9);
  std::vector<float> ref(B * N * H * D), u(ref.size()), r(ref.size());
  ops::attention_exact(q.data(), k.data(), v.data(), ref.data(), B, H, N, D, scale);
  TransferStats su, sr;
  ulysses_attention(comm, q.data(), k.data(), v.data(), u.data(), B, H, N, D, scale, ops::AttentionKernel::exact, &su);
  ring_attention(comm, q.data(), k.data(), v.data(), r.data(), B, H, N, D, scale, &sr);
  EXPECT_EQ(max_abs_diff(u, ref), 0.0);  // same kernel on the same data
  EXPECT_LT(max_abs_diff(r, ref), 2e-6);
  EXPECT_EQ(su.bytes_sent, 0.0);
  EXPECT_EQ(sr.bytes_sent, 0.0);
  EXPECT_EQ(sr.calls, 1);
}

TEST(SequenceParallelSingleRank, UlyssesHeadCountMessage) {
  EXPECT_NO_THROW(check_ulysses_heads(16, 8));
  try {
    check_ulysses_heads(4, 3);
    FAIL() << "4 heads on 3 ranks must be rejected";
  } catch (const std::exception& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("4 attention heads"), std::string::npos) << m;
    EXPECT_NE(m.find("3 ranks"), std::string::npos) << m;
    EXPECT_NE(m.find("--sp ring"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace vggt::parallel

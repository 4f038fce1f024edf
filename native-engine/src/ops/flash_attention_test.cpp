#include "ops/flash_attention.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "testing/forced_isa.h"

namespace vggt::ops {
namespace {

using vggt::testing::ForcedIsa;

struct Case {
  int B, H, N, D;
};

struct Inputs {
  std::vector<float> q, k, v;
};

Inputs random_inputs(const Case& c, float qk_gain, unsigned seed) {
  const size_t n = static_cast<size_t>(c.B) * c.H * c.N * c.D;
  Inputs in{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n)};
  std::mt19937 g(seed);
  std::normal_distribution<float> nd;
  for (auto& x : in.q) x = nd(g) * qk_gain;
  for (auto& x : in.k) x = nd(g);
  for (auto& x : in.v) x = nd(g);
  return in;
}

// Double-precision attention, output [B,N,H,D].
std::vector<double> reference(const Inputs& in, const Case& c, double scale) {
  std::vector<double> out(static_cast<size_t>(c.B) * c.N * c.H * c.D);
  std::vector<double> s(c.N);
  const size_t head = static_cast<size_t>(c.N) * c.D;
  for (int b = 0; b < c.B; ++b)
    for (int h = 0; h < c.H; ++h) {
      const size_t base = (static_cast<size_t>(b) * c.H + h) * head;
      for (int i = 0; i < c.N; ++i) {
        double mx = -1e300;
        for (int j = 0; j < c.N; ++j) {
          double d = 0;
          for (int t = 0; t < c.D; ++t)
            d += static_cast<double>(in.q[base + i * c.D + t]) * in.k[base + j * c.D + t];
          s[j] = d * scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < c.N; ++j) sum += (s[j] = std::exp(s[j] - mx));
        double* o = &out[((static_cast<size_t>(b) * c.N + i) * c.H + h) * c.D];
        for (int t = 0; t < c.D; ++t) {
          double acc = 0;
          for (int j = 0; j < c.N; ++j) acc += s[j] * in.v[base + j * c.D + t];
          o[t] = acc / sum;
        }
      }
    }
  return out;
}

using AttnFn = void (*)(const float*, const float*, const float*, float*, int, int, int, int,
                        float);

double max_abs_error(AttnFn fn, const Inputs& in, const Case& c, const std::vector<double>& ref) {
  std::vector<float> out(ref.size(), std::nanf(""));
  fn(in.q.data(), in.k.data(), in.v.data(), out.data(), c.B, c.H, c.N, c.D,
     1.0f / std::sqrt(static_cast<float>(c.D)));
  double err = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double e = std::fabs(out[i] - ref[i]);
    if (!(e <= err)) err = std::isnan(e) ? INFINITY : e;
  }
  return err;
}

const Case kCases[] = {
    {1, 1, 1, 64},   // single token
    {2, 3, 17, 32},  // D = 32, odd N, several batches/heads
    {1, 2, 63, 64},  {1, 2, 65, 64},  // around one key tile
    {1, 1, 130, 128},                  // camera-head D
    {1, 1, 37, 80},                    // D not a multiple of 64 (64 + masked 16)
    {1, 1, 29, 33},                    // D not a multiple of 16
    {1, 1, 1860, 64},                  // 2 frames x (518x350 patches + 5 special tokens)
};

// Inputs ~ N(0,1), scores ~ N(0,1), outputs are convex combinations of N(0,1) values (|out|
// <~ 1): fp32 dot products (D <= 128 terms), the <1-ulp exp and the fp32 sums over N keys give
// measured max errors 3e-7..9e-7 (naive and flash alike); 5e-6 absolute leaves ~5x headroom.
constexpr double kTol = 5e-6;

TEST(FlashAttention, MatchesDoubleReferenceOnEveryPath) {
  for (const Case& c : kCases) {
    Inputs in = random_inputs(c, 1.0f, 1234 + c.N);
    auto ref = reference(in, c, 1.0 / std::sqrt(static_cast<double>(c.D)));
    SCOPED_TRACE("B=" + std::to_string(c.B) + " H=" + std::to_string(c.H) +
                 " N=" + std::to_string(c.N) + " D=" + std::to_string(c.D));
    const double e_naive = max_abs_error(naive_attention, in, c, ref);
    const double e_flash = max_abs_error(flash_attention, in, c, ref);
    std::printf("[ measured ] B=%d H=%d N=%d D=%d max abs error: naive %.2e flash %.2e\n", c.B,
                c.H, c.N, c.D, e_naive, e_flash);
    EXPECT_LT(e_naive, kTol) << "naive";
    EXPECT_LT(e_flash, kTol) << "flash (dispatch)";
    EXPECT_LT(max_abs_error(detail::flash_attention_generic, in, c, ref), kTol) << "generic";
    if (detected_isa() >= IsaLevel::avx2) {
      EXPECT_LT(max_abs_error(detail::flash_attention_avx2, in, c, ref), kTol) << "avx2";
    }
    if (detected_isa() >= IsaLevel::avx512) {
      EXPECT_LT(max_abs_error(detail::flash_attention_avx512, in, c, ref), kTol) << "avx512";
    }
  }
}

TEST(FlashAttention, LargeScoresStayStable) {
  // q scaled x12: scores up to ~+-50, softmax nearly one-hot. Rounding a score of magnitude 50
  // costs ~50 * 2^-24 * sqrt(D) relative in its weight, hence the looser 2e-4.
  const Case c{1, 2, 200, 64};
  Inputs in = random_inputs(c, 12.0f, 99);
  auto ref = reference(in, c, 1.0 / 8.0);
  EXPECT_LT(max_abs_error(flash_attention, in, c, ref), 2e-4);
  EXPECT_LT(max_abs_error(detail::flash_attention_generic, in, c, ref), 2e-4);
}

TEST(FlashAttention, ForcedIsaPathsAgree) {
  const Case c{1, 3, 150, 64};
  Inputs in = random_inputs(c, 1.0f, 7);
  auto ref = reference(in, c, 1.0 / 8.0);
  for (const char* isa : {"generic", "avx2", "avx512"}) {
    ForcedIsa forced(isa);
    SCOPED_TRACE(isa);
    const IsaLevel want = parse_isa_level(isa);
    EXPECT_EQ(isa_level(), want < detected_isa() ? want : detected_isa());
    EXPECT_LT(max_abs_error(flash_attention, in, c, ref), kTol);
  }
}

// Each (b,h, query tile) task is computed by one thread in a fixed order: bitwise equal.
void expect_same_on_one_and_two_threads(AttnFn fn) {
  const Case c{1, 2, 333, 64};
  Inputs in = random_inputs(c, 1.0f, 5);
  std::vector<float> a(in.q.size()), b(in.q.size());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  fn(in.q.data(), in.k.data(), in.v.data(), a.data(), c.B, c.H, c.N, c.D, 0.125f);
  omp_set_num_threads(std::max(2, saved));
  fn(in.q.data(), in.k.data(), in.v.data(), b.data(), c.B, c.H, c.N, c.D, 0.125f);
  omp_set_num_threads(saved);
  EXPECT_EQ(a, b);
}

TEST(FlashAttention, ResultDoesNotDependOnThreadCount) { expect_same_on_one_and_two_threads(flash_attention); }

// Max relative error of the kernel's exp against exp in double over [-87.3, 0]: measured
// 7.8e-8 for the AVX-512 (FMA) version and 1.0e-7 for the portable one, i.e. <= 0.9 ulp
// (ulp = 2^-23 relative at worst). Bound 1.5e-7 ~ 1.25 ulp.
TEST(FlashAttention, ExpApproximationIsWithinAFewUlp) {
  std::vector<float> xs;
  for (int i = 0; i <= 2000000; ++i) xs.push_back(-87.3f * static_cast<float>(i) / 2000000.0f);
  for (float x : {-1e-7f, -0.34657359f, -0.34657360f, -1.0f, -10.5f, -87.3f}) xs.push_back(x);
  double worst_scalar = 0, worst_vec = 0;
  std::vector<float> ys(xs.size());
  if (detected_isa() >= IsaLevel::avx512)
    detail::flash_exp_avx512(xs.data(), ys.data(), static_cast<int>(xs.size()));
  for (size_t i = 0; i < xs.size(); ++i) {
    const double e = std::exp(static_cast<double>(xs[i]));
    worst_scalar = std::max(worst_scalar, std::fabs(flash_exp_approx(xs[i]) - e) / e);
    if (detected_isa() >= IsaLevel::avx512) worst_vec = std::max(worst_vec, std::fabs(ys[i] - e) / e);
  }
  std::printf("[ measured ] exp max rel error: portable %.3g, avx512 %.3g\n", worst_scalar,
              worst_vec);
  EXPECT_LT(worst_scalar, 1.5e-7);
  EXPECT_LT(worst_vec, 1.5e-7);
  EXPECT_EQ(flash_exp_approx(0.0f), 1.0f);
  EXPECT_EQ(flash_exp_approx(-INFINITY), 0.0f);
  EXPECT_EQ(flash_exp_approx(-200.0f), 0.0f);
}

// bf16 dot products: q, k, v and the probabilities keep 8 significant bits (rounding <= 2^-8
// = 3.9e-3 relative, rms ~1.6e-3). With one key the output is v rounded to bf16 (measured max
// 4.9e-3, rms 1.7e-3 for |v| ~ N(0,1)); more keys average the rounding away (N = 1860: max
// 1.1e-3, rms 1.3e-4). Bounds 1e-2 max and 2.5e-3 rms: 2x the worst measured, and 10x below
// what a wrong tile or pair layout produces (errors >= 0.1).
TEST(FlashAttention, Bf16DotProductsStayWithinTheirRoundingBound) {
  if (!flash_attention_bf16_native(64)) GTEST_SKIP() << "no AVX512-BF16 on this CPU: bf16 path is the fp32 kernel";
  for (const Case& c : kCases) {
    if (c.D % 16 != 0 || c.D > 128) continue;
    Inputs in = random_inputs(c, 1.0f, 77 + c.N);
    auto ref = reference(in, c, 1.0 / std::sqrt(static_cast<double>(c.D)));
    std::vector<float> out(ref.size(), std::nanf(""));
    flash_attention_bf16(in.q.data(), in.k.data(), in.v.data(), out.data(), c.B, c.H, c.N, c.D,
                         1.0f / std::sqrt(static_cast<float>(c.D)));
    double mx = 0, ss = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double e = std::fabs(out[i] - ref[i]);
      mx = std::isnan(e) ? INFINITY : std::max(mx, e);
      ss += e * e;
    }
    const double rms = std::sqrt(ss / out.size());
    std::printf("[ measured ] bf16 B=%d H=%d N=%d D=%d max abs error %.2e rms %.2e\n", c.B, c.H, c.N,
                c.D, mx, rms);
    SCOPED_TRACE("N=" + std::to_string(c.N) + " D=" + std::to_string(c.D));
    EXPECT_LT(mx, 1e-2);
    EXPECT_LT(rms, 2.5e-3);
  }
}

TEST(FlashAttention, Bf16FallsBackToTheExactKernelWhereItCannotRun) {
  // D not a multiple of 16, or the ISA forced below AVX-512: bitwise the fp32 flash kernel.
  for (const char* isa : {"avx2", "avx512"}) {
    ForcedIsa forced(isa);
    const Case c = std::string(isa) == "avx2" ? Case{1, 2, 150, 64} : Case{1, 1, 29, 33};
    Inputs in = random_inputs(c, 1.0f, 3);
    std::vector<float> a(in.q.size()), b(in.q.size());
    flash_attention(in.q.data(), in.k.data(), in.v.data(), a.data(), c.B, c.H, c.N, c.D, 0.125f);
    flash_attention_bf16(in.q.data(), in.k.data(), in.v.data(), b.data(), c.B, c.H, c.N, c.D, 0.125f);
    EXPECT_EQ(a, b) << isa;
    EXPECT_FALSE(flash_attention_bf16_native(c.D)) << isa;
  }
}

TEST(FlashAttention, Bf16ResultDoesNotDependOnThreadCount) {
  expect_same_on_one_and_two_threads(flash_attention_bf16);
}

TEST(FlashAttention, ScratchIsLinearInNForFlashQuadraticForNaive) {
  const int N2 = 930 * 2, N16 = 930 * 16;
  const size_t f2 = flash_attention_scratch_bytes(1, 16, N2, 64, 2);
  const size_t f16 = flash_attention_scratch_bytes(1, 16, N16, 64, 2);
  const size_t n2 = naive_attention_scratch_bytes(1, 16, N2, 64, 2);
  const size_t n16 = naive_attention_scratch_bytes(1, 16, N16, 64, 2);
  EXPECT_LT(f16, f2 * 9);    // ~8x for 8x the tokens
  EXPECT_GT(n16, n2 * 60);   // ~64x
  EXPECT_EQ(n16, size_t{2} * N16 * N16 * 4);
  const size_t b2 = flash_attention_bf16_scratch_bytes(1, 16, N2, 64, 2);
  const size_t b16 = flash_attention_bf16_scratch_bytes(1, 16, N16, 64, 2);
  EXPECT_LT(b16, b2 * 9);
}

}  // namespace
}  // namespace vggt::ops

#include "ops/linear_lowp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "testing/forced_isa.h"

namespace vggt::ops {
namespace {

using vggt::testing::ForcedIsa;

struct Problem {
  int M, N, K;
  std::vector<float> x, W, b;
};

Problem make_problem(int M, int N, int K, unsigned seed) {
  Problem p{M, N, K, std::vector<float>(static_cast<size_t>(M) * K),
            std::vector<float>(static_cast<size_t>(N) * K), std::vector<float>(N)};
  std::mt19937 g(seed);
  std::normal_distribution<float> nd;
  for (auto& v : p.x) v = nd(g);
  for (auto& v : p.W) v = nd(g) * 0.05f;
  for (auto& v : p.b) v = nd(g) * 0.1f;
  return p;
}

float bf16_round(float v) {
  uint16_t h;
  detail::f32_to_bf16_generic(&v, 1, &h);
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// Exact (double) y = x W^T + b of possibly transformed operands, and the error scale
// S[m,n] = sum_k |x_mk W_nk| + |b_n| that bounds rounding errors of the GEMM.
struct Ref {
  std::vector<double> y, scale;
};
Ref reference(const Problem& p, float (*tx)(float), float (*tw)(float), bool bias = true) {
  Ref r{std::vector<double>(static_cast<size_t>(p.M) * p.N),
        std::vector<double>(static_cast<size_t>(p.M) * p.N)};
  for (int m = 0; m < p.M; ++m)
    for (int n = 0; n < p.N; ++n) {
      double acc = bias ? p.b[n] : 0.0, s = bias ? std::fabs(p.b[n]) : 0.0;
      for (int k = 0; k < p.K; ++k) {
        const double t = static_cast<double>(tx(p.x[m * p.K + k])) * tw(p.W[n * p.K + k]);
        acc += t;
        s += std::fabs(t);
      }
      r.y[m * p.N + n] = acc;
      r.scale[m * p.N + n] = s;
    }
  return r;
}
float ident(float v) { return v; }

// max over elements of |y - ref| / S
double rel_error(const std::vector<float>& y, const Ref& r) {
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double e = std::fabs(y[i] - r.y[i]) / std::max(r.scale[i], 1e-30);
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
  }
  return worst;
}

const int kShapes[][3] = {{1, 64, 64}, {17, 37, 100}, {64, 48, 1024}, {1860, 16, 64}, {5, 3, 7}};

TEST(LinearF32Packed, MatchesExactGemmWithinFp32Rounding) {
  // fp32 accumulation of K <= 1024 terms: |error| <~ sqrt(K) 2^-24 S ~ 2e-6 S; bound 1e-5 S.
  for (auto& s : kShapes) {
    Problem p = make_problem(s[0], s[1], s[2], 11 + s[0]);
    LinearF32Packed lin(p.W.data(), p.b.data(), p.N, p.K);
    std::vector<float> y(static_cast<size_t>(p.M) * p.N);
    lin.forward(p.x.data(), y.data(), p.M);
    EXPECT_LT(rel_error(y, reference(p, ident, ident)), 1e-5) << s[0] << "x" << s[1] << "x" << s[2];
    // Second M through the same object (primitive cache) and no-bias variant.
    LinearF32Packed nob(p.W.data(), nullptr, p.N, p.K);
    std::vector<float> y1(p.N);
    nob.forward(p.x.data(), y1.data(), 1);
    Problem first = p;
    first.M = 1;
    first.x.resize(p.K);
    EXPECT_LT(rel_error(y1, reference(first, ident, ident, false)), 1e-5);
  }
}

void check_bf16(const LinearBF16& lin, const Problem& p) {
  std::vector<float> y(static_cast<size_t>(p.M) * p.N);
  lin.forward(p.x.data(), y.data(), p.M);
  // Tight: same as the exact product of the bf16-rounded operands, up to fp32 accumulation.
  EXPECT_LT(rel_error(y, reference(p, bf16_round, bf16_round)), 1e-5);
  // Against fp32 truth: each operand is off by <= 2^-9 relative (RNE, 8-bit significand), so
  // each product by <= 2^-8 (+2^-18): |y - y_fp32| <= (2^-8 + 1e-5) S rigorously.
  EXPECT_LT(rel_error(y, reference(p, ident, ident)), std::ldexp(1.0, -8) + 1e-5);
}

TEST(LinearBF16, WithinBf16RoundingOfFp32) {
  for (auto& s : kShapes) {
    SCOPED_TRACE(std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]));
    Problem p = make_problem(s[0], s[1], s[2], 21 + s[0]);
    LinearBF16 lin(p.W.data(), p.b.data(), p.N, p.K);
    if (detected_isa() >= IsaLevel::avx512) {
      EXPECT_TRUE(lin.native_bf16());
    }
    check_bf16(lin, p);
  }
}

// fc1 -> GELU -> fc2 with the GELU in fc1's epilogue and bf16 activations handed over, against
// the unfused path (fp32 fc1 output, our exact GELU, fc2 rounding its input to bf16). Both feed
// fc2 the same bf16-rounded GELU values except where the two GELUs straddle a bf16 rounding
// boundary (one bf16 ulp, 2^-8 relative, on a few elements): measured 0 here (identical
// outputs); a missing or wrong epilogue (no GELU, tanh GELU) moves the output by >= 1e-2. Bound 1e-3.
TEST(LinearBF16, FusedGeluMlpMatchesTheUnfusedPath) {
  if (detected_isa() < IsaLevel::avx512) GTEST_SKIP() << "no native bf16 here";
  const int M = 37, C = 64, Hd = 256;
  Problem p1 = make_problem(M, Hd, C, 5), p2 = make_problem(M, C, Hd, 6);
  LinearBF16 fc1(p1.W.data(), p1.b.data(), Hd, C), fc2(p2.W.data(), p2.b.data(), C, Hd);
  ASSERT_TRUE(fc1.native_bf16() && fc2.native_bf16());
  std::vector<float> mid(static_cast<size_t>(M) * Hd), ref(static_cast<size_t>(M) * C), got(ref.size());
  fc1.forward(p1.x.data(), mid.data(), M);
  for (auto& v : mid) v = 0.5f * v * std::erfc(-v / std::sqrt(2.0f));
  fc2.forward(mid.data(), ref.data(), M);
  std::vector<uint16_t> mb(mid.size());
  fc1.forward_gelu_to_bf16(p1.x.data(), mb.data(), M);
  fc2.forward_bf16_input(mb.data(), got.data(), M);
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  const double rel = std::sqrt(num / den);
  std::printf("[ measured ] fused vs unfused MLP relative rms %.2e\n", rel);
  EXPECT_LT(rel, 1e-3);
  EXPECT_GT(den, 0.0);
}

TEST(LinearBF16, EmulationFallbackBelowAvx512) {
  ForcedIsa forced("avx2");
  Problem p = make_problem(33, 40, 96, 3);
  LinearBF16 lin(p.W.data(), p.b.data(), p.N, p.K);
  EXPECT_FALSE(lin.native_bf16());
  check_bf16(lin, p);
  std::vector<uint16_t> exported(p.W.size()), direct(p.W.size());
  lin.export_bf16(exported.data());
  LinearBF16::convert_weights(p.W.data(), static_cast<int64_t>(p.W.size()), direct.data());
  EXPECT_EQ(exported, direct);
}

TEST(LinearBF16, SerialisedWeightsRoundTrip) {
  Problem p = make_problem(19, 24, 80, 4);
  LinearBF16 a(p.W.data(), p.b.data(), p.N, p.K);
  std::vector<uint16_t> exported(p.W.size()), direct(p.W.size());
  a.export_bf16(exported.data());
  LinearBF16::convert_weights(p.W.data(), static_cast<int64_t>(p.W.size()), direct.data());
  EXPECT_EQ(exported, direct);
  LinearBF16 b = LinearBF16::from_bf16(exported.data(), p.b.data(), p.N, p.K);
  std::vector<float> ya(static_cast<size_t>(p.M) * p.N), yb(ya.size());
  a.forward(p.x.data(), ya.data(), p.M);
  b.forward(p.x.data(), yb.data(), p.M);
  EXPECT_EQ(ya, yb);
  EXPECT_EQ(a.weight_bytes(), b.weight_bytes());
}

TEST(LinearLowp, WeightBytesShrinkWithPrecision) {
  // Packed layouts pad tiny matrices, so check a block-sized one: bf16 ~1/2, int8 ~1/4 of fp32.
  Problem p = make_problem(1, 256, 256, 6);
  const size_t f32 = LinearF32Packed(p.W.data(), p.b.data(), p.N, p.K).weight_bytes();
  LinearBF16 lin_bf16(p.W.data(), p.b.data(), p.N, p.K);
  const size_t bf16 = lin_bf16.weight_bytes();
  const size_t i8 = LinearW8A8(p.W.data(), p.b.data(), p.N, p.K).weight_bytes();
  EXPECT_GE(f32, p.W.size() * 4);
  if (lin_bf16.native_bf16()) {
    EXPECT_LT(bf16, f32 * 0.55);
  }
  EXPECT_LT(i8, f32 * 0.3);
}

// Exact result of the integer pipeline: per-row/per-channel quantisation (generic code),
// int64 dot products, then the two scales and bias in double.
std::vector<double> w8a8_exact(const Problem& p) {
  std::vector<int8_t> wq(p.W.size()), xq(p.x.size());
  std::vector<float> sw(p.N), sx(p.M);
  LinearW8A8::quantize_weights(p.W.data(), p.N, p.K, wq.data(), sw.data());
  detail::quantize_rows_s8_generic(p.x.data(), p.M, p.K, xq.data(), sx.data());
  std::vector<double> y(static_cast<size_t>(p.M) * p.N);
  for (int m = 0; m < p.M; ++m)
    for (int n = 0; n < p.N; ++n) {
      int64_t acc = 0;
      for (int k = 0; k < p.K; ++k) acc += int64_t{xq[m * p.K + k]} * wq[n * p.K + k];
      y[m * p.N + n] = static_cast<double>(acc) * sx[m] * sw[n] + p.b[n];
    }
  return y;
}

TEST(LinearW8A8, MatchesIntegerPipelineAndQuantisationBound) {
  for (auto& s : kShapes) {
    SCOPED_TRACE(std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]));
    Problem p = make_problem(s[0], s[1], s[2], 31 + s[0]);
    LinearW8A8 lin(p.W.data(), p.b.data(), p.N, p.K);
    std::vector<float> y(static_cast<size_t>(p.M) * p.N);
    lin.forward(p.x.data(), y.data(), p.M);
    // 1) oneDNN's s8s8 GEMM (with its internal compensation) is exact in int32; only the fp32
    //    dequantisation rounds: 1e-6 relative to |y| + the bias.
    auto exact = w8a8_exact(p);
    Ref fp = reference(p, ident, ident);
    double worst_exact = 0, worst_fp = 0, sq = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      worst_exact = std::max(worst_exact, std::fabs(y[i] - exact[i]) / (std::fabs(exact[i]) + 1e-3));
      const double e = std::fabs(y[i] - fp.y[i]) / fp.scale[i];
      worst_fp = std::max(worst_fp, e);
      sq += e * e;
    }
    EXPECT_LT(worst_exact, 1e-5);
    // 2) Against fp32: |dx| <= sx/2, |dw| <= sw/2 per element with sx = max|x_m|/127,
    //    sw = max|W_n|/127. For Gaussian data max|.| ~ 3-4 sigma, so the relative error of a
    //    product is ~ (4/127)/2 per operand: worst-case 2 * (4.5/254) = 3.5% of S; errors of
    //    opposite sign cancel, so measured on these shapes: RMS 0.05-0.26% of S, max 0.8%.
    //    Tolerance 2% of S.
    std::printf("[ measured ] W8A8 %dx%dx%d error / S: max %.4f rms %.4f\n", p.M, p.N, p.K,
                worst_fp, std::sqrt(sq / y.size()));
    EXPECT_LT(worst_fp, 0.02);
  }
}

TEST(LinearW8A8, SerialisedWeightsRoundTrip) {
  Problem p = make_problem(23, 40, 96, 5);
  LinearW8A8 a(p.W.data(), p.b.data(), p.N, p.K);
  std::vector<int8_t> wq(p.W.size()), wq2(p.W.size());
  std::vector<float> sc(p.N), sc2(p.N);
  LinearW8A8::quantize_weights(p.W.data(), p.N, p.K, wq.data(), sc.data());
  a.export_quantized(wq2.data(), sc2.data());
  EXPECT_EQ(wq, wq2);
  EXPECT_EQ(sc, sc2);
  LinearW8A8 b = LinearW8A8::from_quantized(wq.data(), sc.data(), p.b.data(), p.N, p.K);
  std::vector<float> ya(static_cast<size_t>(p.M) * p.N), yb(ya.size());
  a.forward(p.x.data(), ya.data(), p.M);
  b.forward(p.x.data(), yb.data(), p.M);
  EXPECT_EQ(ya, yb);
  sc[3] = 0.0f;
  EXPECT_THROW(LinearW8A8::from_quantized(wq.data(), sc.data(), nullptr, p.N, p.K),
               std::invalid_argument);
  EXPECT_THROW(LinearW8A8(p.W.data(), nullptr, 0, p.K), std::invalid_argument);
}

TEST(LinearLowp, Avx512HelpersAreBitIdenticalToGeneric) {
  if (detected_isa() < IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::vector<float> x;
  std::mt19937 g(9);
  std::normal_distribution<float> nd;
  for (int i = 0; i < 4099; ++i) x.push_back(nd(g) * std::ldexp(1.0f, (i % 60) - 30));
  const float specials[] = {0.0f, -0.0f, 1.0f, INFINITY, -INFINITY, std::nanf(""),
                            1e-40f, -3e-39f, 1.00390625f /* tie */, 1.01171875f /* tie */,
                            3.4e38f, std::numeric_limits<float>::denorm_min()};
  for (float v : specials) x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> a(n), b(n);
  detail::f32_to_bf16_generic(x.data(), n, a.data());
  detail::f32_to_bf16_avx512(x.data(), n, b.data());
  EXPECT_EQ(a, b);
  // Quantisation on finite rows of odd width.
  const int K = 77, M = 40;
  std::vector<float> xr(static_cast<size_t>(M) * K);
  for (auto& v : xr) v = nd(g) * 3.0f;
  std::fill(xr.begin(), xr.begin() + K, 0.0f);  // an all-zero row
  std::vector<int8_t> qa(xr.size()), qb(xr.size());
  std::vector<float> sa(M), sb(M);
  detail::quantize_rows_s8_generic(xr.data(), M, K, qa.data(), sa.data());
  detail::quantize_rows_s8_avx512(xr.data(), M, K, qb.data(), sb.data());
  EXPECT_EQ(qa, qb);
  EXPECT_EQ(sa, sb);
}

}  // namespace
}  // namespace vggt::ops

namespace vggt::ops {
namespace {

// Activations shaped like VGGT's: a few heavy channels in every token, and in every `period`
// rows the first `special` (camera/register tokens) far larger again.
Problem outlier_problem(int M, int N, int K, int period, int special) {
  Problem p = make_problem(M, N, K, 77);
  for (int m = 0; m < M; ++m)
    for (int c : {3, 17, K / 2 + 1}) p.x[static_cast<size_t>(m) * K + c] *= 30.0f;
  for (int m = 0; m < M; ++m)
    if (m % period < special) p.x[static_cast<size_t>(m) * K + 5] = 800.0f;
  return p;
}

// RMS of (y - exact) over the rows `pick` selects, relative to the RMS of exact there.
template <class Pick>
double rel_error(const Problem& p, const std::vector<float>& y, Pick pick) {
  double ee = 0, rr = 0;
  for (int m = 0; m < p.M; ++m) {
    if (!pick(m)) continue;
    for (int n = 0; n < p.N; ++n) {
      double s = p.b[n];
      for (int k = 0; k < p.K; ++k) s += double{p.x[m * p.K + k]} * p.W[n * p.K + k];
      const double d = y[m * p.N + n] - s;
      ee += d * d;
      rr += s * s;
    }
  }
  return std::sqrt(ee / rr);
}

TEST(LinearW8A8Outliers, HadamardRotationCutsTheErrorOfHeavyChannels) {
  const int M = 40, N = 64, K = 256;
  Problem p = outlier_problem(M, N, K, 10, 0 /* heavy channels only */);
  std::vector<float> plain(static_cast<size_t>(M) * N), rot(plain.size());
  LinearW8A8(p.W.data(), p.b.data(), N, K).forward(p.x.data(), plain.data(), M);
  LinearW8A8 h(p.W.data(), p.b.data(), N, K, /*hadamard=*/true);
  ASSERT_TRUE(h.hadamard());
  h.forward(p.x.data(), rot.data(), M);
  const auto all = [](int) { return true; };
  const double e_plain = rel_error(p, plain, all), e_rot = rel_error(p, rot, all);
  std::printf("[ measured ] heavy channels: plain %.4f, hadamard %.4f (relative RMS)\n", e_plain, e_rot);
  // Plain: the 30x channels set each token's scale, the rest keep ~log2(127/30) bits. The
  // rotation spreads them over all K channels. Measured: plain 0.0285, hadamard 0.0086.
  EXPECT_LT(e_rot, e_plain / 3);
  EXPECT_LT(e_rot, 0.015);

  // Serialised rotated weights give the same layer; K not a power of two is left unrotated.
  std::vector<int8_t> wq(p.W.size());
  std::vector<float> sc(N);
  LinearW8A8::quantize_weights(p.W.data(), N, K, wq.data(), sc.data(), true);
  std::vector<float> again(plain.size());
  LinearW8A8::from_quantized(wq.data(), sc.data(), p.b.data(), N, K, true).forward(p.x.data(), again.data(), M);
  EXPECT_EQ(again, rot);
  EXPECT_FALSE(LinearW8A8::rotates(96, true));
  EXPECT_TRUE(LinearW8A8::rotates(4096, true));
  Problem q = make_problem(5, 8, 96, 4);
  std::vector<float> ya(40), yb(40);
  LinearW8A8(q.W.data(), q.b.data(), 8, 96).forward(q.x.data(), ya.data(), 5);
  LinearW8A8(q.W.data(), q.b.data(), 8, 96, true).forward(q.x.data(), yb.data(), 5);
  EXPECT_EQ(ya, yb);
}

TEST(LinearW8A8Outliers, SpecialRowsGetASecondLevelAndTheOthersAreUntouched) {
  const int M = 30, N = 48, K = 128, period = 10, special = 5;
  Problem p = outlier_problem(M, N, K, period, special);
  LinearW8A8 lin(p.W.data(), p.b.data(), N, K);
  std::vector<float> plain(static_cast<size_t>(M) * N), two(plain.size());
  lin.forward(p.x.data(), plain.data(), M);
  lin.forward(p.x.data(), two.data(), M, period, special);
  const auto is_special = [&](int m) { return m % period < special; };
  const auto other = [&](int m) { return m % period >= special; };
  for (int m = 0; m < M; ++m)
    if (other(m))
      for (int n = 0; n < N; ++n) ASSERT_EQ(two[m * N + n], plain[m * N + n]) << m;
  // Judged against the product with the int8 weights as they are (dequantised), so only the
  // activations' rounding counts: the second level is what it changes.
  Problem dq = p;
  std::vector<int8_t> wq(p.W.size());
  std::vector<float> sw(N);
  LinearW8A8::quantize_weights(p.W.data(), N, K, wq.data(), sw.data());
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) dq.W[n * K + k] = wq[n * K + k] * sw[n];
  const double e_plain = rel_error(dq, plain, is_special), e_two = rel_error(dq, two, is_special);
  std::printf("[ measured ] special rows, activation error: one level %.2e, two levels %.2e (relative RMS)\n",
              e_plain, e_two);
  // One level: the 800 entry leaves the rest of the row one step (6.3) wide, mostly rounded to
  // zero. Two levels: ~14-bit activations. Measured: one level 1.5e-2, two levels 9.4e-5.
  EXPECT_LT(e_two, e_plain / 30);
  EXPECT_LT(e_two, 1e-3);
}

TEST(LinearW8A8Residual, SpecialRowsGetNearExactWeightsAndTheOthersTheirMeansCorrection) {
  const int M = 40, N = 48, K = 128, period = 10, special = 5;
  Problem p = make_problem(M, N, K, 77);
  for (int m = 0; m < M; ++m)
    if (m % period < special) p.x[static_cast<size_t>(m) * K + 5] = 800.0f;
  // Tokens share a large common part (as after LayerNorm biases or GELU): its product with the
  // weights' rounding error is the same for every token, so the mean's correction removes it.
  std::mt19937 g(5);
  std::normal_distribution<float> nd;
  std::vector<float> common(K);
  for (auto& v : common) v = 3.0f * nd(g);
  for (int m = 0; m < M; ++m)
    if (m % period >= special)
      for (int k = 0; k < K; ++k) p.x[static_cast<size_t>(m) * K + k] = 0.3f * p.x[static_cast<size_t>(m) * K + k] + common[k];
  LinearW8A8 plain_lin(p.W.data(), p.b.data(), N, K);
  LinearW8A8 res_lin(p.W.data(), p.b.data(), N, K, false, /*residual=*/true);
  ASSERT_FALSE(plain_lin.has_residual());
  ASSERT_TRUE(res_lin.has_residual());
  std::vector<float> plain(static_cast<size_t>(M) * N), res(plain.size());
  plain_lin.forward(p.x.data(), plain.data(), M, period, special);
  res_lin.forward(p.x.data(), res.data(), M, period, special);
  const auto is_special = [&](int m) { return m % period < special; };
  const auto other = [&](int m) { return m % period >= special; };
  const double sp_plain = rel_error(p, plain, is_special), sp_res = rel_error(p, res, is_special);
  const double ot_plain = rel_error(p, plain, other), ot_res = rel_error(p, res, other);
  std::printf("[ measured ] vs exact weights: special rows %.2e -> %.2e, other rows %.2e -> %.2e (relative RMS)\n",
              sp_plain, sp_res, ot_plain, ot_res);
  // Special rows: two-level activations and ~16-bit weights; only the level-2 activations
  // against the residual (two small factors) are left out, and the activations' own ~14-bit
  // rounding remains. Measured 6.7e-3 -> 1.4e-4.
  EXPECT_LT(sp_res, sp_plain / 20);
  EXPECT_LT(sp_res, 3e-4);
  // Other rows: what the weights' rounding does to the common part is gone; the per-token
  // remainder stays. Measured 9.0e-3 -> 5.9e-3.
  EXPECT_LT(ot_res, ot_plain / 1.3);
  // ... and the correction is one vector for all of them (a per-call bias).
  for (int m = 0; m < M; ++m)
    if (other(m))
      for (int n = 0; n < N; ++n)
        ASSERT_NEAR(res[m * N + n] - plain[m * N + n], res[(period - 1) * N + n] - plain[(period - 1) * N + n],
                    1e-5 * (1 + std::fabs(plain[m * N + n])))
            << m << " " << n;

  // Serialised (quantised weights + residual) gives the same layer; the residual doubles the
  // int8 weight bytes.
  std::vector<int8_t> wq(p.W.size()), rq(p.W.size()), rq2(p.W.size());
  std::vector<float> sw(N), rs(N), rs2(N);
  LinearW8A8::quantize_weights(p.W.data(), N, K, wq.data(), sw.data());
  LinearW8A8::quantize_residual(p.W.data(), wq.data(), sw.data(), N, K, rq.data(), rs.data());
  LinearW8A8 again = LinearW8A8::from_quantized(wq.data(), sw.data(), p.b.data(), N, K);
  again.set_residual(rq.data(), rs.data());
  std::vector<float> y2(plain.size());
  again.forward(p.x.data(), y2.data(), M, period, special);
  EXPECT_EQ(y2, res);
  res_lin.export_residual(rq2.data(), rs2.data());
  EXPECT_EQ(rq2, rq);
  EXPECT_EQ(rs2, rs);
  EXPECT_GE(res_lin.weight_bytes(), plain_lin.weight_bytes() + static_cast<size_t>(N) * K);
  // Residual scales are checked like the weights' own.
  rs[3] = 0.0f;
  EXPECT_THROW(again.set_residual(rq.data(), rs.data()), std::invalid_argument);
}

}  // namespace
}  // namespace vggt::ops

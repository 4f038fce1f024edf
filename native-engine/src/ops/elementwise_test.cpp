// GELU (exact, erf form) on every ISA path against a double-precision reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/cpu_features.h"
#include "ops/elementwise.h"

namespace vggt::ops {
namespace {

TEST(Gelu, VectorPathMatchesDoubleReference) {
  if (detected_isa() != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 on this CPU: vector GELU not used";
  std::vector<float> x;
  for (float v = -12.f; v <= 12.f; v += 0.00137f) x.push_back(v);
  x.push_back(0.f);
  x.push_back(-0.f);
  std::vector<float> y = x;
  detail::gelu_erf_avx512(y.data(), static_cast<int64_t>(y.size()));
  // The erfc fit is fractional (< 1.2e-7); in float the exponent -z^2 + p(t) carries an absolute
  // rounding of about z^2 * 2^-24, so the relative error grows as (1 + x^2/2) * ~1e-7 on the far
  // negative tail (values below 1e-6 there). The scalar float path, 1 + erf(z), loses those
  // values entirely to cancellation.
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = 0.5 * x[i] * std::erfc(-x[i] / std::sqrt(2.0));
    if (ref == 0) continue;
    const double rel = std::fabs(y[i] - ref) / std::fabs(ref);
    const double bound = (1.0 + 0.5 * x[i] * x[i]) * 4e-7;  // ~3 ulp near 0
    worst = std::max(worst, rel / bound);
    ASSERT_LE(rel, bound) << "x = " << x[i] << " rel " << rel;
  }
  std::printf("[ gelu     ] worst error / bound = %.2f over [-12, 12]\n", worst);
}

TEST(Gelu, DispatchedResultAgreesWithScalarErf) {
  std::vector<float> x(100003);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((static_cast<int64_t>(i * 7919) % 20001) - 10000) / 1000.f;
  std::vector<float> y = x;
  gelu_erf(y.data(), static_cast<int64_t>(y.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const float ref = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678118654752f));
    ASSERT_NEAR(y[i], ref, 1e-6f * std::max(1.f, std::fabs(ref))) << x[i];
  }
}

}  // namespace
}  // namespace vggt::ops

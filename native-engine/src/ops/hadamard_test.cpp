#include "ops/hadamard.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/cpu_features.h"

namespace vggt::ops {
namespace {

TEST(Hadamard, MatchesTheExplicitMatrixAndIsItsOwnInverseTimesN) {
  for (int n : {1, 2, 8, 16, 64, 1024}) {
    SCOPED_TRACE(n);
    std::mt19937 g(n);
    std::uniform_int_distribution<int> d(-8, 8);  // small integers: every sum is exact in fp32
    std::vector<float> x(n), y(n);
    for (auto& v : x) v = static_cast<float>(d(g));
    y = x;
    fwht(y.data(), n);
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int j = 0; j < n; ++j) s += (__builtin_popcount(i & j) & 1 ? -1.0 : 1.0) * x[j];
      ASSERT_EQ(y[i], s) << "row " << i;
    }
    fwht(y.data(), n);
    for (int i = 0; i < n; ++i) ASSERT_EQ(y[i], x[i] * n);
  }
  EXPECT_TRUE(is_power_of_two(4096));
  EXPECT_FALSE(is_power_of_two(768));
  EXPECT_FALSE(is_power_of_two(0));
}

TEST(Hadamard, Avx512IsBitIdenticalToGeneric) {
  if (detected_isa() < IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 g(3);
  std::normal_distribution<float> nd;
  for (int n : {16, 32, 1024, 4096}) {
    std::vector<float> a(n);
    for (auto& v : a) v = nd(g) * 100.0f;
    std::vector<float> b = a;
    detail::fwht_generic(a.data(), n);
    detail::fwht_avx512(b.data(), n);
    EXPECT_EQ(a, b) << n;
  }
}

}  // namespace
}  // namespace vggt::ops

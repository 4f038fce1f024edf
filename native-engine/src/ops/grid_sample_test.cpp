// Bilinear point sampling with grid_sample(align_corners=True) semantics and 2x2 average pooling.
#include "ops/grid_sample.h"

#include <gtest/gtest.h>

namespace vggt::ops {
namespace {

// A 3 x 4 single-channel map with value 10*y + x.
Tensor ramp() {
  Tensor m({3, 4, 1});
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) m[y * 4 + x] = 10.f * y + x;
  return m;
}

float at(const Tensor& m, float x, float y, GridPadding pad) {
  float v;
  sample_bilinear(m.data(), 3, 4, 1, x, y, pad, &v);
  return v;
}

TEST(GridSample, IntegerCoordinatesArePixelCentres) {
  const Tensor m = ramp();
  EXPECT_FLOAT_EQ(at(m, 0, 0, GridPadding::Zeros), 0.f);
  EXPECT_FLOAT_EQ(at(m, 3, 2, GridPadding::Zeros), 23.f);
  EXPECT_FLOAT_EQ(at(m, 2, 1, GridPadding::Border), 12.f);
}

TEST(GridSample, BilinearBetweenCentres) {
  const Tensor m = ramp();
  EXPECT_NEAR(at(m, 1.25f, 0.5f, GridPadding::Zeros), 5.f + 1.25f, 1e-5);
  EXPECT_NEAR(at(m, 2.5f, 1.75f, GridPadding::Border), 17.5f + 2.5f, 1e-5);
}

TEST(GridSample, ZerosPaddingFadesOutBorderClamps) {
  const Tensor m = ramp();
  // Half a pixel beyond the last column: zeros padding mixes in a zero, border repeats the edge.
  EXPECT_NEAR(at(m, 3.5f, 1, GridPadding::Zeros), 0.5f * 13.f, 1e-5);
  EXPECT_NEAR(at(m, 3.5f, 1, GridPadding::Border), 13.f, 1e-5);
  EXPECT_NEAR(at(m, -1.f, -1.f, GridPadding::Border), 0.f, 1e-6);
  EXPECT_EQ(at(m, -5.f, 1, GridPadding::Zeros), 0.f);
  EXPECT_EQ(at(m, 1, 7.f, GridPadding::Zeros), 0.f);
}

TEST(GridSample, AvgPoolDropsTheOddLastRowAndColumn) {
  Tensor x({1, 3, 5, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i);
  Tensor y = avg_pool2x2(x);
  ASSERT_EQ(y.shape(), (std::vector<int64_t>{1, 1, 2, 2}));
  // Window (rows 0-1, cols 0-1), channel 0: elements 0, 2, 10, 12.
  EXPECT_FLOAT_EQ(y[0], (0 + 2 + 10 + 12) / 4.f);
  EXPECT_FLOAT_EQ(y[3], (5 + 7 + 15 + 17) / 4.f);
}

}  // namespace
}  // namespace vggt::ops

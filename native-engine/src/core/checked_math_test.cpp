#include "core/checked_math.h"

#include <gtest/gtest.h>

#include "core/tensor.h"

namespace vggt {
namespace {

TEST(CheckedMath, NumelRefusesOverflowNegativeAndHugeShapes) {
  EXPECT_EQ(checked_numel({2, 3, 14, 14}), 1176);
  EXPECT_EQ(checked_numel({}), 1);
  EXPECT_EQ(checked_numel({0, int64_t{1} << 20}), 0);
  // Empty, but its strides would overflow: refused like the non-empty shape.
  EXPECT_THROW(checked_numel({0, int64_t{1} << 40, int64_t{1} << 40}), SizeError);
  // (2^62 + 1) * 3 * 14 * 14 wraps to 588 in 64-bit arithmetic: the 2.5 KB input tensor crash.
  EXPECT_THROW(checked_numel({(int64_t{1} << 62) + 1, 3, 14, 14}), SizeError);
  EXPECT_THROW(checked_numel({-1, 3}), SizeError);
  EXPECT_THROW(checked_numel({limits::kMaxTensorElements + 1}), SizeError);
  EXPECT_EQ(checked_numel({limits::kMaxTensorElements}), limits::kMaxTensorElements);
  EXPECT_THROW(checked_numel(std::vector<int64_t>(limits::kMaxTensorRank + 1, 1)), SizeError);
  try {
    checked_numel({int64_t{1} << 40, int64_t{1} << 40});
    FAIL() << "no error";
  } catch (const SizeError& e) {
    EXPECT_NE(std::string(e.what()).find("[1099511627776, 1099511627776] has more than 4294967296 elements"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(checked_bytes(INT64_MAX, 4), SizeError);
  EXPECT_EQ(checked_bytes(10, 4), 40u);
  EXPECT_THROW(checked_add(UINT64_MAX, 1, "x"), SizeError);
}

TEST(CheckedMath, TensorsRefuseShapesWhoseSizeWraps) {
  EXPECT_THROW(Tensor({(int64_t{1} << 62) + 1, 3, 14, 14}), SizeError);
  EXPECT_THROW(Tensor({-5, 3}), SizeError);
  float x = 0;
  EXPECT_THROW(Tensor::view(&x, {(int64_t{1} << 62) + 1, 4}), SizeError);
  Tensor t({2, 3});
  EXPECT_THROW(t.reshape({(int64_t{1} << 62) + 1, 4}), SizeError);
}

}  // namespace
}  // namespace vggt

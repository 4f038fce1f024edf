#include "ops/conv.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "ops/linear_lowp.h"

namespace vggt::ops {
namespace {

Tensor random_tensor(std::vector<int64_t> shape, unsigned seed, float s) {
  Tensor t(shape);
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.f, s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = nd(g);
  return t;
}

// A bf16 convolution given its input already in bf16 computes exactly what it computes from the
// fp32 input (which it rounds to bf16 itself), with and without its fused epilogues.
TEST(Conv2d, Bf16InputEqualsFp32InputInBf16Mode) {
  const int64_t N = 1, H = 9, W = 11, IC = 32, OC = 16;
  const Tensor x = random_tensor({N, H, W, IC}, 1, 1.f), w = random_tensor({OC, IC, 3, 3}, 2, 0.1f),
               b = random_tensor({OC}, 3, 0.1f), res = random_tensor({N, H, W, OC}, 4, 1.f);
  Conv2d conv(w, b, 1, 1);
  conv.set_bf16(true);
  std::vector<uint16_t> xb(x.numel());
  detail::f32_to_bf16(x.data(), x.numel(), xb.data());
  for (int epilogue = 0; epilogue < 3; ++epilogue) {
    const Tensor* r = epilogue == 2 ? &res : nullptr;
    const Tensor y0 = conv.forward(x, epilogue == 1, r);
    const Tensor y1 = conv.forward_bf16_input(xb.data(), N, H, W, IC, epilogue == 1, r);
    ASSERT_EQ(y0.shape(), y1.shape());
    int64_t mismatches = 0;
    for (int64_t i = 0; i < y0.numel(); ++i) mismatches += y0[i] != y1[i];
    EXPECT_EQ(mismatches, 0) << "epilogue " << epilogue;
  }
  // The bf16 rounding really happened: fp32 mode gives a different result.
  Conv2d f32(w, b, 1, 1);
  EXPECT_NE(f32.forward(x)[5], conv.forward(x)[5]);
  EXPECT_THROW(f32.forward_bf16_input(xb.data(), N, H, W, IC), std::logic_error);
}

// The bf16 output of relu(conv) is the fp32 output rounded to bf16, bit for bit, so a bf16
// convolution chained on it computes what it computed from the fp32 map.
TEST(Conv2d, Bf16ReluOutputIsTheRoundedFp32Output) {
  const int64_t N = 1, H = 9, W = 11, IC = 32, OC = 16;
  const Tensor x = random_tensor({N, H, W, IC}, 5, 1.f), w = random_tensor({OC, IC, 3, 3}, 6, 0.1f),
               b = random_tensor({OC}, 7, 0.1f);
  Conv2d conv(w, b, 1, 1);
  conv.set_bf16(true);
  const Tensor ref = conv.forward(x, /*relu=*/true);
  std::vector<uint16_t> want(ref.numel());
  detail::f32_to_bf16(ref.data(), ref.numel(), want.data());
  const Tensor got = conv.forward_relu_to_bf16(x);
  ASSERT_EQ(got.numel(), (ref.numel() + 1) / 2);
  const auto* g = reinterpret_cast<const uint16_t*>(got.data());
  int64_t mismatches = 0, zeros = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    mismatches += g[i] != want[i];
    zeros += g[i] == 0;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(zeros, ref.numel() / 10);  // the ReLU ran
  EXPECT_LT(zeros, ref.numel());
  Conv2d f32(w, b, 1, 1);
  EXPECT_THROW(f32.forward_relu_to_bf16(x), std::logic_error);
}

}  // namespace
}  // namespace vggt::ops

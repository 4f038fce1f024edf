#include "ops/resize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "ops/linear_lowp.h"

namespace vggt::ops {
namespace {

// PyTorch's align_corners=True bilinear on one NCHW plane, written out per output pixel (the
// formula the channels-last kernel must reproduce bit for bit: same products, same order).
float direct(const Tensor& x, int64_t nc, int64_t i, int64_t j, int64_t oh, int64_t ow) {
  const int64_t H = x.dim(2), W = x.dim(3);
  const float sh = oh > 1 ? static_cast<float>(H - 1) / static_cast<float>(oh - 1) : 0.f;
  const float sw = ow > 1 ? static_cast<float>(W - 1) / static_cast<float>(ow - 1) : 0.f;
  const float sy = sh * i, sx = sw * j;
  const int64_t y0 = std::min(static_cast<int64_t>(sy), H - 1), x0 = std::min(static_cast<int64_t>(sx), W - 1);
  const int64_t y1 = y0 + (y0 < H - 1), x1 = x0 + (x0 < W - 1);
  const float ly = sy - y0, lx = sx - x0, hy = 1.f - ly, hx = 1.f - lx;
  const float* p = x.data() + nc * H * W;
  return hy * (hx * p[y0 * W + x0] + lx * p[y0 * W + x1]) + ly * (hx * p[y1 * W + x0] + lx * p[y1 * W + x1]);
}

TEST(ResizeBilinear, ChannelsLastKernelEqualsTheDirectFormulaBitwise) {
  struct Case { int64_t n, c, h, w, oh, ow; };
  for (const Case& k : {Case{1, 3, 25, 37, 50, 74}, Case{2, 2, 100, 148, 350, 518}, Case{1, 1, 1, 5, 3, 9},
                        Case{1, 2, 7, 1, 13, 4}, Case{1, 1, 6, 6, 1, 1}, Case{1, 4, 13, 19, 25, 37}}) {
    Tensor x({k.n, k.c, k.h, k.w});
    std::mt19937 g(static_cast<unsigned>(k.h * 131 + k.w));
    std::normal_distribution<float> nd;
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = nd(g);
    Tensor xl({k.n, k.h, k.w, k.c});  // the same values, channels-last
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t c = 0; c < k.c; ++c)
        for (int64_t p = 0; p < k.h * k.w; ++p) xl[(n * k.h * k.w + p) * k.c + c] = x[(n * k.c + c) * k.h * k.w + p];
    Tensor y = resize_bilinear_align_corners(xl, k.oh, k.ow);
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{k.n, k.oh, k.ow, k.c}));
    int64_t mismatches = 0;
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t c = 0; c < k.c; ++c)
        for (int64_t i = 0; i < k.oh; ++i)
          for (int64_t j = 0; j < k.ow; ++j)
            mismatches += y[((n * k.oh + i) * k.ow + j) * k.c + c] != direct(x, n * k.c + c, i, j, k.oh, k.ow);
    EXPECT_EQ(mismatches, 0) << k.h << "x" << k.w << " -> " << k.oh << "x" << k.ow;
    // Corners are copied exactly (align_corners=True).
    EXPECT_EQ(y[0], xl[0]);
  }
}

TEST(ResizeBilinear, FusedAddEqualsResizeThenAddBitwise) {
  // Two images sharing one [oh, ow, C] addend, as the DPT heads add their positional embedding.
  const int64_t n = 2, h = 25, w = 37, c = 8, oh = 350, ow = 518;
  Tensor x({n, h, w, c}), pe({oh, ow, c});
  std::mt19937 g(7);
  std::normal_distribution<float> nd;
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 5.f * nd(g);
  for (int64_t i = 0; i < pe.numel(); ++i) pe[i] = 0.1f * nd(g);
  Tensor ref = resize_bilinear_align_corners(x, oh, ow);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < pe.numel(); ++i) ref[b * pe.numel() + i] += pe[i];
  Tensor y = resize_bilinear_align_corners_add(x, oh, ow, pe);
  ASSERT_EQ(y.shape(), ref.shape());
  int64_t mismatches = 0;
  for (int64_t i = 0; i < y.numel(); ++i) mismatches += y[i] != ref[i];
  EXPECT_EQ(mismatches, 0);
  EXPECT_NE(y[12345], resize_bilinear_align_corners(x, oh, ow)[12345]);  // the addend was added
  EXPECT_THROW(resize_bilinear_align_corners_add(x, oh, ow + 1, pe), std::invalid_argument);
}

TEST(ResizeBilinear, Bf16OutputIsTheRoundedFp32Output) {
  const int64_t h = 25, w = 37, c = 16, oh = 100, ow = 148;
  Tensor x({2, h, w, c}), pe({oh, ow, c});
  std::mt19937 g(9);
  std::normal_distribution<float> nd;
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = nd(g);
  for (int64_t i = 0; i < pe.numel(); ++i) pe[i] = 0.1f * nd(g);
  const Tensor* const adds[] = {nullptr, &pe};
  for (const Tensor* add : adds) {
    const Tensor ref = add ? resize_bilinear_align_corners_add(x, oh, ow, *add) : resize_bilinear_align_corners(x, oh, ow);
    std::vector<uint16_t> want(ref.numel()), got(ref.numel(), 0xFFFF);
    detail::f32_to_bf16(ref.data(), ref.numel(), want.data());
    resize_bilinear_align_corners_bf16(x, oh, ow, add, got.data());
    EXPECT_EQ(got, want) << (add ? "with addend" : "plain");
  }
}

}  // namespace
}  // namespace vggt::ops

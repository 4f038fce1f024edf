#include "ops/resize.h"

#include <stdexcept>

#include "ops/linear_lowp.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace vggt::ops {

namespace {

// addend: null, or [oh, ow, C] added to every image's output in the same pass. Writes fp32 to
// out_f32, or (out_f32 null) each output row rounded to bf16 into out_bf16.
void resize_bilinear_impl(const Tensor& x, int64_t oh, int64_t ow, const float* addend, float* out_f32,
                          uint16_t* out_bf16) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const float sh = oh > 1 ? static_cast<float>(H - 1) / static_cast<float>(oh - 1) : 0.f;
  const float sw = ow > 1 ? static_cast<float>(W - 1) / static_cast<float>(ow - 1) : 0.f;
  std::vector<int64_t> x0(ow), x1(ow);
  std::vector<float> lx(ow);
  for (int64_t j = 0; j < ow; ++j) {
    const float src = sw * j;
    x0[j] = std::min(static_cast<int64_t>(src), W - 1);
    x1[j] = x0[j] + (x0[j] < W - 1 ? 1 : 0);
    lx[j] = src - x0[j];
  }
  // Channels are contiguous: every output pixel is four contiguous rows of C blended with the
  // same two weights per axis, which vectorises over C.
#pragma omp parallel
  {
  std::vector<float> row(out_f32 ? 0 : static_cast<size_t>(ow * C));
#pragma omp for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < oh; ++i) {
      const float src = sh * i;
      const int64_t y0 = std::min(static_cast<int64_t>(src), H - 1);
      const int64_t y1 = y0 + (y0 < H - 1 ? 1 : 0);
      const float ly = src - y0, hy = 1.f - ly;
      const float* r0 = x.data() + (n * H + y0) * W * C;
      const float* r1 = x.data() + (n * H + y1) * W * C;
      float* o = out_f32 ? out_f32 + (n * oh + i) * ow * C : row.data();
      for (int64_t j = 0; j < ow; ++j) {
        const float l = lx[j], h = 1.f - l;
        const float* a = r0 + x0[j] * C;
        const float* b = r0 + x1[j] * C;
        const float* c = r1 + x0[j] * C;
        const float* d = r1 + x1[j] * C;
        float* oj = o + j * C;
        if (addend) {
          // Same bits as blending, storing, then ops::add: the blend is rounded to float first.
          const float* p = addend + (i * ow + j) * C;
          for (int64_t ch = 0; ch < C; ++ch) {
            const float blend = hy * (h * a[ch] + l * b[ch]) + ly * (h * c[ch] + l * d[ch]);
            oj[ch] = blend + p[ch];
          }
        } else {
          for (int64_t ch = 0; ch < C; ++ch) oj[ch] = hy * (h * a[ch] + l * b[ch]) + ly * (h * c[ch] + l * d[ch]);
        }
      }
      if (!out_f32) detail::f32_to_bf16(row.data(), ow * C, out_bf16 + (n * oh + i) * ow * C);
    }
  }
}

}  // namespace

Tensor resize_bilinear_align_corners(const Tensor& x, int64_t oh, int64_t ow) {
  Tensor out = Tensor::uninitialized({x.dim(0), oh, ow, x.dim(3)});
  resize_bilinear_impl(x, oh, ow, nullptr, out.data(), nullptr);
  return out;
}

Tensor resize_bilinear_align_corners_add(const Tensor& x, int64_t oh, int64_t ow, const Tensor& addend) {
  if (addend.numel() != oh * ow * x.dim(3))
    throw std::invalid_argument("resize_bilinear_align_corners_add: addend is not [oh, ow, C]");
  Tensor out = Tensor::uninitialized({x.dim(0), oh, ow, x.dim(3)});
  resize_bilinear_impl(x, oh, ow, addend.data(), out.data(), nullptr);
  return out;
}

void resize_bilinear_align_corners_bf16(const Tensor& x, int64_t oh, int64_t ow, const Tensor* addend, uint16_t* out) {
  if (addend && addend->numel() != oh * ow * x.dim(3))
    throw std::invalid_argument("resize_bilinear_align_corners_bf16: addend is not [oh, ow, C]");
  resize_bilinear_impl(x, oh, ow, addend ? addend->data() : nullptr, nullptr, out);
}

namespace {

double cubic_aa(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

struct Taps {
  std::vector<int64_t> start, count;
  std::vector<std::vector<double>> w;
};

// Antialiased taps for one axis, following PyTorch's _upsample_*_aa index/weight computation.
Taps aa_taps(int64_t in, int64_t out) {
  Taps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = 2.0 * (scale >= 1.0 ? scale : 1.0);
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  for (int64_t i = 0; i < out; ++i) {
    const double center = scale * (i + 0.5);
    const int64_t xmin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t xmax = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in) - xmin;
    std::vector<double> w(xmax);
    double total = 0;
    for (int64_t j = 0; j < xmax; ++j) {
      w[j] = cubic_aa((j + xmin - center + 0.5) * invscale);
      total += w[j];
    }
    for (auto& v : w) v = total != 0 ? v / total : 0;
    t.start.push_back(xmin);
    t.count.push_back(xmax);
    t.w.push_back(std::move(w));
  }
  return t;
}

}  // namespace

Tensor resize_bicubic_antialias(const Tensor& x, int64_t oh, int64_t ow) {
  const int64_t C = x.dim(0), H = x.dim(1), W = x.dim(2);
  // Width first, then height (PyTorch's separable order).
  const Taps tw = aa_taps(W, ow), th = aa_taps(H, oh);
  std::vector<double> tmp(C * H * ow);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t j = 0; j < ow; ++j) {
        double s = 0;
        for (int64_t k = 0; k < tw.count[j]; ++k) s += tw.w[j][k] * x[(c * H + y) * W + tw.start[j] + k];
        tmp[(c * H + y) * ow + j] = s;
      }
  Tensor out = Tensor::uninitialized({C, oh, ow});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        double s = 0;
        for (int64_t k = 0; k < th.count[i]; ++k) s += th.w[i][k] * tmp[(c * H + th.start[i] + k) * ow + j];
        out[(c * oh + i) * ow + j] = static_cast<float>(s);
      }
  return out;
}

}  // namespace vggt::ops

#include "ops/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace vggt::ops {

Tensor resize_bilinear_align_corners(const Tensor& x, int64_t oh, int64_t ow) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor out = Tensor::uninitialized({N, C, oh, ow});
  const float sh = oh > 1 ? static_cast<float>(H - 1) / static_cast<float>(oh - 1) : 0.f;
  const float sw = ow > 1 ? static_cast<float>(W - 1) / static_cast<float>(ow - 1) : 0.f;
  std::vector<int64_t> x0(ow), x1(ow), y0(oh), y1(oh);
  std::vector<float> lx(ow), hx(ow), ly(oh), hy(oh);
  for (int64_t j = 0; j < ow; ++j) {
    const float src = sw * j;
    x0[j] = std::min(static_cast<int64_t>(src), W - 1);
    x1[j] = x0[j] + (x0[j] < W - 1 ? 1 : 0);
    lx[j] = src - x0[j];
    hx[j] = 1.f - lx[j];
  }
  for (int64_t i = 0; i < oh; ++i) {
    const float src = sh * i;
    y0[i] = std::min(static_cast<int64_t>(src), H - 1);
    y1[i] = y0[i] + (y0[i] < H - 1 ? 1 : 0);
    ly[i] = src - y0[i];
    hy[i] = 1.f - ly[i];
  }
  // Separable: each input row is interpolated along x once (a gather per output column), then
  // every output row is a two-row blend that vectorises. Same products and sums, in the same
  // order, as hy * (hx a + lx b) + ly * (hx c + lx d): bitwise the direct formula.
#pragma omp parallel
  {
    std::vector<float> rows(static_cast<size_t>(H) * ow);
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < N * C; ++nc) {
      const float* src = x.data() + nc * H * W;
      for (int64_t y = 0; y < H; ++y) {
        const float* r = src + y * W;
        float* t = rows.data() + y * ow;
        for (int64_t j = 0; j < ow; ++j) t[j] = hx[j] * r[x0[j]] + lx[j] * r[x1[j]];
      }
      float* o = out.data() + nc * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const float* t0 = rows.data() + y0[i] * ow;
        const float* t1 = rows.data() + y1[i] * ow;
        const float a = hy[i], b = ly[i];
        float* oi = o + i * ow;
        for (int64_t j = 0; j < ow; ++j) oi[j] = a * t0[j] + b * t1[j];
      }
    }
  }
  return out;
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

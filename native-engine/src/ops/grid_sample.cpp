#include "ops/grid_sample.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vggt::ops {

namespace {
// bilinear_sampler's normalisation (scale 2/max(size-1, 1) as float32), then grid_sample's
// align_corners=True unnormalisation.
float round_trip(float v, int64_t size) {
  const float scale = 2.f / static_cast<float>(std::max<int64_t>(size - 1, 1));
  const float n = v * scale - 1.f;
  return ((n + 1.f) / 2.f) * static_cast<float>(size - 1);
}
}  // namespace

BilinearTaps bilinear_taps(float x, float y, int64_t H, int64_t W, GridPadding pad) {
  float ix = round_trip(x, W), iy = round_trip(y, H);
  if (pad == GridPadding::Border) {
    ix = std::min(static_cast<float>(W - 1), std::max(ix, 0.f));
    iy = std::min(static_cast<float>(H - 1), std::max(iy, 0.f));
  }
  const float fx = std::floor(ix), fy = std::floor(iy);
  BilinearTaps t;
  t.x0 = static_cast<int64_t>(fx);
  t.y0 = static_cast<int64_t>(fy);
  const float ex = fx + 1.f, ey = fy + 1.f;
  t.w[0] = (ex - ix) * (ey - iy);  // nw
  t.w[1] = (ix - fx) * (ey - iy);  // ne
  t.w[2] = (ex - ix) * (iy - fy);  // sw
  t.w[3] = (ix - fx) * (iy - fy);  // se
  const bool x0in = t.x0 >= 0 && t.x0 < W, x1in = t.x0 + 1 >= 0 && t.x0 + 1 < W;
  const bool y0in = t.y0 >= 0 && t.y0 < H, y1in = t.y0 + 1 >= 0 && t.y0 + 1 < H;
  t.valid[0] = x0in && y0in;
  t.valid[1] = x1in && y0in;
  t.valid[2] = x0in && y1in;
  t.valid[3] = x1in && y1in;
  return t;
}

void sample_bilinear(const float* map, int64_t H, int64_t W, int64_t C, float x, float y, GridPadding pad,
                     float* out) {
  const BilinearTaps t = bilinear_taps(x, y, H, W, pad);
  std::fill(out, out + C, 0.f);
  const int64_t xs[4] = {t.x0, t.x0 + 1, t.x0, t.x0 + 1}, ys[4] = {t.y0, t.y0, t.y0 + 1, t.y0 + 1};
  for (int k = 0; k < 4; ++k) {
    if (!t.valid[k]) continue;
    const float* p = map + (ys[k] * W + xs[k]) * C;
    const float w = t.w[k];
    for (int64_t c = 0; c < C; ++c) out[c] += w * p[c];
  }
}

Tensor avg_pool2x2(const Tensor& x) {
  if (x.ndim() != 4) throw std::runtime_error("avg_pool2x2: expected [N, H, W, C], got " + x.shape_str());
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3), oh = H / 2, ow = W / 2;
  Tensor y = Tensor::uninitialized({N, oh, ow, C});
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const float* a = x.data() + ((n * H + 2 * i) * W + 2 * j) * C;
        const float* b = a + C;
        const float* c = a + W * C;
        const float* d = c + C;
        float* o = y.data() + ((n * oh + i) * ow + j) * C;
        for (int64_t k = 0; k < C; ++k) o[k] = (a[k] + b[k] + c[k] + d[k]) / 4.f;
      }
  return y;
}

}  // namespace vggt::ops

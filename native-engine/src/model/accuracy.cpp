#include "model/accuracy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vggt {

static double rel_rms(const Tensor& a, const Tensor& ref) {
  if (a.shape() != ref.shape()) throw std::runtime_error("compare_outputs: shape mismatch");
  double dd = 0, rr = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    dd += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
    rr += static_cast<double>(ref[i]) * ref[i];
  }
  return rr > 0 ? std::sqrt(dd / rr) : std::sqrt(dd);
}

Accuracy compare_outputs(const Tensor& depth, const Tensor& depth_ref, const Tensor& points, const Tensor& points_ref,
                         const Tensor& extrinsic, const Tensor& extrinsic_ref) {
  Accuracy a;
  a.depth_rel = rel_rms(depth, depth_ref);
  a.points_rel = rel_rms(points, points_ref);
  const int64_t S = extrinsic.dim(0);
  double mean_t = 0;
  for (int64_t s = 0; s < S; ++s) {
    const float* r = extrinsic_ref.data() + s * 12;
    mean_t += std::sqrt(r[3] * r[3] + r[7] * r[7] + r[11] * r[11]) / S;
  }
  for (int64_t s = 0; s < S; ++s) {
    const float* e = extrinsic.data() + s * 12;
    const float* r = extrinsic_ref.data() + s * 12;
    // trace(R_ref^T R) = 1 + 2 cos(angle)
    double tr = 0;
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 3; ++k) tr += static_cast<double>(r[k * 4 + i]) * e[k * 4 + i];
    const double c = std::clamp((tr - 1.0) / 2.0, -1.0, 1.0);
    a.rotation_deg = std::max(a.rotation_deg, std::acos(c) * 180.0 / M_PI);
    double dt = 0, tn = 0;
    for (int i = 0; i < 3; ++i) {
      dt += (e[i * 4 + 3] - r[i * 4 + 3]) * (e[i * 4 + 3] - r[i * 4 + 3]);
      tn += r[i * 4 + 3] * r[i * 4 + 3];
    }
    a.translation_rel = std::max(a.translation_rel, std::sqrt(dt) / std::max(std::sqrt(tn), mean_t));
  }
  return a;
}

}  // namespace vggt

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

AbsError abs_error(const Tensor& a, const Tensor& ref) {
  if (a.shape() != ref.shape()) throw std::runtime_error("abs_error: shape mismatch");
  AbsError e;
  double ss = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - ref[i]);
    e.max = std::max(e.max, d);
    ss += d * d;
  }
  e.rms = a.numel() ? std::sqrt(ss / a.numel()) : 0;
  return e;
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
    // M = R_ref^T R: cos(angle) = (tr M - 1) / 2, sin(angle) = |axial vector of M|; atan2 keeps
    // small angles exact where acos of a value rounded near 1 would not.
    double M[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        M[i][j] = 0;
        for (int k = 0; k < 3; ++k) M[i][j] += static_cast<double>(r[k * 4 + i]) * e[k * 4 + j];
      }
    const double c = (M[0][0] + M[1][1] + M[2][2] - 1.0) / 2.0;
    const double vx = (M[2][1] - M[1][2]) / 2, vy = (M[0][2] - M[2][0]) / 2, vz = (M[1][0] - M[0][1]) / 2;
    const double sn = std::sqrt(vx * vx + vy * vy + vz * vz);
    a.rotation_deg = std::max(a.rotation_deg, std::atan2(sn, c) * 180.0 / M_PI);
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

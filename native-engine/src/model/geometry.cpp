#include <cmath>

#include "model/parts.h"

namespace vggt {

void pose_encoding_to_extri_intri(const Tensor& pose_enc, int64_t H, int64_t W, Tensor& extrinsic, Tensor& intrinsic) {
  const int64_t S = pose_enc.dim(0);
  extrinsic = Tensor({S, 3, 4});
  intrinsic = Tensor({S, 3, 3});
  for (int64_t s = 0; s < S; ++s) {
    const float* p = pose_enc.data() + s * 9;
    // Quaternion stored x, y, z, w (scalar last).
    const double i = p[3], j = p[4], k = p[5], r = p[6];
    const double two_s = 2.0 / (i * i + j * j + k * k + r * r);
    const double R[9] = {1 - two_s * (j * j + k * k), two_s * (i * j - k * r), two_s * (i * k + j * r),
                         two_s * (i * j + k * r), 1 - two_s * (i * i + k * k), two_s * (j * k - i * r),
                         two_s * (i * k - j * r), two_s * (j * k + i * r), 1 - two_s * (i * i + j * j)};
    float* e = extrinsic.data() + s * 12;
    for (int row = 0; row < 3; ++row) {
      for (int col = 0; col < 3; ++col) e[row * 4 + col] = static_cast<float>(R[row * 3 + col]);
      e[row * 4 + 3] = p[row];
    }
    float* K = intrinsic.data() + s * 9;
    K[0] = static_cast<float>((W / 2.0) / std::tan(p[8] / 2.0));  // fx from fov_w
    K[4] = static_cast<float>((H / 2.0) / std::tan(p[7] / 2.0));  // fy from fov_h
    K[2] = static_cast<float>(W / 2.0);
    K[5] = static_cast<float>(H / 2.0);
    K[8] = 1.f;
  }
}

Tensor unproject_depth(const Tensor& depth, const Tensor& extrinsic, const Tensor& intrinsic) {
  const int64_t S = depth.dim(0), H = depth.dim(1), W = depth.dim(2);
  Tensor out = Tensor::uninitialized({S, H, W, 3});
  for (int64_t s = 0; s < S; ++s) {
    const float* E = extrinsic.data() + s * 12;
    const float* K = intrinsic.data() + s * 9;
    const double fx = K[0], fy = K[4], cx = K[2], cy = K[5];
    // camera-to-world: R^T, -R^T t
    double Rt[9], c[3];
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) Rt[a * 3 + b] = E[b * 4 + a];
    for (int a = 0; a < 3; ++a) c[a] = -(Rt[a * 3] * E[3] + Rt[a * 3 + 1] * E[7] + Rt[a * 3 + 2] * E[11]);
#pragma omp parallel for
    for (int64_t v = 0; v < H; ++v)
      for (int64_t u = 0; u < W; ++u) {
        const double z = depth[(s * H + v) * W + u];
        const double x = (u - cx) * z / fx, y = (v - cy) * z / fy;
        float* o = out.data() + ((s * H + v) * W + u) * 3;
        for (int a = 0; a < 3; ++a) o[a] = static_cast<float>(Rt[a * 3] * x + Rt[a * 3 + 1] * y + Rt[a * 3 + 2] * z + c[a]);
      }
  }
  return out;
}

}  // namespace vggt

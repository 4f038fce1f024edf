// How far a run's outputs are from a reference run (lossy options are judged by this).
#pragma once
#include "core/tensor.h"

namespace vggt {

struct Accuracy {
  double depth_rel = 0;        // rms(d - d_ref) / rms(d_ref)
  double points_rel = 0;       // same for world_points
  double rotation_deg = 0;     // max over frames of the angle of R_ref^T R
  double translation_rel = 0;  // max over frames |t - t_ref| / max(|t_ref|, mean |t_ref|)
};

// Absolute element-wise error of a tensor against its reference (the issue tables' "max err / rms").
struct AbsError {
  double max = 0, rms = 0;
};
AbsError abs_error(const Tensor& a, const Tensor& ref);

Accuracy compare_outputs(const Tensor& depth, const Tensor& depth_ref, const Tensor& points, const Tensor& points_ref,
                         const Tensor& extrinsic, const Tensor& extrinsic_ref);

}  // namespace vggt

// Resampling with PyTorch's F.interpolate semantics (the modes VGGT uses).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace vggt::ops {

// Bilinear, align_corners=True, channels-last. x: [N, H, W, C] -> [N, oh, ow, C].
Tensor resize_bilinear_align_corners(const Tensor& x, int64_t oh, int64_t ow);
// The same plus addend [oh, ow, C] (e.g. the DPT heads' positional embedding) in one pass over
// the output instead of two; same bits as resizing, then ops::add.
Tensor resize_bilinear_align_corners_add(const Tensor& x, int64_t oh, int64_t ow, const Tensor& addend);
// The same (addend optional) written as bf16 (round-to-nearest-even) to out [N, oh, ow, C], for
// a bf16 convolution that reads it as it is: no fp32 map, no separate conversion pass.
void resize_bilinear_align_corners_bf16(const Tensor& x, int64_t oh, int64_t ow, const Tensor* addend, uint16_t* out);

// Bicubic with antialias=True, align_corners=False (Keys a = -0.5, support widened by the
// scale when shrinking), as used to resize DINOv2's positional embedding. x: [C, H, W].
Tensor resize_bicubic_antialias(const Tensor& x, int64_t oh, int64_t ow);

}  // namespace vggt::ops

// Bilinear point sampling with F.grid_sample(align_corners=True) semantics on channels-last
// maps, and 2x2 average pooling: the resampling the track head's tracker uses.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace vggt::ops {

enum class GridPadding { Zeros, Border };

// Where one point falls: the four corner pixels and their weights (grid_sample's nw, ne, sw,
// se). (x, y) are pixel coordinates, integer = pixel centre; they go through the same
// normalise / unnormalise round trip as the official bilinear_sampler (x * 2/(W-1) - 1, then
// grid_sample's ((x + 1) / 2) * (W - 1)) so that float32 rounding matches it. Border padding
// clamps the unnormalised coordinate to [0, W-1]; zeros padding gives out-of-range corners
// no contribution (valid = false).
struct BilinearTaps {
  int64_t x0, y0;      // nw corner
  float w[4];          // nw, ne, sw, se
  bool valid[4];
};
BilinearTaps bilinear_taps(float x, float y, int64_t H, int64_t W, GridPadding pad);

// out[C] = the map [H, W, C] (channels-last) sampled at (x, y).
void sample_bilinear(const float* map, int64_t H, int64_t W, int64_t C, float x, float y, GridPadding pad,
                     float* out);

// F.avg_pool2d(kernel 2, stride 2) on [N, H, W, C]: [N, H/2, W/2, C] (floor: an odd last row or
// column is dropped).
Tensor avg_pool2x2(const Tensor& x);

}  // namespace vggt::ops

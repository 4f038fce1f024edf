// 2-D rotary position embedding as in VGGT's aggregator ("half" rotation mode):
// the first half of each head is rotated by the token's row, the second by its column.
#pragma once
#include <cstdint>
#include <vector>

namespace vggt::ops {

// Per-position cos/sin tables for one half of a head (size d = D/2), positions 0..max_pos-1.
struct RopeTable {
  int64_t d = 0, max_pos = 0;
  std::vector<float> cos, sin;  // [max_pos, d]
  static RopeTable build(int64_t d, int64_t max_pos, float base);
};

// x: [BH, N, D] in place; pos: [N, 2] (row, col) per token.
void rope2d_apply(float* x, int64_t BH, int64_t N, int64_t D, const int32_t* pos, const RopeTable& table);

// VGGT's token positions for one frame: specials at (0,0), patches at (row+1, col+1).
std::vector<int32_t> frame_positions(int64_t num_special, int64_t hp, int64_t wp);

}  // namespace vggt::ops

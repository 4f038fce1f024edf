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

// Per-token tables [P, D] (row half then column half), gathered from `table` for positions pos [P, 2].
void rope_gather(const int32_t* pos, int64_t P, const RopeTable& table, float* cos_tok, float* sin_tok);

// x: [BH, N, D] in place with per-token tables [period, D] (token n uses row n % period).
// fused: one pass, no temporaries; otherwise x*cos + rotate_half(x)*sin through a temporary,
// as a framework evaluates the expression.
void rope_apply(float* x, int64_t BH, int64_t N, int64_t D, const float* cos_tok, const float* sin_tok,
                int64_t period, bool fused);

// One token's row of q or k ([D]) rotated in place with its cos/sin rows ([D]): the fused
// rotation of rope_apply, shared with the fused QKV epilogue (ops/qkv_epilogue.h) so both
// produce the same bits.
inline void rope_row(float* v, const float* c, const float* s, int64_t D) {
  const int64_t d = D / 2, half = d / 2;
  for (int64_t a = 0; a < D; a += d)
    for (int64_t i = 0; i < half; ++i) {
      const float x1 = v[a + i], x2 = v[a + i + half];
      v[a + i] = x1 * c[a + i] - x2 * s[a + i];
      v[a + i + half] = x2 * c[a + i + half] + x1 * s[a + i + half];
    }
}

// VGGT's token positions for one frame: specials at (0,0), patches at (row+1, col+1).
std::vector<int32_t> frame_positions(int64_t num_special, int64_t hp, int64_t wp);

}  // namespace vggt::ops

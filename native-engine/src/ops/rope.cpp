#include "ops/rope.h"

#include <cmath>

namespace vggt::ops {

RopeTable RopeTable::build(int64_t d, int64_t max_pos, float base) {
  RopeTable t;
  t.d = d;
  t.max_pos = max_pos;
  t.cos.resize(max_pos * d);
  t.sin.resize(max_pos * d);
  const int64_t half = d / 2;
  for (int64_t j = 0; j < half; ++j) {
    // The official code forms inv_freq and the angles in float32, then takes cos/sin.
    const float inv_freq = 1.0f / std::pow(base, static_cast<float>(2 * j) / static_cast<float>(d));
    for (int64_t p = 0; p < max_pos; ++p) {
      const float angle = static_cast<float>(p) * inv_freq;
      const float c = static_cast<float>(std::cos(static_cast<double>(angle)));
      const float s = static_cast<float>(std::sin(static_cast<double>(angle)));
      t.cos[p * d + j] = t.cos[p * d + j + half] = c;
      t.sin[p * d + j] = t.sin[p * d + j + half] = s;
    }
  }
  return t;
}

void rope2d_apply(float* x, int64_t BH, int64_t N, int64_t D, const int32_t* pos, const RopeTable& t) {
  const int64_t d = D / 2, half = d / 2;
#pragma omp parallel for collapse(2) if (BH * N * D > 65536)
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t n = 0; n < N; ++n) {
      float* v = x + (bh * N + n) * D;
      for (int axis = 0; axis < 2; ++axis) {
        float* u = v + axis * d;
        const int64_t p = pos[2 * n + axis];
        const float* c = t.cos.data() + p * d;
        const float* s = t.sin.data() + p * d;
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = u[i], x2 = u[i + half];
          u[i] = x1 * c[i] - x2 * s[i];
          u[i + half] = x2 * c[i + half] + x1 * s[i + half];
        }
      }
    }
}

void rope_gather(const int32_t* pos, int64_t P, const RopeTable& t, float* cos_tok, float* sin_tok) {
  const int64_t d = t.d, D = 2 * d;
  for (int64_t n = 0; n < P; ++n)
    for (int axis = 0; axis < 2; ++axis) {
      const int64_t p = pos[2 * n + axis];
      for (int64_t i = 0; i < d; ++i) {
        cos_tok[n * D + axis * d + i] = t.cos[p * d + i];
        sin_tok[n * D + axis * d + i] = t.sin[p * d + i];
      }
    }
}

void rope_apply(float* x, int64_t BH, int64_t N, int64_t D, const float* cos_tok, const float* sin_tok,
                int64_t period, bool fused) {
  const int64_t d = D / 2, half = d / 2;
  if (fused) {
#pragma omp parallel for collapse(2) if (BH * N * D > 65536)
    for (int64_t bh = 0; bh < BH; ++bh)
      for (int64_t n = 0; n < N; ++n) {
        rope_row(x + (bh * N + n) * D, cos_tok + (n % period) * D, sin_tok + (n % period) * D, D);
      }
    return;
  }
  std::vector<float> rot(static_cast<size_t>(BH * N * D));
#pragma omp parallel for collapse(2) if (BH * N * D > 65536)
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t n = 0; n < N; ++n) {
      const float* v = x + (bh * N + n) * D;
      float* r = rot.data() + (bh * N + n) * D;
      for (int64_t a = 0; a < D; a += d)
        for (int64_t i = 0; i < half; ++i) {
          r[a + i] = -v[a + i + half];
          r[a + i + half] = v[a + i];
        }
    }
#pragma omp parallel for collapse(2) if (BH * N * D > 65536)
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t n = 0; n < N; ++n) {
      float* v = x + (bh * N + n) * D;
      const float* r = rot.data() + (bh * N + n) * D;
      const float* c = cos_tok + (n % period) * D;
      const float* s = sin_tok + (n % period) * D;
      for (int64_t i = 0; i < D; ++i) v[i] = v[i] * c[i] + r[i] * s[i];
    }
}

std::vector<int32_t> frame_positions(int64_t num_special, int64_t hp, int64_t wp) {
  std::vector<int32_t> pos(2 * (num_special + hp * wp), 0);
  for (int64_t r = 0; r < hp; ++r)
    for (int64_t c = 0; c < wp; ++c) {
      int64_t i = num_special + r * wp + c;
      pos[2 * i] = static_cast<int32_t>(r + 1);
      pos[2 * i + 1] = static_cast<int32_t>(c + 1);
    }
  return pos;
}

}  // namespace vggt::ops

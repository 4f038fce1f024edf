#include "ops/qkv_epilogue.h"

#include <algorithm>

#include "core/cpu_features.h"
#include "ops/layernorm_fused.h"
#include "ops/rope.h"

namespace vggt::ops {

void split_qkv_norm_rope(const float* qkv, float* q, float* k, float* v, int64_t B, int64_t N, int64_t H, int64_t D,
                         const HeadNorm* q_norm, const HeadNorm* k_norm, const float* cos_tok, const float* sin_tok,
                         int64_t period) {
  if (B <= 0 || N <= 0 || H <= 0 || D <= 0) return;
  // The same per-row kernels ops::layernorm dispatches to, so the bits match the unfused path.
  const bool wide = isa_level() >= IsaLevel::avx512;
  const int C = static_cast<int>(D);
  float* dst[3] = {q, k, v};
  const HeadNorm* norms[2] = {q_norm, k_norm};
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) {
      const float* c = cos_tok ? cos_tok + (n % period) * D : nullptr;
      const float* s = sin_tok ? sin_tok + (n % period) * D : nullptr;
      for (int t = 0; t < 3; ++t)
        for (int64_t h = 0; h < H; ++h) {
          const float* src = qkv + (((b * N + n) * 3 + t) * H + h) * D;
          float* row = dst[t] + ((b * H + h) * N + n) * D;
          if (t < 2 && norms[t]) {
            const HeadNorm& hn = *norms[t];
            if (wide)
              detail::layernorm_avx512(src, row, hn.w, hn.b, 1, C, hn.eps);
            else
              detail::layernorm_generic(src, row, hn.w, hn.b, 1, C, hn.eps);
          } else {
            std::copy(src, src + D, row);
          }
          if (t < 2 && c) rope_row(row, c, s, D);
        }
    }
}

}  // namespace vggt::ops

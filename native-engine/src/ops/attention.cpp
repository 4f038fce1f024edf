#include "ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "core/cpu_features.h"
#include "ops/flash_attention.h"
#include "ops/gemm.h"

namespace vggt::ops {

void split_qkv(const float* qkv, float* q, float* k, float* v, int64_t B, int64_t N, int64_t H, int64_t D) {
  float* dst[3] = {q, k, v};
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n)
      for (int t = 0; t < 3; ++t)
        for (int64_t h = 0; h < H; ++h) {
          const float* s = qkv + (((b * N + n) * 3 + t) * H + h) * D;
          float* d = dst[t] + ((b * H + h) * N + n) * D;
          std::copy(s, s + D, d);
        }
}

float softmax_row(float* s, int64_t n, bool vector_exp) {
  float mx = s[0];
  for (int64_t j = 1; j < n; ++j) mx = std::max(mx, s[j]);
  for (int64_t j = 0; j < n; ++j) s[j] -= mx;
  // Vector exp (under 1 ulp from expf, measured in flash_attention_test) where AVX-512 runs.
  if (vector_exp)
    detail::flash_exp_avx512(s, s, static_cast<int>(n));
  else
    for (int64_t j = 0; j < n; ++j) s[j] = std::exp(s[j]);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += s[j];
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;
  return mx + static_cast<float>(std::log(sum));
}

void attention_exact(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t H, int64_t N,
                     int64_t D, float scale) {
  const int64_t chunk = 128;
  const int64_t nchunks = (N + chunk - 1) / chunk;
  const int64_t work = B * H * nchunks;
  const bool vector_exp = isa_level() == IsaLevel::avx512;
#pragma omp parallel
  {
    Tensor scores = Tensor::uninitialized({chunk, N});  // counted in the benchmarks' peak memory
#pragma omp for schedule(dynamic)
    for (int64_t w = 0; w < work; ++w) {
      const int64_t bh = w / nchunks, c = w % nchunks;
      const int64_t b = bh / H, h = bh % H;
      const int64_t q0 = c * chunk, rows = std::min(chunk, N - q0);
      const float* qp = q + (bh * N + q0) * D;
      const float* kp = k + bh * N * D;
      const float* vp = v + bh * N * D;
      gemm(rows, N, D, qp, D, kp, D, true, scores.data(), N, scale, 0.f);
      for (int64_t r = 0; r < rows; ++r) softmax_row(scores.data() + r * N, N, vector_exp);
      float* op = out + ((b * N + q0) * H + h) * D;
      gemm(rows, D, N, scores.data(), N, vp, D, false, op, H * D, 1.f, 0.f);
    }
  }
}

void attention(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out, int64_t B,
               int64_t H, int64_t N, int64_t D, float scale) {
  const int b = static_cast<int>(B), h = static_cast<int>(H), n = static_cast<int>(N), d = static_cast<int>(D);
  switch (kernel) {
    case AttentionKernel::flash: flash_attention(q, k, v, out, b, h, n, d, scale); return;
    case AttentionKernel::flash_bf16: flash_attention_bf16(q, k, v, out, b, h, n, d, scale); return;
    default: attention_exact(q, k, v, out, B, H, N, D, scale);
  }
}

}  // namespace vggt::ops

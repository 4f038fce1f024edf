#include "ops/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <stdexcept>
#include <string>

namespace vggt::ops {

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
          bool b_transposed, float* C, int64_t ldc, float alpha, float beta, bool a_transposed) {
  if (M == 0 || N == 0) return;
  dnnl_status_t st = dnnl_sgemm(a_transposed ? 'T' : 'N', b_transposed ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw std::runtime_error("dnnl_sgemm failed with status " + std::to_string(st));
}

void linear(const float* x, const float* W, const float* b, float* y, int64_t M, int64_t N, int64_t K) {
  if (b) {
#pragma omp parallel for
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) y[i * N + j] = b[j];
  }
  gemm(M, N, K, x, K, W, K, true, y, N, 1.f, b ? 1.f : 0.f);
}

}  // namespace vggt::ops

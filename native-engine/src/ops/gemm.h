// Dense products on row-major float32 data (oneDNN's sgemm).
#pragma once
#include <cstdint>

namespace vggt::ops {

// C[M,N] = alpha * A[M,K] * op(B) + beta * C, op(B) = B^T when b_transposed (B stored [N,K]).
void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
          bool b_transposed, float* C, int64_t ldc, float alpha = 1.f, float beta = 0.f, bool a_transposed = false);

// y[M,N] = x[M,K] * W^T + b with PyTorch's Linear layout W [N,K]; bias may be null.
void linear(const float* x, const float* W, const float* b, float* y, int64_t M, int64_t N, int64_t K);

}  // namespace vggt::ops

// Linear layers y[M,N] = x[M,K] * W^T + b on oneDNN matmul with weights converted once:
// fp32 prepacked, bf16 prepacked, and W8A8 (int8 weights and activations).
// W is given as PyTorch stores it, [N,K] row-major float32; b may be null.
// forward() is const and thread-safe (a per-M primitive cache is guarded by a mutex), but runs
// its own OpenMP parallelism, so call it from one thread at a time for speed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace vggt::ops {

// fp32 weights prepacked once into oneDNN's blocked layout (format_tag::any) — the
// 'prepack' toggle's fp32 form. Numerically an fp32 GEMM (differs from a naive loop only by
// summation order).
class LinearF32Packed {
 public:
  LinearF32Packed(const float* W, const float* b, int N, int K);
  ~LinearF32Packed();
  LinearF32Packed(LinearF32Packed&&) noexcept;
  LinearF32Packed& operator=(LinearF32Packed&&) noexcept;
  void forward(const float* x, float* y, int M) const;
  size_t weight_bytes() const;
  int out_features() const;
  int in_features() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// bf16 weights (round-to-nearest-even) prepacked once; activations rounded to bf16 per call;
// products accumulated in fp32; fp32 bias and output. Without oneDNN bf16 support (no
// AVX-512, or isa_level() below avx512) it computes the same bf16-rounded operands with an
// fp32 GEMM, so the numerics match up to summation order.
class LinearBF16 {
 public:
  LinearBF16(const float* W, const float* b, int N, int K);
  ~LinearBF16();
  LinearBF16(LinearBF16&&) noexcept;
  LinearBF16& operator=(LinearBF16&&) noexcept;
  void forward(const float* x, float* y, int M) const;
  size_t weight_bytes() const;  // packed bf16 weights (+ fp32 bias)
  int out_features() const;
  int in_features() const;
  // True when oneDNN runs a native bf16 GEMM (false: the fp32 emulation fallback).
  bool native_bf16() const;
  // Native bf16 only (throws otherwise). A fused MLP: y = bf16(gelu_erf(x W^T + b)) with the
  // GELU in the GEMM's epilogue, and a Linear that takes such bf16 activations as they are --
  // the same values the unfused path rounds to bf16 before its GEMM, without the fp32 round trip.
  void forward_gelu_to_bf16(const float* x, uint16_t* y, int M) const;
  void forward_bf16_input(const uint16_t* x, float* y, int M) const;

  // Serialisation: plain row-major [N,K] bf16 bit patterns (uint16, as safetensors "BF16").
  static void convert_weights(const float* W, int64_t count, uint16_t* out);  // fp32 -> bf16 RNE
  static LinearBF16 from_bf16(const uint16_t* W_bf16, const float* b, int N, int K);
  void export_bf16(uint16_t* W_out) const;  // N*K values, unpacked back to [N,K]

 private:
  LinearBF16();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// W8A8: static per-output-channel symmetric int8 weights (scale_w[n] = max|W[n,:]|/127),
// dynamic per-token (row) symmetric int8 activations (scale_x[m] = max|x[m,:]|/127), s8s8
// oneDNN matmul with int32 accumulation (VNNI), then y = acc * scale_x[m] * scale_w[n] + b[n].
// Two optional outlier treatments (see docs/INT8.md):
//  - hadamard: activations rotated by a fast Walsh-Hadamard transform before quantisation and
//    H / K folded into the weights once (x W^T = (x H)(W H / K)^T), so a few heavy channels
//    no longer set every other channel's scale. Only for K a power of two (else ignored).
//  - special rows (forward's `period`/`special`): in every `period` rows the first `special`
//    (VGGT's camera and register tokens) are quantised in two int8 levels (value, then the
//    residual at its own scale: ~14-bit activations) through the same integer GEMM.
class LinearW8A8 {
 public:
  // residual: also keep the weights' rounding error as a second int8 matrix (see set_residual).
  LinearW8A8(const float* W, const float* b, int N, int K, bool hadamard = false, bool residual = false);
  ~LinearW8A8();
  LinearW8A8(LinearW8A8&&) noexcept;
  LinearW8A8& operator=(LinearW8A8&&) noexcept;
  // period <= 0 or special <= 0: every row quantised once.
  void forward(const float* x, float* y, int M, int period = 0, int special = 0) const;
  size_t weight_bytes() const;  // int8 weights + fp32 scales (+ fp32 bias)
  int out_features() const;
  int in_features() const;
  bool hadamard() const;  // weights stored rotated, activations rotated per call

  // Serialisation: plain row-major [N,K] int8 weights and [N] float scales
  // (W ~= W_q[n,k] * scale[n], or with hadamard W H / K ~= W_q[n,k] * scale[n]).
  static void quantize_weights(const float* W, int N, int K, int8_t* W_q, float* scale,
                               bool hadamard = false);
  static LinearW8A8 from_quantized(const int8_t* W_q, const float* scale, const float* b, int N,
                                   int K, bool hadamard = false);
  void export_quantized(int8_t* W_q_out, float* scale_out) const;
  // Residual weights R [N,K] with per-row scales r: W ~= Q s + R r (what the first int8 level
  // missed, ~1/127 of it left). With them, forward gives the special rows the residual's
  // product too (their weights then ~16-bit), and every other row the residual's product with
  // the mean of those rows (one more GEMM row per call, folded into the bias): the part of the
  // weights' rounding error that all tokens share. Doubles the int8 weight memory.
  static void quantize_residual(const float* W, const int8_t* W_q, const float* scale, int N, int K,
                                int8_t* R_q, float* r_scale, bool hadamard = false);
  void set_residual(const int8_t* R_q, const float* r_scale);
  bool has_residual() const;
  void export_residual(int8_t* R_q_out, float* r_scale_out) const;
  // Whether `hadamard` takes effect for this input width.
  static bool rotates(int K, bool hadamard);

 private:
  LinearW8A8();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
// Per-row symmetric int8 quantisation of x[M,K]: q = round(x / s), s = max|x_row|/127
// (s = 1 for an all-zero row). Dispatches to AVX-512 when isa_level() allows.
void quantize_rows_s8(const float* x, int64_t M, int K, int8_t* q, float* scale);
void quantize_rows_s8_generic(const float* x, int64_t M, int K, int8_t* q, float* scale);
void quantize_rows_s8_avx512(const float* x, int64_t M, int K, int8_t* q, float* scale);
// y[m,n] = float(acc[m,n]) * sx[m] * sw[n] + b[n] (b may be null); acc may alias y.
void dequantize_rows(const int32_t* acc, int64_t M, int N, const float* sx, const float* sw,
                     const float* b, float* y);
void dequantize_rows_generic(const int32_t* acc, int64_t M, int N, const float* sx,
                             const float* sw, const float* b, float* y);
void dequantize_rows_avx512(const int32_t* acc, int64_t M, int N, const float* sx,
                            const float* sw, const float* b, float* y);
// fp32 -> bf16 round-to-nearest-even (NaN stays NaN).
void f32_to_bf16(const float* x, int64_t n, uint16_t* out);
void f32_to_bf16_generic(const float* x, int64_t n, uint16_t* out);
void f32_to_bf16_avx512(const float* x, int64_t n, uint16_t* out);
// x rounded to bf16 and back (the emulation fallback's activation rounding).
void round_to_bf16(const float* x, int64_t n, float* out);
}  // namespace detail

}  // namespace vggt::ops

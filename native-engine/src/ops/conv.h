// 2-D convolutions of the DPT heads, channels-last (NHWC) float32 activations.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "core/tensor.h"

namespace vggt::ops {

// General convolution through oneDNN on channels-last (NHWC) activations, the layout its
// AVX-512 convolutions use natively: no reorders of activations around a call (inputs are
// only converted to bf16 in bf16 mode). Weights [OC, IC, KH, KW] (PyTorch layout) are read from
// the checkpoint; with prepack they are reordered once into oneDNN's preferred layout,
// otherwise on every call (what a framework without weight caching does).
class Conv2d {
 public:
  Conv2d() = default;
  Conv2d(const Tensor& weight, const Tensor& bias, int stride, int padding);
  // x: [N, H, W, IC] -> [N, H', W', OC]. Fused epilogues: relu(conv(x) + b), or
  // conv(x) + b + residual (residual [N, H', W', OC]) -- both exact, applied to the fp32 result.
  Tensor forward(const Tensor& x, bool relu = false, const Tensor* residual = nullptr) const;
  // The same with x already bf16 ([N, H, W, IC] bit patterns, round-to-nearest-even), as a
  // producer can write it in its own pass: same result as forward() on the fp32 values. bf16
  // mode only (throws std::logic_error otherwise).
  Tensor forward_bf16_input(const uint16_t* x, int64_t N, int64_t H, int64_t W, int64_t IC, bool relu = false,
                            const Tensor* residual = nullptr) const;
  // relu(conv(x) + b) written as bf16 by the convolution's epilogue (round-to-nearest-even: the
  // values a following bf16 convolution would round the fp32 output to), for forward_bf16_input
  // of the next one: [N, H', W', OC] bit patterns in a float tensor of half the element count.
  // bf16 mode only (throws std::logic_error otherwise).
  Tensor forward_relu_to_bf16(const Tensor& x) const;
  bool bf16() const { return bf16_; }
  void set_prepack(bool on) { prepack_ = on; }
  // bf16 inputs and weights, fp32 accumulation and output (oneDNN converts in its reorders).
  void set_bf16(bool on) { bf16_ = on; }
  int64_t out_channels() const { return weight_.dim(0); }
  double gflop(int64_t n, int64_t h, int64_t w) const;

  struct Impl;

 private:
  Tensor run(const void* x, bool x_bf16, int64_t N, int64_t H, int64_t W, int64_t IC, bool relu,
             const Tensor* residual, bool out_bf16) const;
  Tensor weight_, bias_;
  int stride_ = 1, padding_ = 0;
  bool prepack_ = false, bf16_ = false;
  std::shared_ptr<Impl> impl_;  // primitive cache, shared by copies
};

// Transposed convolution with kernel == stride (no overlap), W [IC, OC, k, k], channels-last:
// x [N, H, W, IC] -> [N, H*k, W*k, OC]: one GEMM + scatter.
Tensor conv_transpose_k_eq_s(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace vggt::ops

// 2-D convolutions of the DPT heads and the patch embedding, NCHW float32.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "core/tensor.h"

namespace vggt::ops {

// General convolution through oneDNN. Weights [OC, IC, KH, KW] (PyTorch layout) are read from
// the checkpoint; with prepack they are reordered once into oneDNN's preferred layout,
// otherwise on every call (what a framework without weight caching does).
class Conv2d {
 public:
  Conv2d() = default;
  Conv2d(const Tensor& weight, const Tensor& bias, int stride, int padding);
  // x: [N, IC, H, W] -> [N, OC, H', W']
  Tensor forward(const Tensor& x) const;
  void set_prepack(bool on) { prepack_ = on; }
  // bf16 inputs and weights, fp32 accumulation and output (oneDNN converts in its reorders).
  void set_bf16(bool on) { bf16_ = on; }
  int64_t out_channels() const { return weight_.dim(0); }
  double gflop(int64_t n, int64_t h, int64_t w) const;

  struct Impl;

 private:
  Tensor weight_, bias_;
  int stride_ = 1, padding_ = 0;
  bool prepack_ = false, bf16_ = false;
  std::shared_ptr<Impl> impl_;  // primitive cache, shared by copies
};

// 1x1 convolution as a GEMM: W [OC, IC, 1, 1].
Tensor conv1x1(const Tensor& x, const Tensor& weight, const Tensor& bias);

// Transposed convolution with kernel == stride (no overlap), W [IC, OC, k, k]: one GEMM + scatter.
Tensor conv_transpose_k_eq_s(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace vggt::ops

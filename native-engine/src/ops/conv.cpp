#include "ops/conv.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>
#include <stdexcept>

#include "ops/gemm.h"

namespace vggt::ops {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

static dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

struct Conv2d::Impl {
  struct Plan {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    memory packed_weights;  // valid once packed (prepack mode)
  };
  std::mutex mu;
  // (N, H, W, bf16, epilogue: 0 none, 1 relu, 2 residual sum)
  std::map<std::tuple<int64_t, int64_t, int64_t, bool, int>, std::shared_ptr<Plan>> plans;
};

Conv2d::Conv2d(const Tensor& weight, const Tensor& bias, int stride, int padding)
    : weight_(weight), bias_(bias), stride_(stride), padding_(padding), impl_(std::make_shared<Impl>()) {}

double Conv2d::gflop(int64_t n, int64_t h, int64_t w) const {
  const int64_t oh = (h + 2 * padding_ - weight_.dim(2)) / stride_ + 1;
  const int64_t ow = (w + 2 * padding_ - weight_.dim(3)) / stride_ + 1;
  return 2.0 * n * oh * ow * weight_.numel() / 1e9;
}

Tensor Conv2d::forward(const Tensor& x, bool relu, const Tensor* residual) const {
  return run(x.data(), false, x.dim(0), x.dim(1), x.dim(2), x.dim(3), relu, residual, false);
}

Tensor Conv2d::forward_relu_to_bf16(const Tensor& x) const {
  if (!bf16_) throw std::logic_error("conv2d: bf16 output asked of a convolution not in bf16 mode");
  return run(x.data(), false, x.dim(0), x.dim(1), x.dim(2), x.dim(3), true, nullptr, true);
}

Tensor Conv2d::forward_bf16_input(const uint16_t* x, int64_t N, int64_t H, int64_t W, int64_t IC, bool relu,
                                  const Tensor* residual) const {
  if (!bf16_) throw std::logic_error("conv2d: bf16 input given to a convolution not in bf16 mode");
  return run(x, true, N, H, W, IC, relu, residual, false);
}

Tensor Conv2d::run(const void* x, bool x_bf16, int64_t N, int64_t H, int64_t W, int64_t IC, bool relu,
                   const Tensor* residual, bool out_bf16) const {
  const int64_t OC = weight_.dim(0), KH = weight_.dim(2), KW = weight_.dim(3);
  if (IC != weight_.dim(1))
    throw std::runtime_error("conv2d: input has " + std::to_string(IC) + " channels, weight expects " +
                             std::to_string(weight_.dim(1)));
  const int64_t OH = (H + 2 * padding_ - KH) / stride_ + 1;
  const int64_t OW = (W + 2 * padding_ - KW) / stride_ + 1;
  if (residual && residual->shape() != std::vector<int64_t>{N, OH, OW, OC})
    throw std::runtime_error("conv2d: residual shape does not match the output");
  // 3: relu with a bf16 output (the plan's destination type differs).
  const int epilogue = out_bf16 ? 3 : residual ? 2 : relu ? 1 : 0;
  const dt out_dt = out_bf16 ? dt::bf16 : dt::f32;
  auto& eng = cpu_engine();
  std::shared_ptr<Impl::Plan> plan;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto& p = impl_->plans[{N, H, W, bf16_, epilogue}];
    if (!p) {
      const dt in_dt = bf16_ ? dt::bf16 : dt::f32;
      // oneDNN dims are always (N, C, H, W); the tag says the memory is channels-last.
      memory::desc src_md({N, IC, H, W}, in_dt, tag::nhwc);
      memory::desc wei_md({OC, IC, KH, KW}, in_dt, tag::any);
      memory::desc dst_md({N, OC, OH, OW}, out_dt, tag::nhwc);
      memory::desc bias_md({OC}, dt::f32, tag::x);
      memory::dims strides = {stride_, stride_}, pad = {padding_, padding_};
      dnnl::convolution_forward::desc d =
          bias_.empty() ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                          dnnl::algorithm::convolution_direct, src_md, wei_md,
                                                          dst_md, strides, pad, pad)
                        : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                          dnnl::algorithm::convolution_direct, src_md, wei_md,
                                                          bias_md, dst_md, strides, pad, pad);
      dnnl::post_ops po;
      if (epilogue == 1 || epilogue == 3) po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      if (epilogue == 2) po.append_sum(1.f);
      dnnl::primitive_attr attr;
      attr.set_post_ops(po);
      p = std::make_shared<Impl::Plan>();
      p->pd = dnnl::convolution_forward::primitive_desc(d, attr, eng);
      p->prim = dnnl::convolution_forward(p->pd);
    }
    plan = p;
  }
  dnnl::stream s(eng);
  auto& pd = plan->pd;
  // A bf16 input is already what the primitive reads (no conversion pass).
  memory user_src({{N, IC, H, W}, x_bf16 ? dt::bf16 : dt::f32, tag::nhwc}, eng, const_cast<void*>(x));
  memory user_wei({{OC, IC, KH, KW}, dt::f32, tag::oihw}, eng, const_cast<float*>(weight_.data()));
  // A bf16 output lives in a float tensor of half the element count.
  Tensor out = out_bf16 ? Tensor::uninitialized({(N * OH * OW * OC + 1) / 2}) : Tensor::uninitialized({N, OH, OW, OC});
  if (residual) std::memcpy(out.data(), residual->data(), sizeof(float) * out.numel());
  memory dst({{N, OC, OH, OW}, out_dt, tag::nhwc}, eng, out.data());

  memory src = user_src;
  if (pd.src_desc() != user_src.get_desc()) {  // bf16: a conversion, same layout
    src = memory(pd.src_desc(), eng);
    dnnl::reorder(user_src, src).execute(s, user_src, src);
  }
  memory wei = user_wei;
  if (pd.weights_desc() != user_wei.get_desc()) {
    if (prepack_ && plan->packed_weights) {
      wei = plan->packed_weights;
    } else {
      wei = memory(pd.weights_desc(), eng);
      dnnl::reorder(user_wei, wei).execute(s, user_wei, wei);
      if (prepack_) plan->packed_weights = wei;
    }
  }
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (!bias_.empty()) args[DNNL_ARG_BIAS] = memory({{OC}, dt::f32, tag::x}, eng, const_cast<float*>(bias_.data()));
  plan->prim.execute(s, args);
  s.wait();
  return out;
}

Tensor conv_transpose_k_eq_s(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), IC = x.dim(3);
  const int64_t OC = weight.dim(1), k = weight.dim(2);
  const int64_t HW = H * W, M = OC * k * k;
  Tensor out = Tensor::uninitialized({N, H * k, W * k, OC});
  std::vector<float> tmp(static_cast<size_t>(HW) * M);
  for (int64_t n = 0; n < N; ++n) {
    // tmp[(y,x), (oc,i,j)] = sum_ic x[(y,x), ic] * W[ic, (oc,i,j)]
    gemm(HW, M, IC, x.data() + n * HW * IC, IC, weight.data(), M, false, tmp.data(), M);
    float* o = out.data() + n * HW * M;
#pragma omp parallel for
    for (int64_t y = 0; y < H; ++y)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t xx = 0; xx < W; ++xx)
          for (int64_t j = 0; j < k; ++j) {
            const float* t = tmp.data() + (y * W + xx) * M + i * k + j;
            float* dst = o + ((y * k + i) * W * k + xx * k + j) * OC;
            for (int64_t oc = 0; oc < OC; ++oc) dst[oc] = t[oc * k * k] + (bias.empty() ? 0.f : bias[oc]);
          }
  }
  return out;
}

}  // namespace vggt::ops

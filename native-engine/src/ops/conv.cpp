#include "ops/conv.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <mutex>
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
  std::map<std::tuple<int64_t, int64_t, int64_t, bool>, std::shared_ptr<Plan>> plans;
};

Conv2d::Conv2d(const Tensor& weight, const Tensor& bias, int stride, int padding)
    : weight_(weight), bias_(bias), stride_(stride), padding_(padding), impl_(std::make_shared<Impl>()) {}

double Conv2d::gflop(int64_t n, int64_t h, int64_t w) const {
  const int64_t oh = (h + 2 * padding_ - weight_.dim(2)) / stride_ + 1;
  const int64_t ow = (w + 2 * padding_ - weight_.dim(3)) / stride_ + 1;
  return 2.0 * n * oh * ow * weight_.numel() / 1e9;
}

Tensor Conv2d::forward(const Tensor& x) const {
  const int64_t N = x.dim(0), IC = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t OC = weight_.dim(0), KH = weight_.dim(2), KW = weight_.dim(3);
  if (IC != weight_.dim(1))
    throw std::runtime_error("conv2d: input has " + std::to_string(IC) + " channels, weight expects " +
                             std::to_string(weight_.dim(1)));
  const int64_t OH = (H + 2 * padding_ - KH) / stride_ + 1;
  const int64_t OW = (W + 2 * padding_ - KW) / stride_ + 1;
  auto& eng = cpu_engine();
  std::shared_ptr<Impl::Plan> plan;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto& p = impl_->plans[{N, H, W, bf16_}];
    if (!p) {
      const dt in_dt = bf16_ ? dt::bf16 : dt::f32;
      memory::desc src_md({N, IC, H, W}, in_dt, tag::any);
      memory::desc wei_md({OC, IC, KH, KW}, in_dt, tag::any);
      memory::desc dst_md({N, OC, OH, OW}, dt::f32, tag::any);
      memory::desc bias_md({OC}, dt::f32, tag::x);
      memory::dims strides = {stride_, stride_}, pad = {padding_, padding_};
      dnnl::convolution_forward::desc d =
          bias_.empty() ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                          dnnl::algorithm::convolution_direct, src_md, wei_md,
                                                          dst_md, strides, pad, pad)
                        : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                          dnnl::algorithm::convolution_direct, src_md, wei_md,
                                                          bias_md, dst_md, strides, pad, pad);
      p = std::make_shared<Impl::Plan>();
      p->pd = dnnl::convolution_forward::primitive_desc(d, eng);
      p->prim = dnnl::convolution_forward(p->pd);
    }
    plan = p;
  }
  dnnl::stream s(eng);
  auto& pd = plan->pd;
  memory user_src({{N, IC, H, W}, dt::f32, tag::nchw}, eng, const_cast<float*>(x.data()));
  memory user_wei({{OC, IC, KH, KW}, dt::f32, tag::oihw}, eng, const_cast<float*>(weight_.data()));
  Tensor out = Tensor::uninitialized({N, OC, OH, OW});
  memory user_dst({{N, OC, OH, OW}, dt::f32, tag::nchw}, eng, out.data());

  memory src = user_src;
  if (pd.src_desc() != user_src.get_desc()) {
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
  memory dst = pd.dst_desc() != user_dst.get_desc() ? memory(pd.dst_desc(), eng) : user_dst;
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (!bias_.empty()) args[DNNL_ARG_BIAS] = memory({{OC}, dt::f32, tag::x}, eng, const_cast<float*>(bias_.data()));
  plan->prim.execute(s, args);
  if (dst != user_dst) dnnl::reorder(dst, user_dst).execute(s, dst, user_dst);
  s.wait();
  return out;
}

Tensor conv1x1(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t N = x.dim(0), IC = x.dim(1), HW = x.dim(2) * x.dim(3), OC = weight.dim(0);
  Tensor out = Tensor::uninitialized({N, OC, x.dim(2), x.dim(3)});
  for (int64_t n = 0; n < N; ++n) {
    float* o = out.data() + n * OC * HW;
    if (!bias.empty()) {
#pragma omp parallel for
      for (int64_t c = 0; c < OC; ++c)
        for (int64_t i = 0; i < HW; ++i) o[c * HW + i] = bias[c];
    }
    gemm(OC, HW, IC, weight.data(), IC, x.data() + n * IC * HW, HW, false, o, HW, 1.f, bias.empty() ? 0.f : 1.f);
  }
  return out;
}

Tensor conv_transpose_k_eq_s(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t N = x.dim(0), IC = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t OC = weight.dim(1), k = weight.dim(2);
  const int64_t HW = H * W, M = OC * k * k;
  Tensor out = Tensor::uninitialized({N, OC, H * k, W * k});
  std::vector<float> tmp(static_cast<size_t>(M) * HW);
  for (int64_t n = 0; n < N; ++n) {
    // tmp[(oc,i,j), (y,x)] = sum_ic W[ic, (oc,i,j)] * x[ic, (y,x)]
    gemm(M, HW, IC, weight.data(), M, x.data() + n * IC * HW, HW, false, tmp.data(), HW, 1.f, 0.f, true);
    float* o = out.data() + n * OC * HW * k * k;
#pragma omp parallel for
    for (int64_t oc = 0; oc < OC; ++oc) {
      const float b = bias.empty() ? 0.f : bias[oc];
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) {
          const float* t = tmp.data() + ((oc * k + i) * k + j) * HW;
          for (int64_t y = 0; y < H; ++y)
            for (int64_t xx = 0; xx < W; ++xx) o[(oc * H * k + y * k + i) * W * k + xx * k + j] = t[y * W + xx] + b;
        }
    }
  }
  return out;
}

}  // namespace vggt::ops

#include "model/layers.h"

#include <chrono>
#include <cmath>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/norm.h"

namespace vggt {

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Linear::Linear(const WeightStore& ws, const std::string& prefix, bool bias) : w(ws.get(prefix + ".weight")) {
  if (bias) b = ws.get(prefix + ".bias");
}

Tensor Linear::forward(const Tensor& x) const {
  const int64_t K = x.dim(-1), M = x.numel() / K, N = w.dim(0);
  Tensor y = Tensor::uninitialized({M, N});
  ops::linear(x.data(), w.data(), b.empty() ? nullptr : b.data(), y.data(), M, N, K);
  return y;
}

LayerNorm::LayerNorm(const WeightStore& ws, const std::string& prefix, float e)
    : w(ws.get(prefix + ".weight")), b(ws.get(prefix + ".bias")), eps(e) {}

Tensor LayerNorm::forward(const Tensor& x) const {
  const int64_t C = x.dim(-1);
  Tensor y = Tensor::uninitialized(x.shape());
  ops::layer_norm(x.data(), y.data(), w.empty() ? nullptr : w.data(), b.empty() ? nullptr : b.data(),
                  x.numel() / C, C, eps);
  return y;
}

TransformerBlock::TransformerBlock(const WeightStore& ws, const std::string& p, int64_t h, float eps, bool qk)
    : norm1(ws, p + ".norm1", eps),
      norm2(ws, p + ".norm2", eps),
      qkv(ws, p + ".attn.qkv"),
      proj(ws, p + ".attn.proj"),
      fc1(ws, p + ".mlp.fc1"),
      fc2(ws, p + ".mlp.fc2"),
      ls1(ws.get(p + ".ls1.gamma")),
      ls2(ws.get(p + ".ls2.gamma")),
      has_qk_norm(qk),
      heads(h) {
  if (qk) {
    // QK-norm uses PyTorch's default eps in every VGGT block that has it.
    q_norm = LayerNorm(ws, p + ".attn.q_norm", 1e-5f);
    k_norm = LayerNorm(ws, p + ".attn.k_norm", 1e-5f);
  }
}

void TransformerBlock::forward(Tensor& x, int64_t B, int64_t N, const int32_t* pos, const ops::RopeTable* rope,
                               BlockTimes* times) const {
  const int64_t C = x.dim(-1), T = B * N, H = heads, D = C / H;
  double t0 = now_ms();
  {
    Tensor h = norm1.forward(x);
    Tensor qkv_out = qkv.forward(h);
    Tensor q = Tensor::uninitialized({B, H, N, D}), k = Tensor::uninitialized({B, H, N, D}),
           v = Tensor::uninitialized({B, H, N, D});
    ops::split_qkv(qkv_out.data(), q.data(), k.data(), v.data(), B, N, H, D);
    qkv_out = Tensor();
    if (has_qk_norm) {
      ops::layer_norm(q.data(), q.data(), q_norm.w.data(), q_norm.b.data(), B * H * N, D, q_norm.eps);
      ops::layer_norm(k.data(), k.data(), k_norm.w.data(), k_norm.b.data(), B * H * N, D, k_norm.eps);
    }
    if (rope) {
      ops::rope2d_apply(q.data(), B * H, N, D, pos, *rope);
      ops::rope2d_apply(k.data(), B * H, N, D, pos, *rope);
    }
    Tensor a = Tensor::uninitialized({T, C});
    ops::attention_exact(q.data(), k.data(), v.data(), a.data(), B, H, N, D, 1.f / std::sqrt(static_cast<float>(D)));
    Tensor o = proj.forward(a);
    ops::add_scaled(x.data(), o.data(), ls1.data(), T, C);
  }
  double t1 = now_ms();
  {
    Tensor h = norm2.forward(x);
    Tensor m = fc1.forward(h);
    ops::gelu_erf(m.data(), m.numel());
    Tensor o = fc2.forward(m);
    ops::add_scaled(x.data(), o.data(), ls2.data(), T, C);
  }
  double t2 = now_ms();
  if (times) {
    times->attn_ms += t1 - t0;
    times->mlp_ms += t2 - t1;
    times->attn_gflop += 4.0 * B * H * N * N * D / 1e9;
    times->linear_gflop += qkv.gflop(T) + proj.gflop(T) + fc1.gflop(T) + fc2.gflop(T);
  }
}

}  // namespace vggt

#include "model/layers.h"

#include <algorithm>
#include <stdexcept>
#include <chrono>
#include <cmath>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/flash_attention.h"
#include "ops/gemm.h"
#include "ops/layernorm_fused.h"
#include "ops/linear_lowp.h"
#include "ops/norm.h"
#include "ops/qkv_epilogue.h"

namespace vggt {

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Linear::Linear(const WeightStore& ws, const params::Affine& p)
    : store_(&ws), name_(p.weight.name), shape_(ws.shape(p.weight)) {
  // The weight itself is read when a mode needs it (set_mode, or a float32 forward), so that a
  // run converted to bf16/int8 never holds every float32 weight at once.
  b = ws.get(p.bias);
}

const Tensor& Linear::weight() const {
  if (w.empty() && store_) w = store_->get(name_);
  return w;
}

Tensor Linear::forward(const Tensor& x, int64_t period, int special) const {
  const int64_t K = x.dim(-1), M = x.numel() / K, N = out_features();
  Tensor y = Tensor::uninitialized({M, N});
  switch (mode_) {
    case LinearMode::F32Packed: packed_->forward(x.data(), y.data(), static_cast<int>(M)); break;
    case LinearMode::BF16: bf16_->forward(x.data(), y.data(), static_cast<int>(M)); break;
    case LinearMode::W8A8:
      w8a8_->forward(x.data(), y.data(), static_cast<int>(M), static_cast<int>(period), special);
      break;
    default: ops::linear(x.data(), weight().data(), b.empty() ? nullptr : b.data(), y.data(), M, N, K);
  }
  return y;
}

Tensor Linear::forward_gelu_into(const Tensor& x, const Linear& next) const {
  if (mode_ != LinearMode::BF16 || next.mode_ != LinearMode::BF16 || !bf16_->native_bf16() ||
      !next.bf16_->native_bf16())
    return Tensor();
  const int64_t K = x.dim(-1), M = x.numel() / K, N = out_features();
  // The bf16 activations live in a float tensor of half the element count (the tensor
  // allocator's block cache then reuses it layer after layer).
  Tensor mid = Tensor::uninitialized({(M * N + 1) / 2});
  auto* mb = reinterpret_cast<uint16_t*>(mid.data());
  bf16_->forward_gelu_to_bf16(x.data(), mb, static_cast<int>(M));
  Tensor y = Tensor::uninitialized({M, next.out_features()});
  next.bf16_->forward_bf16_input(mb, y.data(), static_cast<int>(M));
  return y;
}

void Linear::set_mode(LinearMode m, bool hadamard, bool residual) {
  hadamard = hadamard && m == LinearMode::W8A8;
  residual = residual && m == LinearMode::W8A8;
  if (m == mode_ && hadamard == hadamard_ && residual == residual_) return;
  const int N = static_cast<int>(shape_[0]), K = static_cast<int>(shape_[1]);
  const float* bias = b.empty() ? nullptr : b.data();
  packed_.reset();
  bf16_.reset();
  w8a8_.reset();
  // A converted cache is used as stored: no float round trip, no re-quantisation.
  const io::TensorInfo* raw = store_ ? store_->converted(name_) : nullptr;
  if (m == LinearMode::F32Packed) packed_ = std::make_shared<ops::LinearF32Packed>(weight().data(), bias, N, K);
  if (m == LinearMode::BF16) {
    if (raw && raw->dtype == io::DType::BF16)
    {
      bf16_ = std::make_shared<ops::LinearBF16>(
          ops::LinearBF16::from_bf16(static_cast<const uint16_t*>(raw->data), bias, N, K));
      store_->release_converted(name_);  // the packed copy is the one in use
    }
    else
      bf16_ = std::make_shared<ops::LinearBF16>(weight().data(), bias, N, K);
  }
  if (m == LinearMode::W8A8) {
    // Stored int8 weights are used as they are only when they were quantised in the form this
    // run needs (rotated or not); otherwise they are dequantised (un-rotated) and re-quantised.
    const bool rotate = ops::LinearW8A8::rotates(K, hadamard);
    if (raw && raw->dtype == io::DType::I8 && store_->int8_rotated(name_) == rotate)
    {
      auto l = ops::LinearW8A8::from_quantized(static_cast<const int8_t*>(raw->data), store_->converted_scale(name_),
                                               bias, N, K, rotate);
      // The residual comes only from the cache: the stored weights alone no longer hold it. A
      // cache written without residuals (its metadata says so) runs without them.
      if (residual)
        if (const io::TensorInfo* r = store_->converted_residual(name_))
          l.set_residual(static_cast<const int8_t*>(r->data), store_->converted_residual_scale(name_));
      w8a8_ = std::make_shared<ops::LinearW8A8>(std::move(l));
      store_->release_converted(name_);
    }
    else
      w8a8_ = std::make_shared<ops::LinearW8A8>(weight().data(), bias, N, K, rotate, residual);
  }
  if (m != LinearMode::F32 && store_) {
    // The converted copy is the one in use: the float32 goes (weight() makes it again, from the
    // file or the seed, if a float32 mode comes back).
    w = Tensor();
    store_->release_f32(name_);
  }
  mode_ = m;
  hadamard_ = hadamard;
  residual_ = residual;
}

size_t Linear::weight_bytes() const {
  switch (mode_) {
    case LinearMode::F32Packed: return packed_->weight_bytes();
    case LinearMode::BF16: return bf16_->weight_bytes();
    case LinearMode::W8A8: return w8a8_->weight_bytes();
    default: return (weight_numel() + b.numel()) * sizeof(float);
  }
}

LayerNorm::LayerNorm(const WeightStore& ws, const params::Affine& p, float e)
    : w(ws.get(p.weight)), b(ws.get(p.bias)), eps(e) {}

Tensor LayerNorm::forward(const Tensor& x) const {
  const int64_t C = x.dim(-1);
  Tensor y = Tensor::uninitialized(x.shape());
  ops::layer_norm(x.data(), y.data(), w.empty() ? nullptr : w.data(), b.empty() ? nullptr : b.data(),
                  x.numel() / C, C, eps);
  return y;
}

TransformerBlock::TransformerBlock(const WeightStore& ws, const params::Block& p, int64_t h, float eps)
    : norm1(ws, p.norm1, eps),
      norm2(ws, p.norm2, eps),
      qkv(ws, p.qkv),
      proj(ws, p.proj),
      fc1(ws, p.fc1),
      fc2(ws, p.fc2),
      ls1(ws.get(p.ls1)),
      ls2(ws.get(p.ls2)),
      has_qk_norm(p.q_norm.has_value()),
      heads(h) {
  if (has_qk_norm) {
    // QK-norm uses PyTorch's default eps in every VGGT block that has it.
    q_norm = LayerNorm(ws, *p.q_norm, 1e-5f);
    k_norm = LayerNorm(ws, *p.k_norm, 1e-5f);
  }
}

void TransformerBlock::set_linear_mode(LinearMode m) {
  for (Linear* l : {&qkv, &proj, &fc1, &fc2}) l->set_mode(m);
}

void TransformerBlock::set_linear_modes(LinearMode fc2_mode, LinearMode rest, bool hadamard, bool residual) {
  for (Linear* l : {&qkv, &proj, &fc1}) l->set_mode(rest, hadamard, residual);
  fc2.set_mode(fc2_mode, hadamard, residual);
}

size_t TransformerBlock::weight_bytes() const {
  size_t n = qkv.weight_bytes() + proj.weight_bytes() + fc1.weight_bytes() + fc2.weight_bytes();
  for (const Tensor* t : {&norm1.w, &norm1.b, &norm2.w, &norm2.b, &ls1, &ls2, &q_norm.w, &q_norm.b, &k_norm.w, &k_norm.b})
    n += t->numel() * sizeof(float);
  return n;
}

namespace {

// RoPE for one of q/k. Without rope-cache the tables and per-token gathers are rebuilt on
// every call (for q and again for k), as the reference implementation does.
void apply_rope(float* x, int64_t BH, int64_t N, int64_t D, const int32_t* pos, const ops::RopeTable* table,
                const RopeTokens* cached, const ExecFlags& f, float base) {
  if (f.rope_cache && cached) {
    ops::rope_apply(x, BH, N, D, cached->cos.data(), cached->sin.data(), cached->N, f.rope_fused);
    return;
  }
  int64_t max_pos = 0;
  for (int64_t i = 0; i < 2 * N; ++i) max_pos = std::max<int64_t>(max_pos, pos[i]);
  const ops::RopeTable t = ops::RopeTable::build(D / 2, max_pos + 1, base);
  (void)table;
  std::vector<float> c(N * D), s(N * D);
  ops::rope_gather(pos, N, t, c.data(), s.data());
  ops::rope_apply(x, BH, N, D, c.data(), s.data(), N, f.rope_fused);
}

// Rows [t0, t0 + rows) of a fused qkv output [rows, 3, H, D] into q/k/v [B, H, N, D].
void split_qkv_rows(const float* part, int64_t t0, int64_t rows, float* q, float* k, float* v, int64_t N,
                    int64_t H, int64_t D) {
  float* dst[3] = {q, k, v};
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = t0 + r, b = t / N, n = t % N;
    for (int j = 0; j < 3; ++j)
      for (int64_t hh = 0; hh < H; ++hh) {
        const float* s = part + ((r * 3 + j) * H + hh) * D;
        std::copy(s, s + D, dst[j] + ((b * H + hh) * N + n) * D);
      }
  }
}

}  // namespace

void TransformerBlock::forward(Tensor& x, int64_t B, int64_t N, const int32_t* pos, const ops::RopeTable* rope,
                               BlockTimes* times, const ExecFlags& flags, bool global, const RopeTokens* rope_tokens,
                               float rope_base) const {
  const int64_t C = x.dim(-1), T = B * N, H = heads, D = C / H;
  // Rows per frame, for the int8 special-token rows: a global block sees all frames as one
  // sequence.
  const int64_t P = global && flags.global_sparsity.layout.P > 0 ? flags.global_sparsity.layout.P : N;
  const int sp = flags.int8_special;
  // With int8 special rows, row chunks start on frame boundaries, so the special rows (the first
  // `sp` of every P) sit where the int8 quantiser looks for them.
  const int64_t rc = std::max<int64_t>(1, flags.row_chunk);
  const int64_t row_chunk = sp > 0 ? std::max<int64_t>(P, rc / P * P) : rc;
  if (!global && B > 1 && T > row_chunk) {
    // Frame-local blocks (encoder, frame blocks, early-frame global layers) are independent per
    // frame: at many frames they run a few frames at a time, so their norm, q/k/v and attention
    // buffers are one chunk's, not every frame's (3.2 GiB at 200 VGGT-1B frames).
    const int64_t per = std::max<int64_t>(1, row_chunk / N);
    for (int64_t b0 = 0; b0 < B; b0 += per) {
      const int64_t n = std::min(per, B - b0);
      Tensor xv = Tensor::view(x.data() + b0 * N * C, {n * N, C});
      forward(xv, n, N, pos, rope, times, flags, false, rope_tokens, rope_base);
    }
    return;
  }
  double t0 = now_ms();
  Tensor h2;  // norm2(x), produced by the fused residual+LayerNorm when enabled
  {
    Tensor h = Tensor::uninitialized(x.shape());
    if (flags.fused_add_ln)
      ops::layernorm(x.data(), h.data(), norm1.w.data(), norm1.b.data(), T, static_cast<int>(C), norm1.eps);
    else
      h = norm1.forward(x);
    Tensor q = Tensor::uninitialized({B, H, N, D}), k = Tensor::uninitialized({B, H, N, D}),
           v = Tensor::uninitialized({B, H, N, D});
    // With the vector QK-norm (fused-add-ln) and cached, fused RoPE, split + QK-norm + RoPE run as
    // one pass over the Linear's output (same bits as the separate passes below). Row-chunked
    // blocks (many frames) split chunk by chunk and take the separate passes.
    const bool fused_epilogue = T <= row_chunk && flags.fused_add_ln &&
                                (!rope || (flags.rope_cache && flags.rope_fused && rope_tokens));
    if (T <= row_chunk) {
      Tensor qkv_out = qkv.forward(h, P, sp);
      if (fused_epilogue) {
        const ops::HeadNorm qn{q_norm.w.data(), q_norm.b.data(), q_norm.eps};
        const ops::HeadNorm kn{k_norm.w.data(), k_norm.b.data(), k_norm.eps};
        ops::split_qkv_norm_rope(qkv_out.data(), q.data(), k.data(), v.data(), B, N, H, D,
                                 has_qk_norm ? &qn : nullptr, has_qk_norm ? &kn : nullptr,
                                 rope ? rope_tokens->cos.data() : nullptr, rope ? rope_tokens->sin.data() : nullptr,
                                 rope ? rope_tokens->N : 1);
      } else {
        ops::split_qkv(qkv_out.data(), q.data(), k.data(), v.data(), B, N, H, D);
      }
    } else {
      // Many frames: the fused [T, 3C] output next to q/k/v would double the block's largest
      // buffers, so it is produced and split a row chunk at a time (rows are independent).
      for (int64_t r0 = 0; r0 < T; r0 += row_chunk) {
        const int64_t rows = std::min(row_chunk, T - r0);
        Tensor part = qkv.forward(Tensor::view(h.data() + r0 * C, {rows, C}), P, sp);
        split_qkv_rows(part.data(), r0, rows, q.data(), k.data(), v.data(), N, H, D);
      }
    }
    h = Tensor();
    if (has_qk_norm && !fused_epilogue) {
      // fused-add-ln also brings the one-pass vector LayerNorm to QK-norm (64-wide rows).
      auto norm = flags.fused_add_ln ? [](const float* x, float* y, const float* w, const float* b, int64_t rows,
                                          int64_t C, float eps) { ops::layernorm(x, y, w, b, rows, static_cast<int>(C), eps); }
                                     : ops::layer_norm;
      norm(q.data(), q.data(), q_norm.w.data(), q_norm.b.data(), B * H * N, D, q_norm.eps);
      norm(k.data(), k.data(), k_norm.w.data(), k_norm.b.data(), B * H * N, D, k_norm.eps);
    }
    if (rope && !fused_epilogue) {
      apply_rope(q.data(), B * H, N, D, pos, rope, rope_tokens, flags, rope_base);
      apply_rope(k.data(), B * H, N, D, pos, rope, rope_tokens, flags, rope_base);
    }
    Tensor a = Tensor::uninitialized({T, C});
    const float scale = 1.f / std::sqrt(static_cast<float>(D));
    const GlobalSparsity& gs = flags.global_sparsity;
    if (global && flags.distributed)
      flags.distributed->attention(q.data(), k.data(), v.data(), a.data(), B, H, N, D, scale, flags.global_attn, gs);
    else if (global && gs.kind == GlobalSparsity::kv_subsample)
      ops::kv_subsample_attention(flags.global_attn, q.data(), k.data(), v.data(), a.data(), H, gs.layout, D, scale,
                                  gs.stride);
    else if (global && gs.kind == GlobalSparsity::block_sparse)
      ops::block_sparse_attention_inplace(flags.global_attn, q.data(), k.data(), v.data(), a.data(), H, gs.layout, D, scale,
                                  gs.keep, gs.cdf);
    else
      ops::attention(global ? flags.global_attn : flags.frame_attn, q.data(), k.data(), v.data(), a.data(), B, H, N,
                     D, scale);
    q = Tensor(), k = Tensor(), v = Tensor();
    Tensor o = proj.forward(a, P, sp);
    a = Tensor();
    if (flags.fused_add_ln) {
      h2 = Tensor::uninitialized(x.shape());
      ops::add_scaled_layer_norm(x.data(), o.data(), ls1.data(), h2.data(), norm2.w.data(), norm2.b.data(), T, C,
                                 norm2.eps);
    } else {
      ops::add_scaled(x.data(), o.data(), ls1.data(), T, C);
    }
  }
  double t1 = now_ms();
  {
    Tensor h = h2.empty() ? norm2.forward(x) : h2;
    h2 = Tensor();
    // The MLP is row-wise: at many frames it runs a row chunk at a time so that its 4C-wide
    // hidden activations stay small.
    for (int64_t r0 = 0; r0 < T; r0 += row_chunk) {
      const int64_t rows = std::min(row_chunk, T - r0);
      const Tensor hr = T <= row_chunk ? h : Tensor::view(h.data() + r0 * C, {rows, C});
      Tensor o = fc1.forward_gelu_into(hr, fc2);  // bf16: GELU fused, no fp32 hidden activations
      if (o.empty()) {
        Tensor m = fc1.forward(hr, P, sp);
        ops::gelu_erf(m.data(), m.numel());
        o = fc2.forward(m, P, sp);
      }
      ops::add_scaled(x.data() + r0 * C, o.data(), ls2.data(), rows, C);
    }
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

#include <algorithm>
#include <cstring>

#include "model/parts.h"
#include "ops/linear_lowp.h"

namespace vggt {

std::map<int, Tensor> KeptLayers::frames(int64_t s0, int64_t s1) const {
  std::map<int, Tensor> out;
  const int64_t n = (s1 - s0) * P * C;
  for (auto& [i, t] : f32) out[i] = Tensor::view(t.data() + s0 * P * C, {s1 - s0, P, C});
  for (auto& [i, h] : bf16) {
    Tensor t = Tensor::uninitialized({s1 - s0, P, C});
    const uint16_t* src = h.data() + s0 * P * C;
    float* dst = t.data();
#pragma omp parallel for
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t bits = static_cast<uint32_t>(src[j]) << 16;
      std::memcpy(dst + j, &bits, sizeof(float));
    }
    out[i] = t;
  }
  return out;
}

size_t KeptLayers::bytes() const {
  size_t b = camera.empty() ? 0 : camera.numel() * sizeof(float);
  for (auto& [i, t] : f32) b += t.numel() * sizeof(float);
  for (auto& [i, h] : bf16) b += h.size() * sizeof(uint16_t);
  return b;
}

void KeptLayers::clear() {
  f32.clear();
  bf16.clear();
  camera = Tensor();
}

Aggregator::Aggregator(const WeightStore& ws, const ModelConfig& c, const params::Aggregator& p) : cfg(c) {
  camera_token = ws.get(p.camera_token);
  register_token = ws.get(p.register_token);
  for (size_t i = 0; i < p.frame_blocks.size(); ++i) {
    frame_blocks.emplace_back(ws, p.frame_blocks[i], c.num_heads, 1e-5f);
    global_blocks.emplace_back(ws, p.global_blocks[i], c.num_heads, 1e-5f);
  }
}

KeptLayers Aggregator::forward(Tensor patch_tokens, int64_t hp, int64_t wp, const std::vector<int>& keep,
                               bool keep_bf16, const StepFn& step, BlockTimes* frame_times, BlockTimes* global_times,
                               const ExecFlags& flags, int64_t frame_offset) const {
  const int64_t S = patch_tokens.dim(0), Np = patch_tokens.dim(1), E = cfg.embed_dim;
  const int64_t R = cfg.num_register_tokens, special = 1 + R, P = special + Np;
  const int64_t D = E / cfg.num_heads;

  // Frame 0 takes the first camera/register token set, every other frame the second.
  Tensor x = Tensor::uninitialized({S * P, E});
  for (int64_t s = 0; s < S; ++s) {
    const int64_t set = s + frame_offset == 0 ? 0 : 1;
    float* f = x.data() + s * P * E;
    std::memcpy(f, camera_token.data() + set * E, E * sizeof(float));
    std::memcpy(f + E, register_token.data() + set * R * E, R * E * sizeof(float));
    std::memcpy(f + special * E, patch_tokens.data() + s * Np * E, Np * E * sizeof(float));
  }
  patch_tokens = Tensor();  // freed here unless the caller keeps a reference (debug output)

  const std::vector<int32_t> frame_pos = ops::frame_positions(special, hp, wp);
  std::vector<int32_t> global_pos;
  global_pos.reserve(frame_pos.size() * S);
  for (int64_t s = 0; s < S; ++s) global_pos.insert(global_pos.end(), frame_pos.begin(), frame_pos.end());
  const ops::RopeTable rope = ops::RopeTable::build(D / 2, std::max(hp, wp) + 1, cfg.rope_freq);
  std::shared_ptr<const RopeTokens> tokens;
  if (flags.rope_cache) {
    std::lock_guard<std::mutex> lock(rope_mu);
    auto& slot = rope_cache[{hp, wp}];
    if (!slot) {
      auto t = std::make_shared<RopeTokens>();
      t->N = P;
      t->D = D;
      t->cos.resize(P * D);
      t->sin.resize(P * D);
      ops::rope_gather(frame_pos.data(), P, rope, t->cos.data(), t->sin.data());
      slot = t;
    }
    tokens = slot;
  }

  KeptLayers out;
  out.S = S, out.P = P, out.C = 2 * E;
  const int64_t T = S * P, C2 = 2 * E;
  // Copies the block output x into half `half` (0: frame, 1: global) of a kept layer.
  auto keep_half = [&](int i, int half) {
    if (keep_bf16) {
      auto& h = out.bf16[i];
      if (h.empty()) h.resize(static_cast<size_t>(T * C2));
#pragma omp parallel for
      for (int64_t t = 0; t < T; ++t) ops::detail::f32_to_bf16(x.data() + t * E, E, h.data() + t * C2 + half * E);
      return;
    }
    Tensor& layer = out.f32[i];
    if (layer.empty()) layer = Tensor::uninitialized({S, P, C2});
#pragma omp parallel for
    for (int64_t t = 0; t < T; ++t) std::memcpy(layer.data() + t * C2 + half * E, x.data() + t * E, E * sizeof(float));
  };
  const int total = 2 * cfg.depth;
  for (int i = 0; i < cfg.depth; ++i) {
    const bool wanted = std::find(keep.begin(), keep.end(), i) != keep.end();
    const bool last = i == cfg.depth - 1;
    frame_blocks[i].forward(x, S, P, frame_pos.data(), &rope, frame_times, flags, false, tokens.get(), cfg.rope_freq);
    if (wanted) keep_half(i, 0);
    if (last) {
      out.camera = Tensor::uninitialized({S, 1, C2});
      for (int64_t s = 0; s < S; ++s) std::memcpy(out.camera.data() + s * C2, x.data() + s * P * E, E * sizeof(float));
    }
    step("aggregator", 2 * i + 1, total);
    if (i < flags.global_early_frame) {
      // Computed as frame attention: no key outside the query's frame, no communication.
      ExecFlags ff = flags;
      ff.frame_attn = flags.global_attn;
      global_blocks[i].forward(x, S, P, frame_pos.data(), &rope, global_times, ff, false, tokens.get(),
                              cfg.rope_freq);
    } else {
      ExecFlags gf = flags;
      gf.global_sparsity.layout = {S, P, special, hp, wp};
      if (flags.kv_stride > 0 && i >= flags.kv_first && i <= flags.kv_last) {
        gf.global_sparsity.kind = GlobalSparsity::kv_subsample;
        gf.global_sparsity.stride = flags.kv_stride;
      } else if (flags.block_keep > 0) {
        gf.global_sparsity.kind = GlobalSparsity::block_sparse;
        gf.global_sparsity.keep = flags.block_keep;
        gf.global_sparsity.cdf = flags.block_cdf;
      }
      global_blocks[i].forward(x, 1, S * P, global_pos.data(), &rope, global_times, gf, true, tokens.get(),
                              cfg.rope_freq);
    }
    if (wanted) keep_half(i, 1);
    if (last)
      for (int64_t s = 0; s < S; ++s)
        std::memcpy(out.camera.data() + s * C2 + E, x.data() + s * P * E, E * sizeof(float));
    step("aggregator", 2 * i + 2, total);
  }
  return out;
}

}  // namespace vggt

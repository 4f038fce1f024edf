#include <cmath>
#include <cstring>

#include "model/parts.h"
#include "ops/gemm.h"
#include "ops/resize.h"

namespace vggt {

Encoder::Encoder(const WeightStore& ws, const ModelConfig& c, const params::Encoder& p) : cfg(c) {
  patch_w = ws.get(p.patch_proj.weight);
  patch_b = ws.get(p.patch_proj.bias);
  cls_token = ws.get(p.cls_token);
  pos_embed = ws.get(p.pos_embed);
  if (p.register_tokens) register_tokens = ws.get(*p.register_tokens);
  for (const params::Block& b : p.blocks) blocks.emplace_back(ws, b, c.encoder_heads, 1e-6f);
  norm = LayerNorm(ws, p.norm, 1e-6f);
}

Tensor Encoder::interpolated_pos_embed(int64_t hp, int64_t wp) const {
  const int64_t E = cfg.embed_dim, N = pos_embed.dim(1) - 1;
  const int64_t M = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(N))));
  Tensor out = Tensor::uninitialized({1 + hp * wp, E});
  std::memcpy(out.data(), pos_embed.data(), E * sizeof(float));
  if (hp * wp == N && hp == wp) {
    std::memcpy(out.data() + E, pos_embed.data() + E, N * E * sizeof(float));
    return out;
  }
  // [M*M, E] -> [E, M, M] -> resize -> [E, hp, wp] -> [hp*wp, E]
  Tensor grid = Tensor::uninitialized({E, M, M});
  for (int64_t i = 0; i < M * M; ++i)
    for (int64_t e = 0; e < E; ++e) grid[e * M * M + i] = pos_embed[(1 + i) * E + e];
  Tensor r = ops::resize_bicubic_antialias(grid, hp, wp);
  for (int64_t i = 0; i < hp * wp; ++i)
    for (int64_t e = 0; e < E; ++e) out[(1 + i) * E + e] = r[e * hp * wp + i];
  return out;
}

Tensor Encoder::forward(const Tensor& images, const StepFn& step, BlockTimes* times, const ExecFlags& flags) const {
  const int64_t S = images.dim(0), H = images.dim(2), W = images.dim(3), p = cfg.patch_size;
  const int64_t hp = H / p, wp = W / p, Np = hp * wp, E = cfg.embed_dim, R = cfg.num_register_tokens;
  const int64_t N = 1 + R + Np, K = 3 * p * p;
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};

  // Non-overlapping 14x14 patches: the stride-14 conv is one GEMM over unfolded patches.
  Tensor cols = Tensor::uninitialized({S * Np, K});
#pragma omp parallel for collapse(2)
  for (int64_t s = 0; s < S; ++s)
    for (int64_t pr = 0; pr < hp; ++pr)
      for (int64_t pc = 0; pc < wp; ++pc) {
        float* dst = cols.data() + ((s * hp + pr) * wp + pc) * K;
        for (int64_t ch = 0; ch < 3; ++ch)
          for (int64_t i = 0; i < p; ++i)
            for (int64_t j = 0; j < p; ++j) {
              const float v = images[((s * 3 + ch) * H + pr * p + i) * W + pc * p + j];
              dst[(ch * p + i) * p + j] = (v - mean[ch]) / stdv[ch];
            }
      }
  Tensor patches = Tensor::uninitialized({S * Np, E});
  ops::linear(cols.data(), patch_w.data(), patch_b.data(), patches.data(), S * Np, E, K);
  cols = Tensor();

  const Tensor pos = interpolated_pos_embed(hp, wp);
  Tensor x = Tensor::uninitialized({S * N, E});
#pragma omp parallel for
  for (int64_t s = 0; s < S; ++s) {
    float* f = x.data() + s * N * E;
    for (int64_t e = 0; e < E; ++e) f[e] = cls_token[e] + pos[e];
    for (int64_t r = 0; r < R; ++r) std::memcpy(f + (1 + r) * E, register_tokens.data() + r * E, E * sizeof(float));
    for (int64_t i = 0; i < Np; ++i)
      for (int64_t e = 0; e < E; ++e) f[(1 + R + i) * E + e] = patches[(s * Np + i) * E + e] + pos[(1 + i) * E + e];
  }
  patches = Tensor();
  for (size_t i = 0; i < blocks.size(); ++i) {
    blocks[i].forward(x, S, N, nullptr, nullptr, times, flags);
    step("encoder", static_cast<int>(i + 1), static_cast<int>(blocks.size()));
  }
  // Only the patch tokens leave the encoder (x_norm_patchtokens).
  Tensor out = Tensor::uninitialized({S, Np, E});
  for (int64_t s = 0; s < S; ++s)
    std::memcpy(out.data() + s * Np * E, x.data() + (s * N + 1 + R) * E, Np * E * sizeof(float));
  Tensor normed = norm.forward(out.reshape({S * Np, E}));
  return normed.reshape({S, Np, E});
}

}  // namespace vggt

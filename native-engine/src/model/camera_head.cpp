#include <cmath>

#include "model/parts.h"
#include "ops/elementwise.h"
#include "ops/norm.h"

namespace vggt {

CameraHead::CameraHead(const WeightStore& ws, const ModelConfig& c, const params::CameraHead& p) : cfg(c) {
  for (const params::Block& b : p.trunk) trunk.emplace_back(ws, b, c.camera_heads, 1e-5f);
  token_norm = LayerNorm(ws, p.token_norm, 1e-5f);
  trunk_norm = LayerNorm(ws, p.trunk_norm, 1e-5f);
  empty_pose = ws.get(p.empty_pose_tokens);
  embed_pose = Linear(ws, p.embed_pose);
  modulation = Linear(ws, p.modulation);
  branch_fc1 = Linear(ws, p.branch_fc1);
  branch_fc2 = Linear(ws, p.branch_fc2);
}

std::vector<Tensor> CameraHead::forward(const Tensor& last_layer, const StepFn& step, const ExecFlags& flags) const {
  const int64_t S = last_layer.dim(0), P = last_layer.dim(1), C = last_layer.dim(2);
  Tensor cam = Tensor::uninitialized({S, C});
  for (int64_t s = 0; s < S; ++s)
    for (int64_t c = 0; c < C; ++c) cam[s * C + c] = last_layer[s * P * C + c];
  const Tensor tokens = token_norm.forward(cam);
  Tensor normed = Tensor::uninitialized({S, C});  // adaln_norm: no affine, eps 1e-6
  ops::layer_norm(tokens.data(), normed.data(), nullptr, nullptr, S, C, 1e-6f);

  std::vector<Tensor> outputs;
  Tensor pred;  // running, un-activated encoding
  for (int it = 0; it < cfg.camera_iterations; ++it) {
    Tensor in = Tensor::uninitialized({S, 9});
    for (int64_t s = 0; s < S; ++s)
      for (int k = 0; k < 9; ++k) in[s * 9 + k] = pred.empty() ? empty_pose[k] : pred[s * 9 + k];
    Tensor emb = embed_pose.forward(in);
    Tensor act = Tensor::uninitialized(emb.shape());
    ops::silu_to(emb.data(), act.data(), emb.numel());
    Tensor mod = modulation.forward(act);  // [S, 3C]: shift, scale, gate
    Tensor x = Tensor::uninitialized({S, C});
    for (int64_t s = 0; s < S; ++s)
      for (int64_t c = 0; c < C; ++c) {
        const float shift = mod[s * 3 * C + c], scale = mod[s * 3 * C + C + c], gate = mod[s * 3 * C + 2 * C + c];
        x[s * C + c] = gate * (normed[s * C + c] * (1.f + scale) + shift) + tokens[s * C + c];
      }
    for (auto& b : trunk) b.forward(x, 1, S, nullptr, nullptr, nullptr, flags);
    Tensor h = branch_fc1.forward(trunk_norm.forward(x));
    ops::gelu_erf(h.data(), h.numel());
    Tensor delta = branch_fc2.forward(h);
    if (pred.empty()) {
      pred = delta;
    } else {
      for (int64_t i = 0; i < pred.numel(); ++i) pred[i] += delta[i];
    }
    // Translation and quaternion are linear; the two field-of-view values go through ReLU.
    Tensor activated = pred.clone();
    for (int64_t s = 0; s < S; ++s)
      for (int k = 7; k < 9; ++k) activated[s * 9 + k] = std::max(0.f, activated[s * 9 + k]);
    outputs.push_back(activated);
    step("camera_head", it + 1, cfg.camera_iterations);
  }
  return outputs;
}

}  // namespace vggt

#include <cmath>
#include <cstring>

#include "model/parts.h"
#include "ops/elementwise.h"
#include "ops/resize.h"

namespace vggt {

namespace {

// The DPT heads' UV-grid sin/cos embedding, scaled by 0.1, computed in double like the
// official float64 code. Returns [h, w, C] (channels-last, like the head's activations).
Tensor uv_pos_embed(int64_t C, int64_t h, int64_t w, double aspect, bool lowp) {
  const double diag = std::sqrt(aspect * aspect + 1.0);
  const double span_x = aspect / diag, span_y = 1.0 / diag;
  auto linspace = [](double a, double b, int64_t n, int64_t i) {
    if (n == 1) return a;
    const double step = (b - a) / static_cast<double>(n - 1);
    return i < n / 2 ? a + step * i : b - step * (n - 1 - i);
  };
  const double lx = -span_x * (w - 1) / w, rx = span_x * (w - 1) / w;
  const double ty = -span_y * (h - 1) / h, by = span_y * (h - 1) / h;
  const int64_t q = C / 4;  // per axis: q sines then q cosines
  std::vector<double> omega(q);
  for (int64_t d = 0; d < q; ++d) omega[d] = 1.0 / std::pow(100.0, static_cast<double>(d) / (C / 4.0));
  Tensor out = Tensor::uninitialized({h, w, C});
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double u = linspace(lx, rx, w, x), v = linspace(ty, by, h, y);
      if (lowp) {  // float32 throughout: float64 is slow, and the embedding's error stays far below the tolerance
        const float uf = static_cast<float>(u), vf = static_cast<float>(v);
        for (int64_t d = 0; d < q; ++d) {
          const float om = static_cast<float>(omega[d]);
          out[(y * w + x) * C + 0 * q + d] = 0.1f * std::sin(uf * om);
          out[(y * w + x) * C + 1 * q + d] = 0.1f * std::cos(uf * om);
          out[(y * w + x) * C + 2 * q + d] = 0.1f * std::sin(vf * om);
          out[(y * w + x) * C + 3 * q + d] = 0.1f * std::cos(vf * om);
        }
        continue;
      }
      for (int64_t d = 0; d < q; ++d) {
        out[(y * w + x) * C + 0 * q + d] = static_cast<float>(0.1 * static_cast<float>(std::sin(u * omega[d])));
        out[(y * w + x) * C + 1 * q + d] = static_cast<float>(0.1 * static_cast<float>(std::cos(u * omega[d])));
        out[(y * w + x) * C + 2 * q + d] = static_cast<float>(0.1 * static_cast<float>(std::sin(v * omega[d])));
        out[(y * w + x) * C + 3 * q + d] = static_cast<float>(0.1 * static_cast<float>(std::cos(v * omega[d])));
      }
    }
  return out;
}


// Residual conv unit. The official unit uses an in-place ReLU, so its skip path adds relu(x).
// The second ReLU and the skip add run inside the convolutions' epilogues.
// With both convolutions in bf16 the hidden map goes from one to the other as bf16 (the second
// would round it to bf16 anyway: same result, half the bytes, no conversion pass).
Tensor residual_unit(const Tensor& x, const ops::Conv2d& c1, const ops::Conv2d& c2) {
  Tensor r = Tensor::uninitialized(x.shape());
  ops::relu_to(x.data(), r.data(), x.numel());
  if (c1.bf16() && c2.bf16()) {
    const Tensor h = c1.forward_relu_to_bf16(r);  // 3x3, padding 1: same H, W
    return c2.forward_bf16_input(reinterpret_cast<const uint16_t*>(h.data()), x.dim(0), x.dim(1), x.dim(2),
                                 c1.out_channels(), false, &r);
  }
  Tensor h = c1.forward(r, /*relu=*/true);
  return c2.forward(h, false, &r);
}

// A 1x1 convolution on channels-last activations is a Linear over the pixels.
Tensor pointwise(const Linear& l, const Tensor& x) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2);
  return l.forward(x.reshape({N * H * W, x.dim(3)})).reshape({N, H, W, l.out_features()});
}

// Bilinear upsampling (plus an optional [oh, ow, C] addend) feeding a convolution. With the
// convolution in bf16 mode the upsampled map is written as bf16 in the resampling pass (the
// convolution rounds its input to bf16 anyway: same result, no fp32 map, no conversion pass).
Tensor upsample_then_conv(const ops::Conv2d& conv, const Tensor& x, int64_t oh, int64_t ow, const Tensor* addend,
                          bool relu) {
  if (conv.bf16()) {
    const int64_t n = x.dim(0) * oh * ow * x.dim(3);
    Tensor buf = Tensor::uninitialized({(n + 1) / 2});  // bf16 in a float tensor of half the count
    auto* b = reinterpret_cast<uint16_t*>(buf.data());
    ops::resize_bilinear_align_corners_bf16(x, oh, ow, addend, b);
    return conv.forward_bf16_input(b, x.dim(0), oh, ow, x.dim(3), relu);
  }
  Tensor up = addend ? ops::resize_bilinear_align_corners_add(x, oh, ow, *addend)
                     : ops::resize_bilinear_align_corners(x, oh, ow);
  return conv.forward(up, relu);
}

}  // namespace

Tensor DptHead::pos_embed(int64_t C, int64_t h, int64_t w, double aspect) const {
  if (!pos_cache) return uv_pos_embed(C, h, w, aspect, sincos_lowp);
  std::lock_guard<std::mutex> lock(pe_mu);
  auto key = std::make_tuple(C, h, w, aspect * (sincos_lowp ? -1 : 1));
  auto it = pe_cache.find(key);
  if (it == pe_cache.end()) it = pe_cache.emplace(key, uv_pos_embed(C, h, w, aspect, sincos_lowp)).first;
  return it->second;
}

DptHead::DptHead(const WeightStore& ws, const ModelConfig& c, const params::Dpt& p, bool depth)
    : cfg(c),
      out_dim(p.output_conv2_2 ? static_cast<int>(p.output_conv2_2->weight.shape[0]) : 0),
      depth_activation(depth) {
  // A 1x1 convolution [N, K, 1, 1] runs as a Linear [N, K] on channels-last pixels.
  auto pointwise_conv = [&](const params::Affine& a) {
    const Tensor& w = ws.get(a.weight);
    return Linear(w.reshape({w.dim(0), w.dim(1)}), ws.get(a.bias));
  };
  auto conv = [&](const params::Affine& a, int stride) { return ops::Conv2d(ws.get(a.weight), ws.get(a.bias), stride, 1); };
  norm = LayerNorm(ws, p.norm, 1e-5f);
  for (const params::Affine& a : p.projects) projects.push_back(pointwise_conv(a));
  resize0_w = ws.get(p.resize0.weight);
  resize0_b = ws.get(p.resize0.bias);
  resize1_w = ws.get(p.resize1.weight);
  resize1_b = ws.get(p.resize1.bias);
  resize3 = conv(p.resize3, 2);
  for (const ParamSpec& w : p.layer_rn) layer_rn.emplace_back(ws.get(w), Tensor(), 1, 1);
  for (const params::Dpt::Fusion& pf : p.refinenet) {
    Fusion f;
    f.has_unit1 = pf.unit1_conv1.has_value();
    if (f.has_unit1) {
      f.u1c1 = conv(*pf.unit1_conv1, 1);
      f.u1c2 = conv(*pf.unit1_conv2, 1);
    }
    f.u2c1 = conv(pf.unit2_conv1, 1);
    f.u2c2 = conv(pf.unit2_conv2, 1);
    f.out_conv = pointwise_conv(pf.out_conv);
    refine.push_back(std::move(f));
  }
  out_conv1 = conv(p.output_conv1, 1);
  if (out_dim == 0) return;
  out_conv2a = conv(*p.output_conv2_0, 1);
  out_conv2b = pointwise_conv(*p.output_conv2_2);
}

void DptHead::set_conv_modes(bool prepack, bool bf16) {
  std::vector<ops::Conv2d*> convs = {&resize3, &out_conv1};
  if (out_dim) convs.push_back(&out_conv2a);
  for (auto& c : layer_rn) convs.push_back(&c);
  for (auto& f : refine)
    for (ops::Conv2d* c : {&f.u1c1, &f.u1c2, &f.u2c1, &f.u2c2}) convs.push_back(c);
  for (ops::Conv2d* c : convs) {
    c->set_prepack(prepack);
    c->set_bf16(bf16);
  }
  // The token projections (1x1 convs as Linears, 2048 -> 256..1024) follow the same switches.
  // So do the fusion blocks' 1x1 out_convs; the last 1x1 conv (the predictions) stays fp32.
  const LinearMode pointwise_mode = bf16 ? LinearMode::BF16 : prepack ? LinearMode::F32Packed : LinearMode::F32;
  for (Linear& l : projects) l.set_mode(pointwise_mode);
  for (auto& f : refine) f.out_conv.set_mode(pointwise_mode);
  if (out_dim) out_conv2b.set_mode(prepack ? LinearMode::F32Packed : LinearMode::F32);
}

Tensor DptHead::fuse(const std::map<int, Tensor>& layers, int64_t s, int64_t H, int64_t W) const {
  const int64_t p = cfg.patch_size, hp = H / p, wp = W / p, Np = hp * wp;
  const int64_t special = 1 + cfg.num_register_tokens;
  const double aspect = static_cast<double>(W) / static_cast<double>(H);
  const bool use_pos = out_dim != 0;  // the track head's extractor is built with pos_embed=False
  {
    Tensor feats[4];
    for (int k = 0; k < 4; ++k) {
      const Tensor& layer = layers.at(cfg.dpt_layers[k]);
      const int64_t P = layer.dim(1), C2 = layer.dim(2);
      Tensor tok = Tensor::view(layer.data() + (s * P + special) * C2, {Np, C2});
      // [Np, oc] tokens are already a channels-last [1, hp, wp, oc] map.
      Tensor x = projects[k].forward(norm.forward(tok));
      const int64_t oc = x.dim(1);
      x = x.reshape({1, hp, wp, oc});
      if (use_pos) ops::add(x.data(), pos_embed(oc, hp, wp, aspect).data(), x.numel());
      if (k == 0) x = ops::conv_transpose_k_eq_s(x, resize0_w, resize0_b);
      if (k == 1) x = ops::conv_transpose_k_eq_s(x, resize1_w, resize1_b);
      if (k == 3) x = resize3.forward(x);
      feats[k] = layer_rn[k].forward(x);
    }
    // Fusion from the coarsest level up; each level is upsampled to the next one's size.
    Tensor out;
    for (int level = 3; level >= 0; --level) {
      const Fusion& f = refine[level];
      if (level == 3) {
        out = feats[3];
      } else {
        Tensor res = residual_unit(feats[level], f.u1c1, f.u1c2);
        ops::add(out.data(), res.data(), out.numel());
      }
      out = residual_unit(out, f.u2c1, f.u2c2);
      const int64_t th = level > 0 ? feats[level - 1].dim(1) : 0;
      const int64_t tw = level > 0 ? feats[level - 1].dim(2) : 0;
      // The official block resizes, then applies its 1x1 out_conv. Both are linear and the
      // bilinear weights sum to 1 (bias included), so they commute: running the 256x256 1x1
      // conv before the 2x upsampling is the same function at a quarter of its FLOPs.
      out = pointwise(f.out_conv, out);
      // The last 2x upsampling is left to the caller, which fuses it with output_conv1's input.
      if (level > 0) out = ops::resize_bilinear_align_corners(out, th, tw);
    }
    return out;
  }
}

Tensor DptHead::features(const std::map<int, Tensor>& layers, int64_t s, int64_t H, int64_t W, int down_ratio) const {
  const int64_t p = cfg.patch_size, hp = H / p, wp = W / p;
  const Tensor f = fuse(layers, s, H, W);
  Tensor out = upsample_then_conv(out_conv1, f, f.dim(1) * 2, f.dim(2) * 2, nullptr, false);
  return ops::resize_bilinear_align_corners(out, hp * p / down_ratio, wp * p / down_ratio);
}

void DptHead::forward(const std::map<int, Tensor>& layers, int64_t s0, int64_t s1, int64_t H, int64_t W,
                      Tensor& preds, Tensor& conf, int64_t out_offset) const {
  const int64_t p = cfg.patch_size, hp = H / p, wp = W / p;
  const double aspect = static_cast<double>(W) / static_cast<double>(H);
  for (int64_t s = s0; s < s1; ++s) {
    const Tensor f = fuse(layers, s, H, W);
    Tensor out = upsample_then_conv(out_conv1, f, f.dim(1) * 2, f.dim(2) * 2, nullptr, false);
    const Tensor pe = pos_embed(out.dim(3), hp * p, wp * p, aspect);
    out = upsample_then_conv(out_conv2a, out, hp * p, wp * p, &pe, /*relu=*/true);
    out = pointwise(out_conv2b, out);  // [1, H, W, out_dim]

    const int64_t HW = H * W, nc = out_dim - 1;
    float* pr = preds.data() + (s - s0 + out_offset) * HW * nc;
    float* cf = conf.data() + (s - s0 + out_offset) * HW;
    for (int64_t i = 0; i < HW; ++i) {
      for (int64_t c = 0; c < nc; ++c) {
        const float v = out[i * out_dim + c];
        // depth: exp; points: inv_log = sign(v) * (exp|v| - 1)
        pr[i * nc + c] = depth_activation ? std::exp(v) : std::copysign(std::expm1(std::fabs(v)), v);
      }
      cf[i] = 1.f + std::exp(out[i * out_dim + nc]);
    }
  }
}

}  // namespace vggt

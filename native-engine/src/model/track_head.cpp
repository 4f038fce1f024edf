#include "model/track_head.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "ops/elementwise.h"
#include "ops/grid_sample.h"

namespace vggt {

namespace {

Linear linear_rows(const Tensor& w, const Tensor& b, int64_t row0, int64_t rows) {
  const int64_t K = w.dim(1);
  return Linear(Tensor::view(w.data() + row0 * K, {rows, K}), Tensor::view(b.data() + row0, {rows}));
}

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

// get_2d_sincos_pos_embed(D, grid (HH, WW)) evaluated at one integer grid point: x in the first
// D/2 channels, y in the second, each sin block then cos block, omega_k = 10000^(-k/(D/4)),
// computed in double and stored as float32 as the official code does.
void grid_pos_embed_at(int64_t gx, int64_t gy, int64_t D, float* out) {
  const int64_t q = D / 4;
  for (int64_t k = 0; k < q; ++k) {
    const double omega = 1.0 / std::pow(10000.0, static_cast<double>(k) / (D / 4.0));
    const double ax = static_cast<double>(static_cast<float>(gx)) * omega;
    const double ay = static_cast<double>(static_cast<float>(gy)) * omega;
    out[k] = static_cast<float>(std::sin(ax));
    out[q + k] = static_cast<float>(std::cos(ax));
    out[2 * q + k] = static_cast<float>(std::sin(ay));
    out[3 * q + k] = static_cast<float>(std::cos(ay));
  }
}

}  // namespace

void check_query_points(const Tensor& q, int64_t H, int64_t W, const std::string& what) {
  if (q.ndim() != 2 || q.dim(1) != 2) throw std::runtime_error(what + ": query points must be [N, 2], got " + q.shape_str());
  const int64_t N = q.dim(0);
  if (N < 1 || N > kMaxQueryPoints)
    throw std::runtime_error(what + ": need 1 to " + std::to_string(kMaxQueryPoints) + " query points, got " +
                             std::to_string(N));
  for (int64_t i = 0; i < N; ++i) {
    const float x = q[2 * i], y = q[2 * i + 1];
    if (!std::isfinite(x) || !std::isfinite(y))
      throw std::runtime_error(what + ": query point " + std::to_string(i) + " is not finite");
    if (x < 0 || y < 0 || x > static_cast<float>(W - 1) || y > static_cast<float>(H - 1))
      throw std::runtime_error(what + ": query point " + std::to_string(i) + " (" + std::to_string(x) + ", " +
                               std::to_string(y) + ") is outside frame 0 (0..." + std::to_string(W - 1) + ", 0..." +
                               std::to_string(H - 1) + ")");
  }
}

Tensor query_grid(int64_t n, int64_t H, int64_t W) {
  if (n < 1 || n * n > kMaxQueryPoints)
    throw std::runtime_error("track grid must be 1 to 64 points per side, got " + std::to_string(n));
  Tensor q = Tensor::uninitialized({n * n, 2});
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) {
      q[(j * n + i) * 2] = static_cast<float>((i + 0.5) * W / n - 0.5);
      q[(j * n + i) * 2 + 1] = static_cast<float>((j + 0.5) * H / n - 0.5);
    }
  return q;
}

size_t TrackFeatures::bytes() const {
  size_t n = 0;
  for (auto& t : pyramid) n += static_cast<size_t>(t.numel()) * sizeof(float);
  return n;
}

TrackAttention::TrackAttention(const WeightStore& ws, const params::Affine& in_proj, const params::Affine& out_proj,
                               int64_t h, int64_t nh)
    : heads(nh) {
  const Tensor& w = ws.get(in_proj.weight);
  const Tensor& b = ws.get(in_proj.bias);
  qkv = Linear(w, b);
  q = linear_rows(w, b, 0, h);
  kv = linear_rows(w, b, h, 2 * h);
  out = Linear(ws.get(out_proj.weight), ws.get(out_proj.bias));
}

void TrackAttention::set_mode(LinearMode m) {
  for (Linear* l : {&q, &kv, &qkv, &out}) l->set_mode(m);
}

Tensor TrackAttention::forward(const Tensor& x, const Tensor* ctx, int64_t B, int64_t Nq, int64_t Nk) const {
  const int64_t h = out.out_features(), hd = h / heads;
  // Row strides of q, k, v in the projection outputs.
  Tensor qo, kvo;
  const float *qp, *kp, *vp;
  int64_t qs, ks;
  if (!ctx) {
    qo = qkv.forward(x);
    qp = qo.data(), kp = qo.data() + h, vp = qo.data() + 2 * h, qs = ks = 3 * h;
  } else {
    qo = q.forward(x);
    kvo = kv.forward(*ctx);
    qp = qo.data(), qs = h, kp = kvo.data(), vp = kvo.data() + h, ks = 2 * h;
  }
  Tensor a = Tensor::uninitialized({B * Nq, h});
  const float scale = static_cast<float>(std::sqrt(1.0 / static_cast<double>(hd)));  // as nn.MultiheadAttention
#pragma omp parallel
  {
    std::vector<float> qrow(hd), sc(Nk);
#pragma omp for collapse(2)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hh = 0; hh < heads; ++hh)
        for (int64_t i = 0; i < Nq; ++i) {
          const float* qi = qp + (b * Nq + i) * qs + hh * hd;
          for (int64_t d = 0; d < hd; ++d) qrow[d] = qi[d] * scale;
          float mx = -INFINITY;
          for (int64_t j = 0; j < Nk; ++j) {
            const float* kj = kp + (b * Nk + j) * ks + hh * hd;
            float s = 0.f;
            for (int64_t d = 0; d < hd; ++d) s += qrow[d] * kj[d];
            sc[j] = s;
            mx = std::max(mx, s);
          }
          float sum = 0.f;
          for (int64_t j = 0; j < Nk; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
          float* o = a.data() + (b * Nq + i) * h + hh * hd;
          std::fill(o, o + hd, 0.f);
          for (int64_t j = 0; j < Nk; ++j) {
            const float p = sc[j] / sum;
            const float* vj = vp + (b * Nk + j) * ks + hh * hd;
            for (int64_t d = 0; d < hd; ++d) o[d] += p * vj[d];
          }
        }
  }
  return out.forward(a);
}

TrackBlock::TrackBlock(const WeightStore& ws, const params::TrackBlock& p, int64_t hidden, int64_t heads)
    : norm1(ws, p.norm1, 1e-5f),
      norm2(ws, p.norm2, 1e-5f),
      attn(ws, p.in_proj, p.out_proj, hidden, heads),
      fc1(ws, p.fc1),
      fc2(ws, p.fc2),
      cross(p.norm_context.has_value()) {
  if (cross) norm_context = LayerNorm(ws, *p.norm_context, 1e-5f);
}

void TrackBlock::set_mode(LinearMode m) {
  attn.set_mode(m);
  fc1.set_mode(m);
  fc2.set_mode(m);
}

void TrackBlock::forward(Tensor& x, const Tensor* ctx, int64_t B, int64_t Nq, int64_t Nk) const {
  x = norm1.forward(x);
  Tensor a;
  if (cross) {
    Tensor c = norm_context.forward(*ctx);
    a = attn.forward(x, &c, B, Nq, Nk);
  } else {
    a = attn.forward(x, nullptr, B, Nq, Nq);
  }
  ops::add(x.data(), a.data(), x.numel());
  Tensor m = fc1.forward(norm2.forward(x));
  ops::gelu_erf(m.data(), m.numel());
  Tensor o = fc2.forward(m);
  ops::add(x.data(), o.data(), x.numel());
}

TrackHead::TrackHead(const WeightStore& ws, const ModelConfig& c, const params::TrackHead& p)
    : cfg(c), extractor(ws, c, p.feature_extractor, false) {
  const params::Tracker& t = p.tracker;
  fmap_norm = LayerNorm(ws, t.fmap_norm, 1e-5f);
  ffeat_norm = LayerNorm(ws, t.ffeat_norm, 1e-5f);  // GroupNorm(1, C) on [rows, C]: the same
  corr_fc1 = Linear(ws, t.corr_fc1);
  corr_fc2 = Linear(ws, t.corr_fc2);
  ffeat_updater = Linear(ws, t.ffeat_updater);
  vis_predictor = Linear(ws, t.vis_predictor);
  if (t.conf_predictor) conf_predictor = Linear(ws, *t.conf_predictor);
  query_ref_token = ws.get(t.query_ref_token);
  input_norm = LayerNorm(ws, t.input_norm, 1e-5f);
  output_norm = LayerNorm(ws, t.output_norm, 1e-5f);
  input_transform = Linear(ws, t.input_transform);
  flow_head = Linear(ws, t.flow_head);
  virtual_tracks = ws.get(t.virtual_tracks);
  const int64_t h = c.track_hidden, nh = c.track_heads;
  for (auto [blocks, specs] : {std::pair{&time_blocks, &t.time_blocks}, {&space_virtual_blocks, &t.space_virtual_blocks},
                               {&space_point2virtual_blocks, &t.space_point2virtual_blocks},
                               {&space_virtual2point_blocks, &t.space_virtual2point_blocks}})
    for (const params::TrackBlock& b : *specs) blocks->emplace_back(ws, b, h, nh);
}

void TrackHead::set_linear_mode(LinearMode m) {
  for (auto* blocks : {&time_blocks, &space_virtual_blocks, &space_point2virtual_blocks, &space_virtual2point_blocks})
    for (auto& b : *blocks) b.set_mode(m);
  corr_fc1.set_mode(m);
  corr_fc2.set_mode(m);
  input_transform.set_mode(m);
  // The outputs (coordinate deltas, feature update, visibility/confidence logits) stay fp32,
  // as the camera head's do: the flow embedding turns a small coordinate error into a large
  // phase error at the next iteration.
  const LinearMode small = m == LinearMode::F32 ? LinearMode::F32 : LinearMode::F32Packed;
  for (Linear* l : {&flow_head, &ffeat_updater, &vis_predictor})
    l->set_mode(small);
  if (cfg.track_predict_conf) conf_predictor.set_mode(small);
}

TrackFeatures TrackHead::features(const std::map<int, Tensor>& layers, int64_t S, int64_t H, int64_t W,
                                  const StepFn& step, Tensor* raw_maps) const {
  TrackFeatures f;
  f.frames = S, f.height = H, f.width = W;
  const int64_t C = cfg.track_features;
  Tensor level0;
  for (int64_t s = 0; s < S; ++s) {
    Tensor fm = extractor.features(layers, s, H, W, cfg.track_down_ratio);  // [1, hh, ww, C]
    const int64_t hh = fm.dim(1), ww = fm.dim(2);
    if (s == 0) {
      level0 = Tensor::uninitialized({S, hh, ww, C});
      if (raw_maps) *raw_maps = Tensor::uninitialized({S, C, hh, ww});
    }
    if (raw_maps)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < hh * ww; ++i) (*raw_maps)[((s * C) + c) * hh * ww + i] = fm[i * C + c];
    Tensor n = fmap_norm.forward(fm);
    std::copy_n(n.data(), n.numel(), level0.data() + s * hh * ww * C);
    if (step) step("track_features", static_cast<int>(s + 1), static_cast<int>(S));
  }
  f.pyramid.push_back(level0);
  for (int l = 1; l < cfg.track_corr_levels; ++l) f.pyramid.push_back(ops::avg_pool2x2(f.pyramid.back()));
  return f;
}

Tensor TrackHead::update_transformer(const Tensor& x, int64_t N, int64_t S) const {
  const int64_t h = cfg.track_hidden, V = cfg.track_virtual, NV = N + V;
  Tensor init = input_transform.forward(input_norm.forward(x));  // [N*S, h]
  Tensor all = Tensor::uninitialized({NV * S, h});
  std::copy_n(init.data(), init.numel(), all.data());
  for (int64_t v = 0; v < V; ++v)
    for (int64_t s = 0; s < S; ++s) std::copy_n(virtual_tracks.data() + v * h, h, all.data() + ((N + v) * S + s) * h);
  const int64_t every = static_cast<int64_t>(time_blocks.size() / space_virtual_blocks.size());
  size_t j = 0;
  for (size_t i = 0; i < time_blocks.size(); ++i) {
    time_blocks[i].forward(all, nullptr, NV, S, S);  // attention over frames, per track
    if (i % every) continue;
    // Space: per frame, virtual tracks <- points, virtual self-attention, points <- virtual.
    Tensor pts = Tensor::uninitialized({S * N, h}), vir = Tensor::uninitialized({S * V, h});
    for (int64_t s = 0; s < S; ++s) {
      for (int64_t n = 0; n < N; ++n) std::copy_n(all.data() + (n * S + s) * h, h, pts.data() + (s * N + n) * h);
      for (int64_t v = 0; v < V; ++v) std::copy_n(all.data() + ((N + v) * S + s) * h, h, vir.data() + (s * V + v) * h);
    }
    space_virtual2point_blocks[j].forward(vir, &pts, S, V, N);
    space_virtual_blocks[j].forward(vir, nullptr, S, V, V);
    space_point2virtual_blocks[j].forward(pts, &vir, S, N, V);
    for (int64_t s = 0; s < S; ++s) {
      for (int64_t n = 0; n < N; ++n) std::copy_n(pts.data() + (s * N + n) * h, h, all.data() + (n * S + s) * h);
      for (int64_t v = 0; v < V; ++v) std::copy_n(vir.data() + (s * V + v) * h, h, all.data() + ((N + v) * S + s) * h);
    }
    ++j;
  }
  Tensor tokens = Tensor::uninitialized({N * S, h});
  std::copy_n(all.data(), N * S * h, tokens.data());
  ops::add(tokens.data(), init.data(), tokens.numel());
  return flow_head.forward(output_norm.forward(tokens));
}

TrackOutputs TrackHead::track(const TrackFeatures& f, const Tensor& queries, const StepFn& step) const {
  if (queries.ndim() != 2 || queries.dim(1) != 2) throw std::runtime_error("query points must be [N, 2], got " + queries.shape_str());
  const int64_t S = f.frames, N = queries.dim(0), C = cfg.track_features, r = cfg.track_corr_radius;
  const int64_t L = cfg.track_corr_levels, win = 2 * r + 1, Lc = L * win * win, D = 3 * C + 4;
  const int64_t HH = f.pyramid[0].dim(1), WW = f.pyramid[0].dim(2);
  const float stride = static_cast<float>(cfg.track_stride);
  const float sqrt_c = static_cast<float>(std::sqrt(static_cast<double>(C)));
  TrackOutputs out;

  // Queries in feature pixels; every frame's track starts there with the query's feature.
  std::vector<float> q(2 * N);
  for (int64_t i = 0; i < 2 * N; ++i) q[i] = queries[i] / stride;
  Tensor coords = Tensor::uninitialized({S, N, 2});
  for (int64_t s = 0; s < S; ++s) std::copy_n(q.data(), 2 * N, coords.data() + s * N * 2);
  out.query_feats = Tensor::uninitialized({N, C});
  Tensor pos = Tensor::uninitialized({N, D});  // the position grid sampled at the queries
  for (int64_t n = 0; n < N; ++n) {
    ops::sample_bilinear(f.pyramid[0].data(), HH, WW, C, q[2 * n], q[2 * n + 1], ops::GridPadding::Border,
                         out.query_feats.data() + n * C);
    const ops::BilinearTaps t = ops::bilinear_taps(q[2 * n], q[2 * n + 1], HH, WW, ops::GridPadding::Border);
    float* pe = pos.data() + n * D;
    std::fill(pe, pe + D, 0.f);
    std::vector<float> g(D);
    for (int k = 0; k < 4; ++k) {
      if (!t.valid[k]) continue;
      grid_pos_embed_at(t.x0 + (k & 1), t.y0 + (k >> 1), D, g.data());
      for (int64_t d = 0; d < D; ++d) pe[d] += t.w[k] * g[d];
    }
  }
  Tensor feats = Tensor::uninitialized({N * S, C});  // track features, row n*S + s
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) std::copy_n(out.query_feats.data() + n * C, C, feats.data() + (n * S + s) * C);

  // Flow-embedding frequencies: get_2d_embedding(flows, C/2) -> 2k * 1000/(C/2), in float32.
  const int64_t half = C / 2, nfreq = C / 4;
  std::vector<float> freq(nfreq);
  for (int64_t k = 0; k < nfreq; ++k) freq[k] = static_cast<float>(2 * k) * static_cast<float>(1000.0 / half);
  const float max_scale = static_cast<float>(cfg.track_max_scale);

  for (int it = 0; it < cfg.track_iters; ++it) {
    // Correlation features: <track feature of frame s, normalised map of frame s> / sqrt(C) at
    // integer pixels, bilinearly sampled (zeros padding) on a (2r+1)^2 window around coords/2^l.
    Tensor corr = Tensor::uninitialized({N * S, Lc});  // row n*S + s
#pragma omp parallel
    {
      const int64_t cw = 2 * r + 4;
      std::vector<float> cache(cw * cw);
#pragma omp for collapse(2)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t n = 0; n < N; ++n) {
          const float* target = feats.data() + (n * S + s) * C;
          float* dst = corr.data() + (n * S + s) * Lc;
          for (int64_t l = 0; l < L; ++l) {
            const Tensor& lvl = f.pyramid[l];
            const int64_t h = lvl.dim(1), w = lvl.dim(2);
            const float* map = lvl.data() + s * h * w * C;
            const float div = static_cast<float>(1 << l);
            const float cx = coords[(s * N + n) * 2] / div, cy = coords[(s * N + n) * 2 + 1] / div;
            float* o = dst + l * win * win;
            if (!std::isfinite(cx) || !std::isfinite(cy) || std::fabs(cx) > 1e7f || std::fabs(cy) > 1e7f) {
              std::fill(o, o + win * win, 0.f);
              continue;
            }
            const int64_t bx = static_cast<int64_t>(std::floor(cx)) - r - 1, by = static_cast<int64_t>(std::floor(cy)) - r - 1;
            auto corr_at = [&](int64_t x, int64_t y) {
              const float* p = map + (y * w + x) * C;
              float acc = 0.f;
              for (int64_t c = 0; c < C; ++c) acc += target[c] * p[c];
              return acc / sqrt_c;
            };
            for (int64_t yy = 0; yy < cw; ++yy)
              for (int64_t xx = 0; xx < cw; ++xx) {
                const int64_t x = bx + xx, y = by + yy;
                cache[yy * cw + xx] = (x >= 0 && x < w && y >= 0 && y < h) ? corr_at(x, y) : 0.f;
              }
            // Window order: x offset outer, y offset inner (the official delta grid).
            for (int64_t i = 0; i < win; ++i)
              for (int64_t jj = 0; jj < win; ++jj) {
                const ops::BilinearTaps t = ops::bilinear_taps(cx + static_cast<float>(i - r),
                                                               cy + static_cast<float>(jj - r), h, w, ops::GridPadding::Zeros);
                float v = 0.f;
                for (int k = 0; k < 4; ++k) {
                  if (!t.valid[k]) continue;
                  const int64_t x = t.x0 + (k & 1), y = t.y0 + (k >> 1);
                  const int64_t xx = x - bx, yy = y - by;
                  const float c = (xx >= 0 && xx < cw && yy >= 0 && yy < cw) ? cache[yy * cw + xx] : corr_at(x, y);
                  v += t.w[k] * c;
                }
                o[i * win + jj] = v;
              }
          }
        }
    }
    if (it == 0) {
      out.corr0 = Tensor::uninitialized({S, N, Lc});
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s)
          std::copy_n(corr.data() + (n * S + s) * Lc, Lc, out.corr0.data() + (s * N + n) * Lc);
    }
    Tensor cm = corr_fc1.forward(corr);
    corr = Tensor();
    ops::gelu_erf(cm.data(), cm.numel());
    cm = corr_fc2.forward(cm);  // [N*S, C]

    // Transformer input: [flow embedding (C+4), corr_mlp (C), track feature (C)] + position
    // embedding of the query + query_ref_token (frame 0 / the others).
    Tensor x = Tensor::uninitialized({N * S, D});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        float* row = x.data() + (n * S + s) * D;
        const float fx = coords[(s * N + n) * 2] - coords[n * 2], fy = coords[(s * N + n) * 2 + 1] - coords[n * 2 + 1];
        for (int64_t k = 0; k < nfreq; ++k) {
          const double ax = static_cast<double>(fx) * freq[k], ay = static_cast<double>(fy) * freq[k];
          row[2 * k] = static_cast<float>(std::sin(ax));
          row[2 * k + 1] = static_cast<float>(std::cos(ax));
          row[half + 2 * k] = static_cast<float>(std::sin(ay));
          row[half + 2 * k + 1] = static_cast<float>(std::cos(ay));
        }
        row[C] = fx / max_scale, row[C + 1] = fy / max_scale, row[C + 2] = fx / max_scale, row[C + 3] = fy / max_scale;
        std::copy_n(cm.data() + (n * S + s) * C, C, row + C + 4);
        std::copy_n(feats.data() + (n * S + s) * C, C, row + 2 * C + 4);
        const float* ref = query_ref_token.data() + (s == 0 ? 0 : D);
        const float* pe = pos.data() + n * D;
        for (int64_t d = 0; d < D; ++d) row[d] = (row[d] + pe[d]) + ref[d];
      }
    Tensor delta = update_transformer(x, N, S);  // [N*S, C+2]: dx, dy, delta feature
    x = Tensor();

    Tensor df = Tensor::uninitialized({N * S, C});
    for (int64_t i = 0; i < N * S; ++i) std::copy_n(delta.data() + i * (C + 2) + 2, C, df.data() + i * C);
    Tensor upd = ffeat_updater.forward(ffeat_norm.forward(df));
    ops::gelu_erf(upd.data(), upd.numel());
    ops::add(feats.data(), upd.data(), feats.numel());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 1; s < S; ++s) {  // frame 0 stays the query
        coords[(s * N + n) * 2] += delta[(n * S + s) * (C + 2)];
        coords[(s * N + n) * 2 + 1] += delta[(n * S + s) * (C + 2) + 1];
      }
    Tensor pred = Tensor::uninitialized({S, N, 2});
    for (int64_t i = 0; i < S * N * 2; ++i) pred[i] = coords[i] * stride;
    out.iterations.push_back(pred);
    if (step) step("track", it + 1, cfg.track_iters);
  }
  out.track = out.iterations.back();
  Tensor v = vis_predictor.forward(feats);  // [N*S, 1]
  out.vis = Tensor::uninitialized({S, N});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) out.vis[s * N + n] = sigmoid(v[n * S + s]);
  if (cfg.track_predict_conf) {
    Tensor c = conf_predictor.forward(feats);
    out.conf = Tensor::uninitialized({S, N});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) out.conf[s * N + n] = sigmoid(c[n * S + s]);
  }
  return out;
}

}  // namespace vggt

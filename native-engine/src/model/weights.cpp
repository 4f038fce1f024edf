#include "model/weights.h"

#include "core/checked_math.h"
#include "io/safetensors.h"
#include "ops/hadamard.h"
#include "ops/linear_lowp.h"

#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

namespace vggt {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void add_block(std::vector<ParamSpec>& out, const std::string& p, int64_t dim, int64_t hidden, int64_t qk_norm_dim) {
  out.push_back({p + ".norm1.weight", {dim}});
  out.push_back({p + ".norm1.bias", {dim}});
  out.push_back({p + ".attn.qkv.weight", {3 * dim, dim}});
  out.push_back({p + ".attn.qkv.bias", {3 * dim}});
  if (qk_norm_dim) {
    out.push_back({p + ".attn.q_norm.weight", {qk_norm_dim}});
    out.push_back({p + ".attn.q_norm.bias", {qk_norm_dim}});
    out.push_back({p + ".attn.k_norm.weight", {qk_norm_dim}});
    out.push_back({p + ".attn.k_norm.bias", {qk_norm_dim}});
  }
  out.push_back({p + ".attn.proj.weight", {dim, dim}});
  out.push_back({p + ".attn.proj.bias", {dim}});
  out.push_back({p + ".ls1.gamma", {dim}});
  out.push_back({p + ".norm2.weight", {dim}});
  out.push_back({p + ".norm2.bias", {dim}});
  out.push_back({p + ".mlp.fc1.weight", {hidden, dim}});
  out.push_back({p + ".mlp.fc1.bias", {hidden}});
  out.push_back({p + ".mlp.fc2.weight", {dim, hidden}});
  out.push_back({p + ".mlp.fc2.bias", {dim}});
  out.push_back({p + ".ls2.gamma", {dim}});
}

// out_dim 0: the track head's feature-only DPT (F = track features, output_conv1 F -> F, no
// output_conv2).
void add_dpt(std::vector<ParamSpec>& out, const std::string& p, const ModelConfig& c, int64_t out_dim) {
  const int64_t in = 2 * c.embed_dim, F = out_dim ? c.dpt_features : c.track_features;
  const auto& oc = c.dpt_out_channels;
  out.push_back({p + ".norm.weight", {in}});
  out.push_back({p + ".norm.bias", {in}});
  for (int i = 0; i < 4; ++i) {
    out.push_back({p + ".projects." + std::to_string(i) + ".weight", {oc[i], in, 1, 1}});
    out.push_back({p + ".projects." + std::to_string(i) + ".bias", {oc[i]}});
  }
  out.push_back({p + ".resize_layers.0.weight", {oc[0], oc[0], 4, 4}});
  out.push_back({p + ".resize_layers.0.bias", {oc[0]}});
  out.push_back({p + ".resize_layers.1.weight", {oc[1], oc[1], 2, 2}});
  out.push_back({p + ".resize_layers.1.bias", {oc[1]}});
  out.push_back({p + ".resize_layers.3.weight", {oc[3], oc[3], 3, 3}});
  out.push_back({p + ".resize_layers.3.bias", {oc[3]}});
  for (int i = 0; i < 4; ++i)
    out.push_back({p + ".scratch.layer" + std::to_string(i + 1) + "_rn.weight", {F, oc[i], 3, 3}});
  for (int r = 1; r <= 4; ++r) {
    const std::string rn = p + ".scratch.refinenet" + std::to_string(r);
    out.push_back({rn + ".out_conv.weight", {F, F, 1, 1}});
    out.push_back({rn + ".out_conv.bias", {F}});
    for (int u = (r == 4 ? 2 : 1); u <= 2; ++u)
      for (int k = 1; k <= 2; ++k) {
        const std::string cv = rn + ".resConfUnit" + std::to_string(u) + ".conv" + std::to_string(k);
        out.push_back({cv + ".weight", {F, F, 3, 3}});
        out.push_back({cv + ".bias", {F}});
      }
  }
  if (!out_dim) {
    out.push_back({p + ".scratch.output_conv1.weight", {F, F, 3, 3}});
    out.push_back({p + ".scratch.output_conv1.bias", {F}});
    return;
  }
  out.push_back({p + ".scratch.output_conv1.weight", {F / 2, F, 3, 3}});
  out.push_back({p + ".scratch.output_conv1.bias", {F / 2}});
  out.push_back({p + ".scratch.output_conv2.0.weight", {32, F / 2, 3, 3}});
  out.push_back({p + ".scratch.output_conv2.0.bias", {32}});
  out.push_back({p + ".scratch.output_conv2.2.weight", {out_dim, 32, 1, 1}});
  out.push_back({p + ".scratch.output_conv2.2.bias", {out_dim}});
}

// nn.MultiheadAttention (packed q, k, v) + LayerNorms + Mlp of the tracker's update transformer.
void add_track_block(std::vector<ParamSpec>& out, const std::string& p, int64_t h, bool cross) {
  const std::string attn = p + (cross ? ".cross_attn" : ".attn");
  out.push_back({p + ".norm1.weight", {h}});
  out.push_back({p + ".norm1.bias", {h}});
  if (cross) {
    out.push_back({p + ".norm_context.weight", {h}});
    out.push_back({p + ".norm_context.bias", {h}});
  }
  out.push_back({p + ".norm2.weight", {h}});
  out.push_back({p + ".norm2.bias", {h}});
  out.push_back({attn + ".in_proj_weight", {3 * h, h}});
  out.push_back({attn + ".in_proj_bias", {3 * h}});
  out.push_back({attn + ".out_proj.weight", {h, h}});
  out.push_back({attn + ".out_proj.bias", {h}});
  out.push_back({p + ".mlp.fc1.weight", {4 * h, h}});
  out.push_back({p + ".mlp.fc1.bias", {4 * h}});
  out.push_back({p + ".mlp.fc2.weight", {h, 4 * h}});
  out.push_back({p + ".mlp.fc2.bias", {h}});
}

void add_track_head(std::vector<ParamSpec>& out, const ModelConfig& c) {
  add_dpt(out, "track_head.feature_extractor", c, 0);
  const std::string t = "track_head.tracker";
  const int64_t C = c.track_features, D = 3 * C + 4, h = c.track_hidden;
  const int64_t corr = static_cast<int64_t>(c.track_corr_levels) * (2 * c.track_corr_radius + 1) * (2 * c.track_corr_radius + 1);
  out.push_back({t + ".query_ref_token", {1, 2, D}});
  out.push_back({t + ".corr_mlp.fc1.weight", {h, corr}});
  out.push_back({t + ".corr_mlp.fc1.bias", {h}});
  out.push_back({t + ".corr_mlp.fc2.weight", {C, h}});
  out.push_back({t + ".corr_mlp.fc2.bias", {C}});
  const std::string u = t + ".updateformer";
  out.push_back({u + ".virual_tracks", {1, c.track_virtual, 1, h}});  // sic: the official name
  out.push_back({u + ".input_norm.weight", {D}});
  out.push_back({u + ".input_norm.bias", {D}});
  out.push_back({u + ".input_transform.weight", {h, D}});
  out.push_back({u + ".input_transform.bias", {h}});
  out.push_back({u + ".output_norm.weight", {h}});
  out.push_back({u + ".output_norm.bias", {h}});
  out.push_back({u + ".flow_head.weight", {C + 2, h}});
  out.push_back({u + ".flow_head.bias", {C + 2}});
  for (int i = 0; i < c.track_depth; ++i) add_track_block(out, u + ".time_blocks." + std::to_string(i), h, false);
  for (int i = 0; i < c.track_depth; ++i) add_track_block(out, u + ".space_virtual_blocks." + std::to_string(i), h, false);
  for (int i = 0; i < c.track_depth; ++i) add_track_block(out, u + ".space_point2virtual_blocks." + std::to_string(i), h, true);
  for (int i = 0; i < c.track_depth; ++i) add_track_block(out, u + ".space_virtual2point_blocks." + std::to_string(i), h, true);
  out.push_back({t + ".fmap_norm.weight", {C}});
  out.push_back({t + ".fmap_norm.bias", {C}});
  out.push_back({t + ".ffeat_norm.weight", {C}});
  out.push_back({t + ".ffeat_norm.bias", {C}});
  out.push_back({t + ".ffeat_updater.0.weight", {C, C}});
  out.push_back({t + ".ffeat_updater.0.bias", {C}});
  out.push_back({t + ".vis_predictor.0.weight", {1, C}});
  out.push_back({t + ".vis_predictor.0.bias", {1}});
  if (c.track_predict_conf) {
    out.push_back({t + ".conf_predictor.0.weight", {1, C}});
    out.push_back({t + ".conf_predictor.0.bias", {1}});
  }
}

}  // namespace

std::vector<ParamSpec> expected_params(const ModelConfig& c) {
  std::vector<ParamSpec> out;
  const int64_t E = c.embed_dim, R = c.num_register_tokens, p = c.patch_size;
  const int64_t grid = c.img_size / p;
  const int64_t hidden = static_cast<int64_t>(E * c.mlp_ratio);
  out.push_back({"aggregator.camera_token", {1, 2, 1, E}});
  out.push_back({"aggregator.register_token", {1, 2, R, E}});
  const std::string pe = "aggregator.patch_embed";
  out.push_back({pe + ".cls_token", {1, 1, E}});
  out.push_back({pe + ".pos_embed", {1, 1 + grid * grid, E}});
  if (R) out.push_back({pe + ".register_tokens", {1, R, E}});
  out.push_back({pe + ".mask_token", {1, E}});
  out.push_back({pe + ".patch_embed.proj.weight", {E, 3, p, p}});
  out.push_back({pe + ".patch_embed.proj.bias", {E}});
  for (int i = 0; i < c.encoder_depth; ++i) add_block(out, pe + ".blocks." + std::to_string(i), E, hidden, 0);
  out.push_back({pe + ".norm.weight", {E}});
  out.push_back({pe + ".norm.bias", {E}});
  const int64_t qk = c.qk_norm ? E / c.num_heads : 0;
  for (int i = 0; i < c.depth; ++i) add_block(out, "aggregator.frame_blocks." + std::to_string(i), E, hidden, qk);
  for (int i = 0; i < c.depth; ++i) add_block(out, "aggregator.global_blocks." + std::to_string(i), E, hidden, qk);
  const int64_t C2 = 2 * E;
  out.push_back({"camera_head.empty_pose_tokens", {1, 1, 9}});
  for (int i = 0; i < c.camera_trunk_depth; ++i)
    add_block(out, "camera_head.trunk." + std::to_string(i), C2, static_cast<int64_t>(C2 * c.mlp_ratio), 0);
  out.push_back({"camera_head.token_norm.weight", {C2}});
  out.push_back({"camera_head.token_norm.bias", {C2}});
  out.push_back({"camera_head.trunk_norm.weight", {C2}});
  out.push_back({"camera_head.trunk_norm.bias", {C2}});
  out.push_back({"camera_head.embed_pose.weight", {C2, 9}});
  out.push_back({"camera_head.embed_pose.bias", {C2}});
  out.push_back({"camera_head.poseLN_modulation.1.weight", {3 * C2, C2}});
  out.push_back({"camera_head.poseLN_modulation.1.bias", {3 * C2}});
  out.push_back({"camera_head.pose_branch.fc1.weight", {C2 / 2, C2}});
  out.push_back({"camera_head.pose_branch.fc1.bias", {C2 / 2}});
  out.push_back({"camera_head.pose_branch.fc2.weight", {9, C2 / 2}});
  out.push_back({"camera_head.pose_branch.fc2.bias", {9}});
  add_dpt(out, "point_head", c, 4);
  add_dpt(out, "depth_head", c, 2);
  if (c.track_enabled) add_track_head(out, c);
  return out;
}

std::string CheckpointReport::describe(const std::string& path) const {
  std::ostringstream s;
  s << path << ": checkpoint does not match the model config";
  auto list = [&](const char* what, const std::vector<std::string>& v) {
    if (v.empty()) return;
    s << "\n  " << v.size() << " " << what << ":";
    for (auto& n : v) s << "\n    " << n;
  };
  list("missing tensors", missing);
  list("unexpected tensors", unexpected);
  list("tensors with the wrong shape", mis_shaped);
  return s.str();
}

bool is_convertible_linear(const std::string& name) {
  const bool block = name.rfind("aggregator.patch_embed.blocks.", 0) == 0 || name.rfind("aggregator.frame_blocks.", 0) == 0 ||
                     name.rfind("aggregator.global_blocks.", 0) == 0;
  return block && (ends_with(name, ".attn.qkv.weight") || ends_with(name, ".attn.proj.weight") ||
                   ends_with(name, ".mlp.fc1.weight") || ends_with(name, ".mlp.fc2.weight"));
}

namespace {
bool has_any_track_tensor(const io::CheckpointReader& r) {
  for (auto& t : r.tensors())
    if (t.name.rfind("track_head.", 0) == 0) return true;
  return false;
}
}  // namespace

ModelConfig effective_config(const ModelConfig& cfg, const WeightStore& ws) {
  ModelConfig c = cfg;
  c.track_enabled = cfg.track_enabled && ws.has_track_head();
  return c;
}

CheckpointReport check_checkpoint(const io::CheckpointReader& r, const ModelConfig& config) {
  CheckpointReport rep;
  ModelConfig cfg = config;
  if (cfg.track_enabled && !has_any_track_tensor(r)) {
    rep.track_head_absent = true;
    cfg.track_enabled = false;
  }
  std::set<std::string> expected_names;
  for (auto& spec : expected_params(cfg)) {
    expected_names.insert(spec.name);
    const io::TensorInfo* t = r.find(spec.name);
    if (!t) {
      rep.missing.push_back(spec.name);
    } else if (t->shape != spec.shape) {
      rep.mis_shaped.push_back(spec.name + ": got " + shape_to_string(t->shape) + ", expected " +
                               shape_to_string(spec.shape));
    } else if (t->dtype == io::DType::I8 && is_convertible_linear(spec.name)) {
      // int8 cache: the weight's per-channel scales must come with it.
      expected_names.insert(spec.name + "_scale");
      const io::TensorInfo* sc = r.find(spec.name + "_scale");
      if (!sc || sc->dtype != io::DType::F32 || sc->shape != std::vector<int64_t>{spec.shape[0]})
        rep.mis_shaped.push_back(spec.name + ": int8 weight without a float32 '" + spec.name + "_scale' of shape [" +
                                 std::to_string(spec.shape[0]) + "]");
    } else if (t->dtype != io::DType::F32 && t->dtype != io::DType::BF16 && t->dtype != io::DType::F16 &&
               t->dtype != io::DType::F64) {
      rep.mis_shaped.push_back(spec.name + ": dtype " + io::dtype_name(t->dtype) + " is not floating point");
    }
  }
  for (auto& t : r.tensors()) {
    if (expected_names.count(t.name)) continue;
    rep.unexpected.push_back(t.name);
  }
  return rep;
}

std::unique_ptr<WeightStore> WeightStore::load(const std::string& path, const ModelConfig& config) {
  auto ws = std::make_unique<WeightStore>();
  ws->reader_ = io::CheckpointReader::open(path);
  ws->source_ = path;
  auto rep = check_checkpoint(*ws->reader_, config);
  if (!rep.ok()) throw std::runtime_error(rep.describe(path));
  ModelConfig cfg = config;
  cfg.track_enabled = config.track_enabled && !rep.track_head_absent;
  ws->track_head_ = cfg.track_enabled;
  const auto& meta = ws->reader_->metadata();
  auto meta_of = [&](const char* key, const std::string& legacy) {
    auto it = meta.find(key);
    return it == meta.end() ? legacy : it->second;
  };
  const std::string scope = meta_of("vggt_int8_scope", "all-linears"), rot = meta_of("vggt_int8_rotation", "none");
  if (scope != "fc2" && scope != "all-linears")
    throw std::runtime_error(path + ": unknown vggt_int8_scope '" + scope + "' (fc2 or all-linears)");
  if (rot != "hadamard" && rot != "none")
    throw std::runtime_error(path + ": unknown vggt_int8_rotation '" + rot + "' (hadamard or none)");
  ws->int8_.fc2_only = scope == "fc2";
  ws->int8_.hadamard = rot == "hadamard";
  // Nothing is read here: float32 is viewed, converted or dequantised when first asked for, so a
  // run whose Linears use bf16/int8 copies never has every float32 weight resident at once.
  for (auto& spec : expected_params(cfg)) {
    const io::TensorInfo* t = ws->reader_->find(spec.name);
    const bool aligned = reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0;
    ws->shapes_[spec.name] = spec.shape;
    ws->bytes_ += static_cast<size_t>(t->numel()) * sizeof(float);  // float32-equivalent; see VggtModel::weight_bytes
    if ((t->dtype == io::DType::BF16 || t->dtype == io::DType::I8) && is_convertible_linear(spec.name))
      ws->lazy_[spec.name] = t;  // used as stored by the bf16/int8 kernels
    else if (t->dtype == io::DType::F32 && aligned)
      ws->views_[spec.name] = t;
    else
      ws->to_f32_[spec.name] = t;
  }
  return ws;
}

namespace {

// splitmix64: fast, seedable, identical on every machine.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::unique_ptr<WeightStore> WeightStore::random(const ModelConfig& cfg, uint64_t seed) {
  auto ws = std::make_unique<WeightStore>();
  ws->random_ = true;
  ws->source_ = "random:" + std::to_string(seed);
  ws->track_head_ = cfg.track_enabled;
  uint64_t salt = seed;
  for (auto& spec : expected_params(cfg)) {
    const bool is_norm_weight = spec.shape.size() == 1 && ends_with(spec.name, ".weight") &&
                                spec.name.find("norm") != std::string::npos;
    const bool is_bias = ends_with(spec.name, ".bias");
    const bool is_gamma = ends_with(spec.name, ".gamma");
    // Small fan-in-scaled uniform values keep every activation (and the exp heads) finite.
    int64_t fan_in = 1;
    for (size_t i = 1; i < spec.shape.size(); ++i) fan_in *= spec.shape[i];
    RandomInit init;
    init.amp = is_bias ? 0.01f : (spec.shape.size() >= 2 ? 0.5f / std::sqrt(static_cast<float>(fan_in)) : 0.02f);
    init.fill = is_norm_weight ? RandomInit::ones : is_gamma ? RandomInit::gamma : RandomInit::uniform;
    salt = mix(salt);
    init.base = salt;
    ws->random_init_[spec.name] = init;
    ws->shapes_[spec.name] = spec.shape;
    ws->bytes_ += static_cast<size_t>(checked_numel(spec.shape)) * sizeof(float);
  }
  return ws;
}

const std::vector<int64_t>& WeightStore::shape(const std::string& name) const {
  auto it = shapes_.find(name);
  if (it == shapes_.end()) throw std::runtime_error("internal: weight '" + name + "' not loaded");
  return it->second;
}

Tensor WeightStore::make(const std::string& name) const {
  Tensor f = Tensor::uninitialized(shape(name));
  const int64_t n = f.numel();
  if (auto r = random_init_.find(name); r != random_init_.end()) {
    const RandomInit init = r->second;
    float* d = f.data();
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      if (init.fill == RandomInit::ones) { d[i] = 1.f; continue; }
      if (init.fill == RandomInit::gamma) { d[i] = 0.1f; continue; }
      const uint64_t x = mix(init.base + static_cast<uint64_t>(i));
      const float u = static_cast<float>(x >> 40) / static_cast<float>(1ull << 24);  // [0, 1)
      d[i] = (2.f * u - 1.f) * init.amp;
    }
    if (name == "camera_head.pose_branch.fc2.bias") {
      // Keep random-weight cameras well-posed: over the 4 refinement iterations the deltas sum
      // to about an identity rotation and a 1-radian field of view (a ReLU'd zero FoV would
      // give an infinite focal length and non-finite unprojected points).
      for (int k = 0; k < 9; ++k) d[k] = (k == 6 || k >= 7) ? 0.25f : 0.f;
    }
    return f;
  }
  if (auto c = to_f32_.find(name); c != to_f32_.end()) {
    io::convert_to_f32(*c->second, f.data());
    return f;
  }
  auto lz = lazy_.find(name);
  if (lz == lazy_.end()) throw std::runtime_error("internal: weight '" + name + "' not loaded");
  const io::TensorInfo* t = lz->second;
  if (t->dtype == io::DType::I8) {
    const auto* q = static_cast<const int8_t*>(t->data);
    const float* sc = converted_scale(name);
    const int64_t N = t->shape[0], K = t->shape[1];
    for (int64_t row = 0; row < N; ++row)
      for (int64_t k = 0; k < K; ++k) f[row * K + k] = q[row * K + k] * sc[row];
    // Stored as W H / K: (W H / K) H = W.
    if (int8_rotated(name)) ops::fwht_rows(f.data(), N, static_cast<int>(K));
  } else {
    io::convert_to_f32(*t, f.data());
  }
  return f;
}

Tensor WeightStore::get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tensors_.find(name);
  if (it != tensors_.end()) return it->second;
  if (auto v = views_.find(name); v != views_.end())
    return tensors_.emplace(name, Tensor::view(static_cast<const float*>(v->second->data), shape(name))).first->second;
  return tensors_.emplace(name, make(name)).first->second;
}

void WeightStore::release_f32(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto v = views_.find(name); v != views_.end()) {
    reader_->release_pages(v->second->data, v->second->nbytes);
    return;
  }
  tensors_.erase(name);
}

size_t WeightStore::owned_f32_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto& [name, t] : tensors_)
    if (!views_.count(name)) n += static_cast<size_t>(t.numel()) * sizeof(float);
  return n;
}

const io::TensorInfo* WeightStore::converted(const std::string& name) const {
  auto it = lazy_.find(name);
  return it == lazy_.end() ? nullptr : it->second;
}

bool WeightStore::int8_rotated(const std::string& name) const {
  const io::TensorInfo* t = converted(name);
  return t && t->dtype == io::DType::I8 && int8_.hadamard && t->shape.size() == 2 && ops::is_power_of_two(t->shape[1]);
}

void WeightStore::release_converted(const std::string& name) const {
  if (const io::TensorInfo* t = converted(name)) reader_->release_pages(t->data, t->nbytes);
}

const float* WeightStore::converted_scale(const std::string& name) const {
  const io::TensorInfo* s = reader_ ? reader_->find(name + "_scale") : nullptr;
  return s ? static_cast<const float*>(s->data) : nullptr;
}

void write_converted(const WeightStore& ws, const ModelConfig& cfg, const std::string& to, const std::string& out,
                     const std::map<std::string, std::string>& metadata, const Int8Format& int8) {
  if (to != "f32" && to != "bf16" && to != "int8") throw std::runtime_error("--to must be f32, bf16 or int8, got '" + to + "'");
  std::vector<io::TensorToWrite> entries;
  std::vector<std::vector<uint8_t>> buffers;  // keeps converted data alive until written
  buffers.reserve(4 * expected_params(cfg).size());
  for (auto& spec : expected_params(cfg)) {
    const Tensor w = ws.get(spec.name);
    if (to == "f32" || !is_convertible_linear(spec.name)) {
      entries.push_back(io::f32_entry(spec.name, w));
      continue;
    }
    const int N = static_cast<int>(spec.shape[0]), K = static_cast<int>(spec.shape[1]);
    const bool as_bf16 = to == "bf16" || (int8.fc2_only && !ends_with(spec.name, ".mlp.fc2.weight"));
    if (as_bf16) {
      auto& buf = buffers.emplace_back(static_cast<size_t>(N) * K * 2);
      ops::LinearBF16::convert_weights(w.data(), static_cast<int64_t>(N) * K, reinterpret_cast<uint16_t*>(buf.data()));
      entries.push_back({spec.name, io::DType::BF16, spec.shape, buf.data(), buf.size()});
    } else {
      auto& q = buffers.emplace_back(static_cast<size_t>(N) * K);
      auto& sc = buffers.emplace_back(static_cast<size_t>(N) * 4);
      ops::LinearW8A8::quantize_weights(w.data(), N, K, reinterpret_cast<int8_t*>(q.data()),
                                        reinterpret_cast<float*>(sc.data()), int8.hadamard);
      entries.push_back({spec.name, io::DType::I8, spec.shape, q.data(), q.size()});
      entries.push_back({spec.name + "_scale", io::DType::F32, {N}, sc.data(), sc.size()});
    }
    ws.release_f32(spec.name);  // only the converted copy is written
  }
  std::map<std::string, std::string> meta = metadata;
  if (to != "f32") meta["vggt_converted"] = to;
  if (to == "int8") {
    meta["vggt_int8_scope"] = int8.fc2_only ? "fc2" : "all-linears";
    meta["vggt_int8_rotation"] = int8.hadamard ? "hadamard" : "none";
  }
  io::write_safetensors(out, entries, meta);
}

}  // namespace vggt

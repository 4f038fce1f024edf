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

}  // namespace

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

namespace {
bool has_any_track_tensor(const io::CheckpointReader& r) {
  for (auto& t : r.tensors())
    if (params::is_track_head(t.name)) return true;
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
    } else if (t->dtype == io::DType::I8 && spec.convertible) {
      // int8 cache: the weight's per-channel scales must come with it.
      expected_names.insert(spec.name + "_scale");
      const io::TensorInfo* sc = r.find(spec.name + "_scale");
      if (!sc || sc->dtype != io::DType::F32 || sc->shape != std::vector<int64_t>{spec.shape[0]})
        rep.mis_shaped.push_back(spec.name + ": int8 weight without a float32 '" + spec.name + "_scale' of shape [" +
                                 std::to_string(spec.shape[0]) + "]");
      // Optional residual weights: both or neither, with the weight's shapes.
      const io::TensorInfo* rq = r.find(spec.name + "_residual");
      const io::TensorInfo* rs = r.find(spec.name + "_residual_scale");
      if (rq || rs) {
        expected_names.insert(spec.name + "_residual");
        expected_names.insert(spec.name + "_residual_scale");
        if (!rq || rq->dtype != io::DType::I8 || rq->shape != spec.shape || !rs || rs->dtype != io::DType::F32 ||
            rs->shape != std::vector<int64_t>{spec.shape[0]})
          rep.mis_shaped.push_back(spec.name + ": residual weights need an int8 '" + spec.name + "_residual' of shape " +
                                   shape_to_string(spec.shape) + " and a float32 '" + spec.name +
                                   "_residual_scale' of shape [" + std::to_string(spec.shape[0]) + "]");
      }
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
  const std::string res = meta_of("vggt_int8_residual", "none");
  if (res != "special+mean" && res != "none")
    throw std::runtime_error(path + ": unknown vggt_int8_residual '" + res + "' (special+mean or none)");
  ws->int8_.fc2_only = scope == "fc2";
  ws->int8_.hadamard = rot == "hadamard";
  ws->int8_.residual = res == "special+mean";
  // Nothing is read here: float32 is viewed, converted or dequantised when first asked for, so a
  // run whose Linears use bf16/int8 copies never has every float32 weight resident at once.
  for (auto& spec : expected_params(cfg)) {
    const io::TensorInfo* t = ws->reader_->find(spec.name);
    const bool aligned = reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0;
    ws->shapes_[spec.name] = spec.shape;
    ws->bytes_ += static_cast<size_t>(t->numel()) * sizeof(float);  // float32-equivalent; see VggtModel::weight_bytes
    if ((t->dtype == io::DType::BF16 || t->dtype == io::DType::I8) && spec.convertible)
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
  const params::Model table = params::table(cfg);
  for (auto& spec : table.all) {
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
    // Keep random-weight cameras well-posed (see make()).
    init.pose_bias = spec.name == table.camera_head.branch_fc2.bias.name;
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
    if (init.pose_bias) {
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

const std::vector<int64_t>& WeightStore::shape(const ParamSpec& p) const {
  note_asked(p);
  const std::vector<int64_t>& s = shape(p.name);
  if (s != p.shape)
    throw std::runtime_error("internal: weight '" + p.name + "' is " + shape_to_string(s) +
                             ", the parameter table says " + shape_to_string(p.shape));
  return s;
}

Tensor WeightStore::get(const ParamSpec& p) const {
  shape(p);
  return get(p.name);
}

const io::TensorInfo* WeightStore::converted(const ParamSpec& p) const {
  note_asked(p);
  return converted(p.name);
}

void WeightStore::note_asked(const ParamSpec& p) const {
  std::lock_guard<std::mutex> lock(mu_);
  asked_.insert(p.name);
}

std::set<std::string> WeightStore::asked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return asked_;
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

const io::TensorInfo* WeightStore::converted_residual(const std::string& name) const {
  const io::TensorInfo* t = converted(name);
  if (!t || t->dtype != io::DType::I8 || !int8_.residual || !reader_) return nullptr;
  return reader_->find(name + "_residual");
}

const float* WeightStore::converted_residual_scale(const std::string& name) const {
  if (!converted_residual(name)) return nullptr;
  const io::TensorInfo* s = reader_->find(name + "_residual_scale");
  return s ? static_cast<const float*>(s->data) : nullptr;
}

void write_converted(const WeightStore& ws, const ModelConfig& cfg, const std::string& to, const std::string& out,
                     const std::map<std::string, std::string>& metadata, const Int8Format& int8) {
  if (to != "f32" && to != "bf16" && to != "int8") throw std::runtime_error("--to must be f32, bf16 or int8, got '" + to + "'");
  std::vector<io::TensorToWrite> entries;
  std::vector<std::vector<uint8_t>> buffers;  // keeps converted data alive until written
  const std::vector<ParamSpec> specs = expected_params(cfg);
  buffers.reserve(6 * specs.size());
  for (auto& spec : specs) {
    const Tensor w = ws.get(spec.name);
    if (to == "f32" || !spec.convertible) {
      entries.push_back(io::f32_entry(spec.name, w));
      continue;
    }
    const int N = static_cast<int>(spec.shape[0]), K = static_cast<int>(spec.shape[1]);
    const bool as_bf16 = to == "bf16" || (int8.fc2_only && !spec.mlp_fc2);
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
      if (int8.residual) {
        auto& rq = buffers.emplace_back(static_cast<size_t>(N) * K);
        auto& rs = buffers.emplace_back(static_cast<size_t>(N) * 4);
        ops::LinearW8A8::quantize_residual(w.data(), reinterpret_cast<const int8_t*>(q.data()),
                                           reinterpret_cast<const float*>(sc.data()), N, K,
                                           reinterpret_cast<int8_t*>(rq.data()), reinterpret_cast<float*>(rs.data()),
                                           int8.hadamard);
        entries.push_back({spec.name + "_residual", io::DType::I8, spec.shape, rq.data(), rq.size()});
        entries.push_back({spec.name + "_residual_scale", io::DType::F32, {N}, rs.data(), rs.size()});
      }
    }
    ws.release_f32(spec.name);  // only the converted copy is written
  }
  std::map<std::string, std::string> meta = metadata;
  if (to != "f32") meta["vggt_converted"] = to;
  if (to == "int8") {
    meta["vggt_int8_scope"] = int8.fc2_only ? "fc2" : "all-linears";
    meta["vggt_int8_rotation"] = int8.hadamard ? "hadamard" : "none";
    meta["vggt_int8_residual"] = int8.residual ? "special+mean" : "none";
  }
  io::write_safetensors(out, entries, meta);
}

}  // namespace vggt

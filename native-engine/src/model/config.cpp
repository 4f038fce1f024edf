#include "model/config.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/limits.h"
#include "io/file_util.h"
#include "io/json_guard.h"

namespace vggt {

using json = nlohmann::json;

ModelConfig ModelConfig::vggt_1b() { return ModelConfig{}; }

namespace {

// Strict field readers: a missing field keeps the preset's value; a present one must have the
// right JSON type and lie in [lo, hi], else the error names the file and the field.
struct Fields {
  const std::string& source;
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw std::runtime_error(source + ": config field '" + field + "' " + problem);
  }
  const json* find(const json& obj, const std::string& key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json* section(const json& root, const std::string& key) const {
    const json* s = find(root, key);
    if (s && !s->is_object()) fail(key, "must be an object, got " + std::string(s->type_name()));
    return s;
  }
  int integer(const json* obj, const std::string& key, const std::string& field, int dflt, int64_t lo, int64_t hi) const {
    const json* v = obj ? find(*obj, key) : nullptr;
    if (!v) return dflt;
    if (!v->is_number_integer()) fail(field, "must be an integer, got " + std::string(v->type_name()) + " " + v->dump());
    const int64_t n = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                          ? INT64_MAX
                          : v->get<int64_t>();
    if (n < lo || n > hi)
      fail(field, "is " + v->dump() + ", outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(n);
  }
  float number(const json* obj, const std::string& key, float dflt, double lo, double hi) const {
    const json* v = obj ? find(*obj, key) : nullptr;
    if (!v) return dflt;
    if (!v->is_number()) fail(key, "must be a number, got " + std::string(v->type_name()));
    const double d = v->get<double>();
    if (!(d >= lo && d <= hi)) fail(key, "is " + v->dump() + ", outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<float>(d);
  }
  bool boolean(const json* obj, const std::string& key, const std::string& field, bool dflt) const {
    const json* v = obj ? find(*obj, key) : nullptr;
    if (!v) return dflt;
    if (!v->is_boolean()) fail(field, "must be true or false, got " + std::string(v->type_name()));
    return v->get<bool>();
  }
  std::vector<int> integers(const json* obj, const std::string& key, const std::string& field, std::vector<int> dflt,
                            int64_t lo, int64_t hi) const {
    const json* v = obj ? find(*obj, key) : nullptr;
    if (!v) return dflt;
    if (!v->is_array() || v->size() != 4) fail(field, "must be an array of 4 integers");
    std::vector<int> out;
    json holder = json::object();
    for (size_t i = 0; i < v->size(); ++i) {
      holder["x"] = (*v)[i];
      out.push_back(integer(&holder, "x", field + "[" + std::to_string(i) + "]", 0, lo, hi));
    }
    return out;
  }
};

// Sizes far above any VGGT variant and far below what would exhaust memory when allocated.
constexpr int64_t kMaxDim = 16384, kMaxDepth = 256, kMaxHeads = 1024;

}  // namespace

ModelConfig ModelConfig::from_json_text(const std::string& text, const std::string& source) {
  const json j = io::parse_json_bounded(text.data(), text.data() + text.size(), source, "config",
                                        limits::kMaxConfigBytes, limits::kMaxJsonDepth);
  if (!j.is_object()) throw std::runtime_error(source + ": config must be a JSON object, got " + j.type_name());
  const Fields F{source};
  ModelConfig c;
  c.patch_size = F.integer(&j, "patch_size", "patch_size", c.patch_size, 1, 256);
  c.img_size = F.integer(&j, "img_size", "img_size", c.img_size, 1, limits::kMaxInputSide);
  c.embed_dim = F.integer(&j, "embed_dim", "embed_dim", c.embed_dim, 1, kMaxDim);
  c.depth = F.integer(&j, "depth", "depth", c.depth, 1, kMaxDepth);
  c.num_heads = F.integer(&j, "num_heads", "num_heads", c.num_heads, 1, kMaxHeads);
  const json* enc = F.section(j, "encoder");
  c.encoder_depth = F.integer(enc, "depth", "encoder.depth", c.encoder_depth, 1, kMaxDepth);
  c.encoder_heads = F.integer(enc, "num_heads", "encoder.num_heads", c.encoder_heads, 1, kMaxHeads);
  c.num_register_tokens = F.integer(&j, "num_register_tokens", "num_register_tokens", c.num_register_tokens, 0, 256);
  c.mlp_ratio = F.number(&j, "mlp_ratio", c.mlp_ratio, 0.0625, 64);
  c.rope_freq = F.number(&j, "rope_freq", c.rope_freq, 1e-3, 1e9);
  c.qk_norm = F.boolean(&j, "qk_norm", "qk_norm", c.qk_norm);
  if (const json* pe = F.find(j, "patch_embed")) {
    if (!pe->is_string()) F.fail("patch_embed", "must be a string");
    if (pe->get<std::string>() != "dinov2_reg") F.fail("patch_embed", "must be 'dinov2_reg' (the only one supported)");
  }
  const json* cam = F.section(j, "camera");
  c.camera_trunk_depth = F.integer(cam, "trunk_depth", "camera.trunk_depth", c.camera_trunk_depth, 1, kMaxDepth);
  c.camera_heads = F.integer(cam, "num_heads", "camera.num_heads", c.camera_heads, 1, kMaxHeads);
  c.camera_iterations = F.integer(cam, "iterations", "camera.iterations", c.camera_iterations, 1, 64);
  const json* dpt = F.section(j, "dpt");
  c.dpt_features = F.integer(dpt, "features", "dpt.features", c.dpt_features, 1, kMaxDim);
  c.dpt_out_channels = F.integers(dpt, "out_channels", "dpt.out_channels", c.dpt_out_channels, 1, kMaxDim);
  c.dpt_layers = F.integers(dpt, "intermediate_layer_idx", "dpt.intermediate_layer_idx", c.dpt_layers, 0, c.depth - 1);
  // A config without a track section describes a model without the track head.
  const json* track = F.section(j, "track");
  c.track_enabled = track && F.boolean(track, "enabled", "track.enabled", true);
  c.track_features = F.integer(track, "features", "track.features", c.track_features, 1, kMaxDim);
  c.track_iters = F.integer(track, "iters", "track.iters", c.track_iters, 1, 64);
  c.track_corr_levels = F.integer(track, "corr_levels", "track.corr_levels", c.track_corr_levels, 1, 16);
  c.track_corr_radius = F.integer(track, "corr_radius", "track.corr_radius", c.track_corr_radius, 0, 64);
  c.track_hidden = F.integer(track, "hidden_size", "track.hidden_size", c.track_hidden, 1, kMaxDim);
  c.track_depth = F.integer(track, "depth", "track.depth", c.track_depth, 1, kMaxDepth);
  c.track_stride = F.integer(track, "stride", "track.stride", c.track_stride, 1, 64);
  c.track_down_ratio = F.integer(track, "down_ratio", "track.down_ratio", c.track_down_ratio, 1, 64);
  c.track_heads = F.integer(track, "num_heads", "track.num_heads", c.track_heads, 1, kMaxHeads);
  c.track_virtual = F.integer(track, "num_virtual_tracks", "track.num_virtual_tracks", c.track_virtual, 1, 4096);
  c.track_max_scale = F.integer(track, "max_scale", "track.max_scale", c.track_max_scale, 1, 1 << 20);
  c.track_predict_conf = F.boolean(track, "predict_conf", "track.predict_conf", c.track_predict_conf);

  // Relations between fields, checked after each field is known to be in range (no division by 0).
  if (c.img_size % c.patch_size) F.fail("img_size", "must be a multiple of patch_size (" + std::to_string(c.patch_size) + ")");
  if (c.embed_dim % c.num_heads) F.fail("num_heads", "must divide embed_dim (" + std::to_string(c.embed_dim) + ")");
  if (c.embed_dim % c.encoder_heads) F.fail("encoder.num_heads", "must divide embed_dim (" + std::to_string(c.embed_dim) + ")");
  if ((2 * c.embed_dim) % c.camera_heads) F.fail("camera.num_heads", "must divide 2*embed_dim (" + std::to_string(2 * c.embed_dim) + ")");
  for (int l : c.dpt_layers)
    if (l >= c.depth) F.fail("dpt.intermediate_layer_idx", "holds " + std::to_string(l) + ", not below depth (" + std::to_string(c.depth) + ")");
  if ((c.embed_dim / c.num_heads) % 4) F.fail("num_heads", "must leave a head_dim (embed_dim/num_heads) that is a multiple of 4 (2-D RoPE)");
  if (c.track_enabled) {
    // The flow embedding splits C into 4 sin/cos quarters; the position grid needs (3C+4)/4 whole.
    if (c.track_features % 4) F.fail("track.features", "must be a multiple of 4");
    if (c.track_hidden % c.track_heads) F.fail("track.num_heads", "must divide track.hidden_size (" + std::to_string(c.track_hidden) + ")");
    if (c.track_stride != 2) F.fail("track.stride", "must be 2 (the official TrackHead)");
    if (c.track_down_ratio != 2) F.fail("track.down_ratio", "must be 2 (the official TrackHead)");
  }
  return c;
}

ModelConfig ModelConfig::from_json_file(const std::string& path) {
  return from_json_text(io::read_regular_file(path, "config", limits::kMaxConfigBytes), path);
}

ModelConfig ModelConfig::resolve(const std::string& name_or_path) {
  if (name_or_path.empty() || name_or_path == "vggt-1b") return vggt_1b();
  return from_json_file(name_or_path);
}

std::string ModelConfig::to_json() const {
  json j = {{"img_size", img_size},
            {"patch_size", patch_size},
            {"embed_dim", embed_dim},
            {"depth", depth},
            {"num_heads", num_heads},
            {"encoder", {{"depth", encoder_depth}, {"num_heads", encoder_heads}}},
            {"num_register_tokens", num_register_tokens},
            {"patch_embed", "dinov2_reg"},
            {"mlp_ratio", mlp_ratio},
            {"rope_freq", rope_freq},
            {"qk_norm", qk_norm},
            {"camera", {{"trunk_depth", camera_trunk_depth}, {"num_heads", camera_heads}, {"iterations", camera_iterations}}},
            {"dpt", {{"features", dpt_features}, {"out_channels", dpt_out_channels}, {"intermediate_layer_idx", dpt_layers}}}};
  if (track_enabled)
    j["track"] = {{"enabled", true},       {"features", track_features},     {"iters", track_iters},
                  {"corr_levels", track_corr_levels}, {"corr_radius", track_corr_radius}, {"hidden_size", track_hidden},
                  {"depth", track_depth},  {"stride", track_stride},         {"down_ratio", track_down_ratio},
                  {"num_heads", track_heads}, {"num_virtual_tracks", track_virtual}, {"max_scale", track_max_scale},
                  {"predict_conf", track_predict_conf}};
  return j.dump();
}

}  // namespace vggt

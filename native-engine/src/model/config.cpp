#include "model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace vggt {

using json = nlohmann::json;

ModelConfig ModelConfig::vggt_1b() { return ModelConfig{}; }

ModelConfig ModelConfig::from_json_text(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(source + ": invalid JSON (" + e.what() + ")");
  }
  ModelConfig c;
  try {
    c.img_size = j.value("img_size", c.img_size);
    c.patch_size = j.value("patch_size", c.patch_size);
    c.embed_dim = j.value("embed_dim", c.embed_dim);
    c.depth = j.value("depth", c.depth);
    c.num_heads = j.value("num_heads", c.num_heads);
    if (j.contains("encoder")) {
      c.encoder_depth = j["encoder"].value("depth", c.encoder_depth);
      c.encoder_heads = j["encoder"].value("num_heads", c.encoder_heads);
    }
    c.num_register_tokens = j.value("num_register_tokens", c.num_register_tokens);
    c.mlp_ratio = j.value("mlp_ratio", c.mlp_ratio);
    c.rope_freq = j.value("rope_freq", c.rope_freq);
    c.qk_norm = j.value("qk_norm", c.qk_norm);
    if (j.value("patch_embed", std::string("dinov2_reg")) != "dinov2_reg")
      throw std::runtime_error("only patch_embed 'dinov2_reg' is supported");
    if (j.contains("camera")) {
      c.camera_trunk_depth = j["camera"].value("trunk_depth", c.camera_trunk_depth);
      c.camera_heads = j["camera"].value("num_heads", c.camera_heads);
      c.camera_iterations = j["camera"].value("iterations", c.camera_iterations);
    }
    if (j.contains("dpt")) {
      c.dpt_features = j["dpt"].value("features", c.dpt_features);
      c.dpt_out_channels = j["dpt"].value("out_channels", c.dpt_out_channels);
      c.dpt_layers = j["dpt"].value("intermediate_layer_idx", c.dpt_layers);
    }
    // A config without a track section describes a model without the track head.
    c.track_enabled = j.contains("track") && j["track"].value("enabled", true);
    if (j.contains("track")) {
      const json& t = j["track"];
      c.track_features = t.value("features", c.track_features);
      c.track_iters = t.value("iters", c.track_iters);
      c.track_corr_levels = t.value("corr_levels", c.track_corr_levels);
      c.track_corr_radius = t.value("corr_radius", c.track_corr_radius);
      c.track_hidden = t.value("hidden_size", c.track_hidden);
      c.track_depth = t.value("depth", c.track_depth);
      c.track_stride = t.value("stride", c.track_stride);
      c.track_down_ratio = t.value("down_ratio", c.track_down_ratio);
      c.track_heads = t.value("num_heads", c.track_heads);
      c.track_virtual = t.value("num_virtual_tracks", c.track_virtual);
      c.track_max_scale = t.value("max_scale", c.track_max_scale);
      c.track_predict_conf = t.value("predict_conf", c.track_predict_conf);
    }
  } catch (const json::exception& e) {
    throw std::runtime_error(source + ": bad config value (" + e.what() + ")");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(source + ": " + e.what());
  }
  auto fail = [&](const std::string& m) { throw std::runtime_error(source + ": " + m); };
  if (c.embed_dim % c.num_heads || c.embed_dim % c.encoder_heads) fail("embed_dim must divide by the head counts");
  if ((2 * c.embed_dim) % c.camera_heads) fail("2*embed_dim must divide by camera.num_heads");
  if ((c.embed_dim / c.num_heads) % 4) fail("aggregator head_dim must be a multiple of 4 (2-D RoPE)");
  if (c.dpt_out_channels.size() != 4 || c.dpt_layers.size() != 4) fail("dpt needs 4 out_channels and 4 layers");
  for (int l : c.dpt_layers)
    if (l < 0 || l >= c.depth) fail("dpt.intermediate_layer_idx out of range");
  if (c.patch_size <= 0 || c.img_size % c.patch_size) fail("img_size must be a multiple of patch_size");
  if (c.track_enabled) {
    // The flow embedding splits C into 4 sin/cos quarters; the position grid needs (3C+4)/4 whole.
    if (c.track_features <= 0 || c.track_features % 4) fail("track.features must be a positive multiple of 4");
    if (c.track_hidden <= 0 || c.track_heads <= 0 || c.track_hidden % c.track_heads)
      fail("track.hidden_size must divide by track.num_heads");
    if (c.track_iters < 1 || c.track_corr_levels < 1 || c.track_corr_radius < 0 || c.track_depth < 1 ||
        c.track_virtual < 1 || c.track_max_scale <= 0)
      fail("track: iters, corr_levels, depth, num_virtual_tracks and max_scale must be positive");
    if (c.track_stride != 2 || c.track_down_ratio != 2)
      fail("track: only stride 2 and down_ratio 2 (the official TrackHead) are supported");
  }
  return c;
}

ModelConfig ModelConfig::from_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open config");
  std::stringstream ss;
  ss << f.rdbuf();
  return from_json_text(ss.str(), path);
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

// Architecture sizes, read from the JSON schema of shared/goldens/vggt-1b-config.json.
#pragma once
#include <string>
#include <vector>

namespace vggt {

struct ModelConfig {
  int img_size = 518;
  int patch_size = 14;
  int embed_dim = 1024;  // E; aggregator tokens, heads read 2E
  int depth = 24;        // aggregator frame/global block pairs
  int num_heads = 16;
  int encoder_depth = 24;
  int encoder_heads = 16;
  int num_register_tokens = 4;
  float mlp_ratio = 4.0f;
  float rope_freq = 100.0f;
  bool qk_norm = true;
  int camera_trunk_depth = 4;
  int camera_heads = 16;
  int camera_iterations = 4;
  int dpt_features = 256;
  std::vector<int> dpt_out_channels = {256, 512, 1024, 1024};
  std::vector<int> dpt_layers = {4, 11, 17, 23};
  // Track head (TrackHead = DPT feature extractor + BaseTrackerPredictor). The official
  // classes fix stride, down_ratio, heads, virtual tracks and max_scale; they are read anyway.
  bool track_enabled = true;
  int track_features = 128;  // C: DPT features = tracker latent dim
  int track_iters = 4;
  int track_corr_levels = 7;
  int track_corr_radius = 4;
  int track_hidden = 384;
  int track_depth = 6;  // update-transformer time blocks = space blocks
  int track_stride = 2;
  int track_down_ratio = 2;
  int track_heads = 8;
  int track_virtual = 64;
  int track_max_scale = 518;
  bool track_predict_conf = true;

  static ModelConfig vggt_1b();
  static ModelConfig from_json_file(const std::string& path);
  static ModelConfig from_json_text(const std::string& text, const std::string& source);
  // "vggt-1b" or a path to a JSON file.
  static ModelConfig resolve(const std::string& name_or_path);
  std::string to_json() const;
};

}  // namespace vggt

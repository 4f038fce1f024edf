#include "model/param_table.h"

namespace vggt {
namespace params {

namespace {

const std::string kTrackHead = "track_head";

std::string at(const std::string& prefix, int i) { return prefix + "." + std::to_string(i); }

// Appends each entry to the state-dict list as the typed records are built, so that both
// hold the same names in the same order.
class Builder {
 public:
  explicit Builder(std::vector<ParamSpec>& all) : all_(all) {}

  ParamSpec tensor(const std::string& name, std::vector<int64_t> shape, bool convertible = false, bool fc2 = false) {
    all_.push_back({name, std::move(shape), convertible, fc2});
    return all_.back();
  }
  // "<p>.weight" of `shape` and "<p>.bias" of [shape[0]].
  Affine affine(const std::string& p, const std::vector<int64_t>& shape, bool convertible = false, bool fc2 = false) {
    Affine a;
    a.weight = tensor(p + ".weight", shape, convertible, fc2);
    a.bias = tensor(p + ".bias", {shape[0]});
    return a;
  }

  // convertible: the encoder's and the aggregator's blocks (see ParamSpec::convertible).
  Block block(const std::string& p, int64_t dim, int64_t hidden, int64_t qk_norm_dim, bool convertible) {
    Block b;
    b.norm1 = affine(p + ".norm1", {dim});
    b.qkv = affine(p + ".attn.qkv", {3 * dim, dim}, convertible);
    if (qk_norm_dim) {
      b.q_norm = affine(p + ".attn.q_norm", {qk_norm_dim});
      b.k_norm = affine(p + ".attn.k_norm", {qk_norm_dim});
    }
    b.proj = affine(p + ".attn.proj", {dim, dim}, convertible);
    b.ls1 = tensor(p + ".ls1.gamma", {dim});
    b.norm2 = affine(p + ".norm2", {dim});
    b.fc1 = affine(p + ".mlp.fc1", {hidden, dim}, convertible);
    b.fc2 = affine(p + ".mlp.fc2", {dim, hidden}, convertible, convertible);
    b.ls2 = tensor(p + ".ls2.gamma", {dim});
    return b;
  }

  Encoder encoder(const ModelConfig& c) {
    const std::string p = "aggregator.patch_embed";
    const int64_t E = c.embed_dim, R = c.num_register_tokens, ps = c.patch_size, grid = c.img_size / ps;
    const int64_t hidden = static_cast<int64_t>(E * c.mlp_ratio);
    Encoder e;
    e.cls_token = tensor(p + ".cls_token", {1, 1, E});
    e.pos_embed = tensor(p + ".pos_embed", {1, 1 + grid * grid, E});
    if (R) e.register_tokens = tensor(p + ".register_tokens", {1, R, E});
    e.mask_token = tensor(p + ".mask_token", {1, E});
    e.patch_proj = affine(p + ".patch_embed.proj", {E, 3, ps, ps});
    for (int i = 0; i < c.encoder_depth; ++i) e.blocks.push_back(block(at(p + ".blocks", i), E, hidden, 0, true));
    e.norm = affine(p + ".norm", {E});
    return e;
  }

  Aggregator aggregator(const ModelConfig& c) {
    const std::string p = "aggregator";
    const int64_t E = c.embed_dim, hidden = static_cast<int64_t>(E * c.mlp_ratio);
    const int64_t qk = c.qk_norm ? E / c.num_heads : 0;
    Aggregator a;
    a.camera_token = tensor(p + ".camera_token", {1, 2, 1, E});
    a.register_token = tensor(p + ".register_token", {1, 2, c.num_register_tokens, E});
    a.patch_embed = encoder(c);
    for (int i = 0; i < c.depth; ++i) a.frame_blocks.push_back(block(at(p + ".frame_blocks", i), E, hidden, qk, true));
    for (int i = 0; i < c.depth; ++i) a.global_blocks.push_back(block(at(p + ".global_blocks", i), E, hidden, qk, true));
    return a;
  }

  CameraHead camera_head(const ModelConfig& c) {
    const std::string p = "camera_head";
    const int64_t C2 = 2 * c.embed_dim;
    CameraHead h;
    h.empty_pose_tokens = tensor(p + ".empty_pose_tokens", {1, 1, 9});
    for (int i = 0; i < c.camera_trunk_depth; ++i)
      h.trunk.push_back(block(at(p + ".trunk", i), C2, static_cast<int64_t>(C2 * c.mlp_ratio), 0, false));
    h.token_norm = affine(p + ".token_norm", {C2});
    h.trunk_norm = affine(p + ".trunk_norm", {C2});
    h.embed_pose = affine(p + ".embed_pose", {C2, 9});
    h.modulation = affine(p + ".poseLN_modulation.1", {3 * C2, C2});
    h.branch_fc1 = affine(p + ".pose_branch.fc1", {C2 / 2, C2});
    h.branch_fc2 = affine(p + ".pose_branch.fc2", {9, C2 / 2});
    return h;
  }

  // out_dim 0: the track head's feature-only DPT (F = track features, output_conv1 F -> F, no
  // output_conv2).
  Dpt dpt(const std::string& p, const ModelConfig& c, int64_t out_dim) {
    const int64_t in = 2 * c.embed_dim, F = out_dim ? c.dpt_features : c.track_features;
    const auto& oc = c.dpt_out_channels;
    Dpt d;
    d.norm = affine(p + ".norm", {in});
    for (int i = 0; i < 4; ++i) d.projects[i] = affine(at(p + ".projects", i), {oc[i], in, 1, 1});
    d.resize0 = affine(p + ".resize_layers.0", {oc[0], oc[0], 4, 4});
    d.resize1 = affine(p + ".resize_layers.1", {oc[1], oc[1], 2, 2});
    d.resize3 = affine(p + ".resize_layers.3", {oc[3], oc[3], 3, 3});
    for (int i = 0; i < 4; ++i)
      d.layer_rn[i] = tensor(p + ".scratch.layer" + std::to_string(i + 1) + "_rn.weight", {F, oc[i], 3, 3});
    for (int r = 0; r < 4; ++r) {
      const std::string rn = p + ".scratch.refinenet" + std::to_string(r + 1);
      Dpt::Fusion& f = d.refinenet[r];
      f.out_conv = affine(rn + ".out_conv", {F, F, 1, 1});
      if (r != 3) {
        f.unit1_conv1 = affine(rn + ".resConfUnit1.conv1", {F, F, 3, 3});
        f.unit1_conv2 = affine(rn + ".resConfUnit1.conv2", {F, F, 3, 3});
      }
      f.unit2_conv1 = affine(rn + ".resConfUnit2.conv1", {F, F, 3, 3});
      f.unit2_conv2 = affine(rn + ".resConfUnit2.conv2", {F, F, 3, 3});
    }
    if (!out_dim) {
      d.output_conv1 = affine(p + ".scratch.output_conv1", {F, F, 3, 3});
      return d;
    }
    d.output_conv1 = affine(p + ".scratch.output_conv1", {F / 2, F, 3, 3});
    d.output_conv2_0 = affine(p + ".scratch.output_conv2.0", {32, F / 2, 3, 3});
    d.output_conv2_2 = affine(p + ".scratch.output_conv2.2", {out_dim, 32, 1, 1});
    return d;
  }

  TrackBlock track_block(const std::string& p, int64_t h, bool cross) {
    const std::string attn = p + (cross ? ".cross_attn" : ".attn");
    TrackBlock b;
    b.norm1 = affine(p + ".norm1", {h});
    if (cross) b.norm_context = affine(p + ".norm_context", {h});
    b.norm2 = affine(p + ".norm2", {h});
    b.in_proj.weight = tensor(attn + ".in_proj_weight", {3 * h, h});
    b.in_proj.bias = tensor(attn + ".in_proj_bias", {3 * h});
    b.out_proj = affine(attn + ".out_proj", {h, h});
    b.fc1 = affine(p + ".mlp.fc1", {4 * h, h});
    b.fc2 = affine(p + ".mlp.fc2", {h, 4 * h});
    return b;
  }

  TrackHead track_head(const ModelConfig& c) {
    TrackHead th;
    th.feature_extractor = dpt(kTrackHead + ".feature_extractor", c, 0);
    const std::string t = kTrackHead + ".tracker", u = t + ".updateformer";
    const int64_t C = c.track_features, D = 3 * C + 4, h = c.track_hidden;
    const int64_t win = 2 * c.track_corr_radius + 1, corr = static_cast<int64_t>(c.track_corr_levels) * win * win;
    Tracker& k = th.tracker;
    k.query_ref_token = tensor(t + ".query_ref_token", {1, 2, D});
    k.corr_fc1 = affine(t + ".corr_mlp.fc1", {h, corr});
    k.corr_fc2 = affine(t + ".corr_mlp.fc2", {C, h});
    k.virtual_tracks = tensor(u + ".virual_tracks", {1, c.track_virtual, 1, h});  // sic: the official name
    k.input_norm = affine(u + ".input_norm", {D});
    k.input_transform = affine(u + ".input_transform", {h, D});
    k.output_norm = affine(u + ".output_norm", {h});
    k.flow_head = affine(u + ".flow_head", {C + 2, h});
    for (int i = 0; i < c.track_depth; ++i) k.time_blocks.push_back(track_block(at(u + ".time_blocks", i), h, false));
    for (int i = 0; i < c.track_depth; ++i)
      k.space_virtual_blocks.push_back(track_block(at(u + ".space_virtual_blocks", i), h, false));
    for (int i = 0; i < c.track_depth; ++i)
      k.space_point2virtual_blocks.push_back(track_block(at(u + ".space_point2virtual_blocks", i), h, true));
    for (int i = 0; i < c.track_depth; ++i)
      k.space_virtual2point_blocks.push_back(track_block(at(u + ".space_virtual2point_blocks", i), h, true));
    k.fmap_norm = affine(t + ".fmap_norm", {C});
    k.ffeat_norm = affine(t + ".ffeat_norm", {C});
    k.ffeat_updater = affine(t + ".ffeat_updater.0", {C, C});
    k.vis_predictor = affine(t + ".vis_predictor.0", {1, C});
    if (c.track_predict_conf) k.conf_predictor = affine(t + ".conf_predictor.0", {1, C});
    return th;
  }

 private:
  std::vector<ParamSpec>& all_;
};

}  // namespace

Model table(const ModelConfig& c) {
  Model m;
  Builder b(m.all);
  m.aggregator = b.aggregator(c);
  m.camera_head = b.camera_head(c);
  m.point_head = b.dpt("point_head", c, 4);
  m.depth_head = b.dpt("depth_head", c, 2);
  if (c.track_enabled) m.track_head = b.track_head(c);
  return m;
}

bool is_track_head(const std::string& name) {
  return name.size() > kTrackHead.size() && name.compare(0, kTrackHead.size(), kTrackHead) == 0 &&
         name[kTrackHead.size()] == '.';
}

}  // namespace params

std::vector<ParamSpec> expected_params(const ModelConfig& cfg) { return params::table(cfg).all; }

}  // namespace vggt

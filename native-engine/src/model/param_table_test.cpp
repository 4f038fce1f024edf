// The parameter table is the one place tensor names are spelled: the modules read exactly its
// entries (through their typed records), and no model source outside it spells a name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "io/checkpoint.h"
#include "model/param_table.h"
#include "model/vggt_model.h"
#include "model/weights.h"
#include "testing/golden.h"

namespace vggt {
namespace {

std::set<std::string> names_of(const std::vector<ParamSpec>& specs) {
  std::set<std::string> s;
  for (auto& p : specs) s.insert(p.name);
  return s;
}

// What a model built on `ws` has read minus what a module asked for: empty both ways when the
// modules read every table entry except the documented one (mask_token: unused at inference).
void expect_modules_read_the_table(const WeightStore& ws, const std::set<std::string>& table, const std::string& what) {
  const std::set<std::string> asked = ws.asked();
  std::set<std::string> unread;
  for (auto& n : table)
    if (!asked.count(n)) unread.insert(n);
  EXPECT_EQ(unread, (std::set<std::string>{"aggregator.patch_embed.mask_token"})) << what;
  for (auto& n : asked) EXPECT_TRUE(table.count(n)) << what << ": a module read " << n << ", not in the table";
}

ModelConfig small_config(bool track, bool registers_and_qk, bool predict_conf) {
  ModelConfig c = ModelConfig::from_json_text(
      R"({"embed_dim": 32, "depth": 2, "num_heads": 4, "encoder": {"depth": 2, "num_heads": 4},
          "camera": {"trunk_depth": 1, "num_heads": 4}, "dpt": {"features": 16, "out_channels": [8, 16, 32, 32],
          "intermediate_layer_idx": [0, 0, 1, 1]},
          "track": {"features": 16, "iters": 1, "corr_levels": 2, "corr_radius": 1, "hidden_size": 32, "depth": 2}})",
      "inline");
  c.track_enabled = track;
  c.track_predict_conf = predict_conf;
  if (!registers_and_qk) c.num_register_tokens = 0, c.qk_norm = false;
  return c;
}

TEST(ParamTable, ModulesReadEveryEntryOfTheGoldenCheckpoints) {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  for (const char* c : {"tiny-2f", "tiny-3f-portrait", "tiny-track-2f"}) {
    const std::string dir = shared + "/goldens/" + c;
    const ModelConfig cfg = ModelConfig::from_json_file(dir + "/config.json");
    auto model = VggtModel::load(dir + "/weights.safetensors", cfg, {});
    // The official checkpoint's names are the table's ...
    auto reader = io::CheckpointReader::open(dir + "/weights.safetensors");
    std::set<std::string> file;
    for (auto& t : reader->tensors()) file.insert(t.name);
    EXPECT_EQ(file, names_of(expected_params(model->config()))) << c;
    // ... and the modules read all of them.
    expect_modules_read_the_table(model->weight_store(), file, c);
    if (std::string(c) == "tiny-track-2f") EXPECT_TRUE(model->has_track_head());
  }
}

TEST(ParamTable, ModulesReadEveryEntryOfEveryOptionalPart) {
  // Register tokens and QK-norm off, the track head with and without its confidence predictor.
  for (auto [track, reg_qk, conf] : {std::tuple{true, true, true}, {true, false, false}, {false, false, true}}) {
    const ModelConfig cfg = small_config(track, reg_qk, conf);
    auto model = VggtModel::random(cfg, 3, {});
    const std::string what = std::string("track ") + (track ? "on" : "off") + ", registers+qk " + (reg_qk ? "on" : "off") +
                             ", conf " + (conf ? "on" : "off");
    expect_modules_read_the_table(model->weight_store(), names_of(expected_params(cfg)), what);
    const std::set<std::string> t = names_of(expected_params(cfg));
    EXPECT_EQ(t.count("aggregator.patch_embed.register_tokens"), reg_qk ? 1u : 0u) << what;
    EXPECT_EQ(t.count("aggregator.frame_blocks.0.attn.q_norm.weight"), reg_qk ? 1u : 0u) << what;
    EXPECT_EQ(t.count("track_head.tracker.conf_predictor.0.weight"), track && conf ? 1u : 0u) << what;
  }
}

TEST(ParamTable, RecordsHoldTheListedEntries) {
  const ModelConfig cfg = ModelConfig::vggt_1b();
  const params::Model m = params::table(cfg);
  EXPECT_EQ(m.all.size(), 1797u);
  EXPECT_EQ(m.aggregator.patch_embed.blocks.size(), 24u);
  EXPECT_EQ(m.aggregator.global_blocks[23].fc2.weight.name, "aggregator.global_blocks.23.mlp.fc2.weight");
  EXPECT_EQ(m.aggregator.global_blocks[23].fc2.weight.shape, (std::vector<int64_t>{1024, 4096}));
  EXPECT_EQ(m.camera_head.modulation.weight.name, "camera_head.poseLN_modulation.1.weight");
  EXPECT_FALSE(m.depth_head.refinenet[3].unit1_conv1.has_value());
  EXPECT_EQ(m.depth_head.output_conv2_2->weight.shape[0], 2);
  EXPECT_EQ(m.point_head.output_conv2_2->weight.shape[0], 4);
  ASSERT_TRUE(m.track_head.has_value());
  EXPECT_FALSE(m.track_head->feature_extractor.output_conv2_0.has_value());
  EXPECT_EQ(m.track_head->tracker.virtual_tracks.name, "track_head.tracker.updateformer.virual_tracks");
  EXPECT_TRUE(m.track_head->tracker.space_point2virtual_blocks[0].norm_context.has_value());
  EXPECT_FALSE(m.track_head->tracker.time_blocks[0].norm_context.has_value());
  EXPECT_TRUE(params::is_track_head(m.track_head->tracker.fmap_norm.weight.name));
  EXPECT_FALSE(params::is_track_head("track_headless.weight"));
  // Converted caches store the 4 Linears of the encoder's and aggregator's 72 blocks.
  int convertible = 0, fc2 = 0;
  for (auto& p : m.all) {
    convertible += p.convertible;
    fc2 += p.mlp_fc2;
    if (p.mlp_fc2) EXPECT_TRUE(p.convertible) << p.name;
    if (p.convertible) {
      EXPECT_EQ(p.shape.size(), 2u) << p.name;
      EXPECT_EQ(p.name.rfind("aggregator.", 0), 0u) << p.name;
    }
  }
  EXPECT_EQ(convertible, 4 * (24 + 2 * 24));
  EXPECT_EQ(fc2, 24 + 2 * 24);
  EXPECT_FALSE(m.camera_head.trunk[0].qkv.weight.convertible);
}

// Quoted strings of C++ source, comments and #include lines left out.
std::vector<std::string> string_literals(const std::string& source) {
  std::vector<std::string> out;
  std::istringstream in(source);
  static const std::regex lit(R"re("((?:[^"\\]|\\.)*)")re");
  for (std::string line; std::getline(in, line);) {
    if (line.find("#include") != std::string::npos) continue;
    // Cut a // comment that is not inside a string.
    bool quoted = false;
    for (size_t i = 0; i + 1 < line.size(); ++i) {
      if (line[i] == '\\') { ++i; continue; }
      if (line[i] == '"') quoted = !quoted;
      if (!quoted && line[i] == '/' && line[i + 1] == '/') { line.resize(i); break; }
    }
    for (std::sregex_iterator it(line.begin(), line.end(), lit), end; it != end; ++it) out.push_back((*it)[1]);
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A literal that spells (part of) a tensor name: a ".weight"-like leaf, or a dotted piece of
// a table name. Bare words ("camera_head" as a stage name) are not names.
bool spells_a_tensor_name(const std::string& literal, const std::vector<std::string>& names) {
  for (const char* leaf : {".weight", ".bias", ".gamma", "_weight", "_bias"})
    if (ends_with(literal, leaf)) return true;
  if (literal.find('.') == std::string::npos || literal.find_first_not_of('.') == std::string::npos) return false;
  for (auto& n : names)
    if (("." + n + ".").find(literal) != std::string::npos) return true;
  return false;
}

TEST(ParamTable, NameCheckCatchesASpelledName) {
  std::vector<std::string> names;
  for (auto& p : expected_params(ModelConfig::vggt_1b())) names.push_back(p.name);
  const auto lits = string_literals(
      "  norm = LayerNorm(ws, p + \".norm1\", 1e-5f);  // \"a comment.weight\"\n"
      "  x = ws.get(\"aggregator.camera_token\");\n"
      "  y = ws.get(t + \".conf_predictor.0\");\n"
      "  z = ws.get(t + \".scratch.layer\" + k + \"_rn.weight\");\n"
      "  timed(\"aggregator.frame_attention\", \"camera_head\", \"debug.pose_enc_iter\");\n");
  std::vector<std::string> hits;
  for (auto& l : lits)
    if (spells_a_tensor_name(l, names)) hits.push_back(l);
  EXPECT_EQ(hits, (std::vector<std::string>{".norm1", "aggregator.camera_token", ".conf_predictor.0", ".scratch.layer",
                                            "_rn.weight"}));
}

TEST(ParamTable, ModelSourcesSpellNoTensorNamesOutsideTheTable) {
  std::vector<std::string> names;
  for (auto& p : expected_params(ModelConfig::vggt_1b())) names.push_back(p.name);
  const std::filesystem::path dir = std::filesystem::path(VGGT_SOURCE_DIR) / "src" / "model";
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string f = entry.path().filename().string();
    // The table itself, and the store, which gives random weights their values by a name's
    // leaf (".weight", ".bias", ".gamma") and stores an int8 weight's scales as "<name>_scale".
    if (ends_with(f, "_test.cpp") || f.rfind("param_table.", 0) == 0 || f.rfind("weights.", 0) == 0) continue;
    if (!ends_with(f, ".cpp") && !ends_with(f, ".h")) continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    ++files;
    for (auto& l : string_literals(text.str()))
      EXPECT_FALSE(spells_a_tensor_name(l, names)) << f << " spells a tensor name: \"" << l
                                                   << "\" (take it from model/param_table.h)";
  }
  EXPECT_GE(files, 20) << dir;
}

}  // namespace
}  // namespace vggt

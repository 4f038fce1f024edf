// The engine's parameter list against the official VGGT-1B state dict (all 1797 tensors).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/weights.h"
#include "testing/golden.h"

namespace vggt {
namespace {

TEST(Weights, ExpectedParamsMatchOfficialVggt1B) {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  std::ifstream f(shared + "/goldens/vggt-1b-params.json");
  auto j = nlohmann::json::parse(f);
  std::map<std::string, std::vector<int64_t>> official;
  for (auto& [name, v] : j["tensors"].items())
    if (name.rfind("track_head.", 0) != 0) official[name] = v["shape"].get<std::vector<int64_t>>();
  auto mine = expected_params(ModelConfig::vggt_1b());
  EXPECT_EQ(mine.size(), official.size());
  for (auto& p : mine) {
    ASSERT_TRUE(official.count(p.name)) << "engine expects a tensor the official model lacks: " << p.name;
    EXPECT_EQ(p.shape, official[p.name]) << p.name;
  }
  EXPECT_EQ(j["num_tensors"].get<int>(), 1797);
}

TEST(Weights, RandomWeightsAreDeterministic) {
  ModelConfig c = ModelConfig::from_json_text(
      R"({"embed_dim": 64, "depth": 2, "num_heads": 4, "encoder": {"depth": 1, "num_heads": 4},
          "camera": {"trunk_depth": 1, "num_heads": 4}, "dpt": {"features": 16, "out_channels": [8, 16, 32, 64],
          "intermediate_layer_idx": [0, 0, 1, 1]}})",
      "inline");
  auto a = WeightStore::random(c, 5), b = WeightStore::random(c, 5), other = WeightStore::random(c, 6);
  const Tensor& wa = a->get("aggregator.frame_blocks.1.attn.qkv.weight");
  const Tensor& wb = b->get("aggregator.frame_blocks.1.attn.qkv.weight");
  const Tensor& wo = other->get("aggregator.frame_blocks.1.attn.qkv.weight");
  bool same = true, differs = false;
  for (int64_t i = 0; i < wa.numel(); ++i) {
    same &= wa[i] == wb[i];
    differs |= wa[i] != wo[i];
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
}

TEST(Config, BadConfigNamesTheFile) {
  try {
    ModelConfig::from_json_text(R"({"embed_dim": 100, "num_heads": 16})", "my-config.json");
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("my-config.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ModelConfig::from_json_text("{not json", "x.json"), std::runtime_error);
}

}  // namespace
}  // namespace vggt

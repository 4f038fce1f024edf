// The engine's parameter list against the official VGGT-1B state dict (all 1797 tensors).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
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
  int64_t official_params = 0;
  for (auto& [name, v] : j["tensors"].items()) {
    official[name] = v["shape"].get<std::vector<int64_t>>();
    // The engine holds every parameter as float32, as the official state dict stores them.
    EXPECT_EQ(v["dtype"].get<std::string>(), "float32") << name;
    int64_t n = 1;
    for (int64_t d : official[name]) n *= d;
    official_params += n;
  }
  ASSERT_EQ(official.size(), 1797u);
  ASSERT_EQ(j["num_tensors"].get<int>(), 1797);
  auto mine = expected_params(ModelConfig::vggt_1b());
  EXPECT_EQ(mine.size(), official.size());
  std::set<std::string> seen;
  int64_t my_params = 0;
  for (auto& p : mine) {
    EXPECT_TRUE(seen.insert(p.name).second) << "listed twice: " << p.name;
    ASSERT_TRUE(official.count(p.name)) << "engine expects a tensor the official model lacks: " << p.name;
    EXPECT_EQ(p.shape, official[p.name]) << p.name;
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    my_params += n;
  }
  EXPECT_EQ(my_params, official_params);
  EXPECT_EQ(my_params, j["num_params"].get<int64_t>());
  // Random full-size weights (bench mode) follow this list: vggt_model_fullsize_test checks their size.
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

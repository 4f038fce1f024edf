// Converted-weights caches (vggt-engine convert): a bf16 or int8 cache loads as stored and
// gives exactly what converting the float32 checkpoint at load time gives.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "model/vggt_model.h"
#include "model/weights.h"
#include "testing/golden.h"

namespace fs = std::filesystem;

namespace vggt {
namespace {

TEST(ConvertedCache, Bf16AndInt8LoadWithoutConvertingAgain) {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  const std::string dir = shared + "/goldens/tiny-2f";
  const ModelConfig cfg = ModelConfig::from_json_file(dir + "/config.json");
  const fs::path tmp = fs::temp_directory_path() / ("vggt-convert-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  auto src = WeightStore::load(dir + "/weights.safetensors", cfg);
  const Tensor images = testing::load_tensor(dir + "/input.safetensors", "images");
  for (const char* to : {"bf16", "int8"}) {
    const std::string out = (tmp / (std::string(to) + ".safetensors")).string();
    write_converted(*src, cfg, to, out, {});
    EXPECT_LT(fs::file_size(out), fs::file_size(dir + "/weights.safetensors"));
    auto r = io::CheckpointReader::open(out);
    EXPECT_EQ(r->metadata().at("vggt_converted"), to);
    const io::TensorInfo* w = r->find("aggregator.global_blocks.1.mlp.fc1.weight");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->dtype, std::string(to) == "bf16" ? io::DType::BF16 : io::DType::I8);

    const EngineOptions opts = parse_option_list(std::string(to) == "bf16" ? "bf16" : "w8a8", 0);
    auto from_cache = VggtModel::load(out, cfg, opts);
    auto from_f32 = VggtModel::load(dir + "/weights.safetensors", cfg, opts);
    Predictions a = from_cache->forward(images), b = from_f32->forward(images);
    for (int64_t i = 0; i < a.depth.numel(); ++i) ASSERT_EQ(a.depth[i], b.depth[i]) << to << " at " << i;
    for (int64_t i = 0; i < a.pose_enc.numel(); ++i) ASSERT_EQ(a.pose_enc[i], b.pose_enc[i]) << to;
    EXPECT_LT(from_cache->weight_bytes(), from_f32->weight_bytes() + 1) << to;
    // A float32 run of the cache dequantises on demand and stays near the reference.
    from_cache->set_options({});
    Predictions c = from_cache->forward(images);
    auto d = testing::compare(c.depth, testing::load_tensor(dir + "/expected.safetensors", "depth"));
    EXPECT_LT(d.rms_rel, 1e-2) << to;
  }
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace vggt

// Converted-weights caches (vggt-engine convert): a bf16 or int8 cache loads as stored and
// gives exactly what converting the float32 checkpoint at load time gives.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/accuracy.h"
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
    Int8Format fmt;  // the default's: with residual weights
    fmt.residual = true;
    write_converted(*src, cfg, to, out, {}, fmt);
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

// Rewrites `in` to `out` with the metadata `edit` leaves (an int8 cache as older engines wrote it).
template <class Edit>
void rewrite_metadata(const std::string& in, const std::string& out, Edit edit) {
  auto r = io::CheckpointReader::open(in);
  std::vector<io::TensorToWrite> entries;
  for (auto& t : r->tensors()) entries.push_back({t.name, t.dtype, t.shape, t.data, t.nbytes});
  std::map<std::string, std::string> meta = r->metadata();
  edit(meta);
  io::write_safetensors(out, entries, meta);
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return abs_error(a, b).max; }

TEST(ConvertedCache, Int8ScopeAndRotationAreRecordedAndNeverMisread) {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  const std::string dir = shared + "/goldens/tiny-2f", f32 = dir + "/weights.safetensors";
  const ModelConfig cfg = ModelConfig::from_json_file(dir + "/config.json");
  const fs::path tmp = fs::temp_directory_path() / ("vggt-convert-int8-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  auto src = WeightStore::load(f32, cfg);
  const Tensor images = testing::load_tensor(dir + "/input.safetensors", "images");
  const std::string fc2 = "aggregator.frame_blocks.0.mlp.fc2.weight", fc1 = "aggregator.frame_blocks.0.mlp.fc1.weight";

  // fc2 scope + Hadamard: fc2 int8 (rotated), the other Linears bf16, metadata says so.
  const std::string rot = (tmp / "fc2-hadamard.safetensors").string();
  write_converted(*src, cfg, "int8", rot, {}, Int8Format{true, true});
  {
    auto r = io::CheckpointReader::open(rot);
    EXPECT_EQ(r->metadata().at("vggt_int8_scope"), "fc2");
    EXPECT_EQ(r->metadata().at("vggt_int8_rotation"), "hadamard");
    EXPECT_EQ(r->find(fc2)->dtype, io::DType::I8);
    EXPECT_EQ(r->find(fc1)->dtype, io::DType::BF16);
    // The float view un-rotates: within int8 weight rounding of the checkpoint's values
    // (|dW| <= scale/2 per element, rotated back: rms error ~ scale/sqrt(12)).
    auto ws = WeightStore::load(rot, cfg);
    EXPECT_TRUE(ws->int8_rotated(fc2));
    const Tensor& w = ws->get(fc2);
    const Tensor& w0 = src->get(fc2);
    double amax = 0;
    for (int64_t i = 0; i < w0.numel(); ++i) amax = std::max(amax, std::fabs(double{w0[i]}));
    EXPECT_LT(abs_error(w, w0).rms, amax / 127);
    EXPECT_GT(abs_error(w, w0).rms, 0);
  }
  // Loaded as stored by the matching run: identical to converting the float checkpoint at load.
  const char* match = "bf16,w8a8=fc2,w8a8.outliers=hadamard,w8a8.residual=none";  // bf16: the cache's bf16 Linears as stored
  auto from_cache = VggtModel::load(rot, cfg, parse_option_list(match, 0));
  auto from_f32 = VggtModel::load(f32, cfg, parse_option_list(match, 0));
  Predictions a = from_cache->forward(images), b = from_f32->forward(images);
  for (int64_t i = 0; i < a.pose_enc.numel(); ++i) ASSERT_EQ(a.pose_enc[i], b.pose_enc[i]);
  // Some of the fc1/qkv/proj bf16 weights come from the cache too: the same bf16 values.
  for (int64_t i = 0; i < a.depth.numel(); ++i) ASSERT_EQ(a.depth[i], b.depth[i]);

  // A run without rotation on the rotated cache: un-rotated and re-quantised, not misread (a
  // misread would leave the outputs O(1) away); compared with the same options from float32.
  from_cache->set_options(parse_option_list("w8a8=all-linears,w8a8.outliers=none,w8a8.residual=none", 0));
  from_f32->set_options(parse_option_list("w8a8=all-linears,w8a8.outliers=none,w8a8.residual=none", 0));
  Predictions c = from_cache->forward(images), d = from_f32->forward(images);
  Accuracy acc = compare_outputs(c.depth, d.depth, c.world_points, d.world_points, c.extrinsic, d.extrinsic);
  std::printf("[ measured ] rotated cache run unrotated vs float32: depth %.2e points %.2e rotation %.3f deg\n",
              acc.depth_rel, acc.points_rel, acc.rotation_deg);
  EXPECT_LT(acc.depth_rel, 1e-2);
  EXPECT_LT(acc.points_rel, 3e-2);

  // An int8 cache from before scope/rotation existed (no metadata): all-linears, unrotated.
  const std::string plain = (tmp / "plain.safetensors").string(), legacy = (tmp / "legacy.safetensors").string();
  write_converted(*src, cfg, "int8", plain, {}, Int8Format{false, false});
  rewrite_metadata(plain, legacy, [](auto& m) {
    m.erase("vggt_int8_scope");
    m.erase("vggt_int8_rotation");
  });
  {
    auto ws = WeightStore::load(legacy, cfg);
    EXPECT_FALSE(ws->int8_format().fc2_only);
    EXPECT_FALSE(ws->int8_rotated(fc2));
    EXPECT_EQ(ws->converted(fc1)->dtype, io::DType::I8);
  }
  const char* old = "w8a8=all-linears,w8a8.outliers=none,w8a8.residual=none";
  auto from_legacy = VggtModel::load(legacy, cfg, parse_option_list(old, 0));
  from_f32->set_options(parse_option_list(old, 0));
  Predictions e = from_legacy->forward(images), f = from_f32->forward(images);
  for (int64_t i = 0; i < e.depth.numel(); ++i) ASSERT_EQ(e.depth[i], f.depth[i]);
  // ...and the Hadamard run on it rotates the dequantised weights itself.
  from_legacy->set_options(parse_option_list("w8a8.outliers=hadamard,w8a8.residual=none", 0));
  from_f32->set_options(parse_option_list("w8a8.outliers=hadamard,w8a8.residual=none", 0));
  Predictions g = from_legacy->forward(images), h = from_f32->forward(images);
  EXPECT_LT(compare_outputs(g.depth, h.depth, g.world_points, h.world_points, g.extrinsic, h.extrinsic).depth_rel, 1e-2);
  EXPECT_GT(max_abs_diff(g.depth, h.depth), 0);  // re-quantised: not bit-identical, as expected

  // Unknown values are refused with the file named.
  const std::string bad = (tmp / "bad.safetensors").string();
  rewrite_metadata(plain, bad, [](auto& m) { m["vggt_int8_rotation"] = "givens"; });
  try {
    WeightStore::load(bad, cfg);
    ADD_FAILURE() << "loaded a cache with an unknown rotation";
  } catch (const std::runtime_error& ex) {
    EXPECT_NE(std::string(ex.what()).find(bad), std::string::npos) << ex.what();
    EXPECT_NE(std::string(ex.what()).find("givens"), std::string::npos) << ex.what();
  }
  fs::remove_all(tmp);
}

TEST(ConvertedCache, Int8ResidualWeightsAreStoredUsedAsStoredAndNeverInvented) {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  const std::string dir = shared + "/goldens/tiny-2f", f32 = dir + "/weights.safetensors";
  const ModelConfig cfg = ModelConfig::from_json_file(dir + "/config.json");
  const fs::path tmp = fs::temp_directory_path() / ("vggt-convert-res-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  auto src = WeightStore::load(f32, cfg);
  const Tensor images = testing::load_tensor(dir + "/input.safetensors", "images");
  const std::string fc2 = "aggregator.frame_blocks.0.mlp.fc2.weight";
  Int8Format fmt;
  fmt.residual = true;
  const std::string res = (tmp / "residual.safetensors").string(), plain = (tmp / "plain.safetensors").string();
  write_converted(*src, cfg, "int8", res, {}, fmt);
  write_converted(*src, cfg, "int8", plain, {}, Int8Format{});
  {
    auto r = io::CheckpointReader::open(res);
    EXPECT_EQ(r->metadata().at("vggt_int8_residual"), "special+mean");
    EXPECT_EQ(r->find(fc2 + "_residual")->dtype, io::DType::I8);
    EXPECT_EQ(r->find(fc2 + "_residual_scale")->dtype, io::DType::F32);
    EXPECT_EQ(io::CheckpointReader::open(plain)->metadata().at("vggt_int8_residual"), "none");
    auto ws = WeightStore::load(res, cfg);
    EXPECT_TRUE(ws->int8_format().residual);
    EXPECT_NE(ws->converted_residual(fc2), nullptr);
    EXPECT_EQ(WeightStore::load(plain, cfg)->converted_residual(fc2), nullptr);
  }
  // The default (residual on) from the residual cache: the stored residual is what the float
  // checkpoint's conversion computes, bit for bit.
  auto from_cache = VggtModel::load(res, cfg, parse_option_list("w8a8", 0));
  auto from_f32 = VggtModel::load(f32, cfg, parse_option_list("w8a8", 0));
  Predictions a = from_cache->forward(images), b = from_f32->forward(images);
  for (int64_t i = 0; i < a.depth.numel(); ++i) ASSERT_EQ(a.depth[i], b.depth[i]);
  for (int64_t i = 0; i < a.pose_enc.numel(); ++i) ASSERT_EQ(a.pose_enc[i], b.pose_enc[i]);
  // A cache without residuals is read as what it is: the run has none (the quantised weights
  // alone cannot give them back), exactly as residual=none from float32. The app's cache keys
  // entries by the residual, so it converts anew rather than use such a file for the default.
  auto from_plain = VggtModel::load(plain, cfg, parse_option_list("w8a8", 0));
  from_f32->set_options(parse_option_list("w8a8.residual=none", 0));
  Predictions c = from_plain->forward(images), d = from_f32->forward(images);
  for (int64_t i = 0; i < c.depth.numel(); ++i) ASSERT_EQ(c.depth[i], d.depth[i]);
  EXPECT_GT(max_abs_diff(a.depth, c.depth), 0);  // the residual changes the outputs
  // Unknown values are refused with the file named.
  const std::string bad = (tmp / "bad.safetensors").string();
  // A residual without its scales is refused, naming the tensor.
  {
    auto r = io::CheckpointReader::open(res);
    std::vector<io::TensorToWrite> entries;
    for (auto& t : r->tensors())
      if (t.name != fc2 + "_residual_scale") entries.push_back({t.name, t.dtype, t.shape, t.data, t.nbytes});
    const std::string partial = (tmp / "partial.safetensors").string();
    io::write_safetensors(partial, entries, r->metadata());
    try {
      WeightStore::load(partial, cfg);
      ADD_FAILURE() << "loaded a residual without its scales";
    } catch (const std::runtime_error& ex) {
      EXPECT_NE(std::string(ex.what()).find(fc2 + "_residual_scale"), std::string::npos) << ex.what();
    }
  }
  rewrite_metadata(res, bad, [](auto& m) { m["vggt_int8_residual"] = "triple"; });
  try {
    WeightStore::load(bad, cfg);
    ADD_FAILURE() << "loaded a cache with an unknown residual";
  } catch (const std::runtime_error& ex) {
    EXPECT_NE(std::string(ex.what()).find(bad), std::string::npos) << ex.what();
    EXPECT_NE(std::string(ex.what()).find("triple"), std::string::npos) << ex.what();
  }
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace vggt

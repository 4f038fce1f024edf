// A run whose Linears use a converted copy (bf16, int8, packed float32) holds no float32 copy
// of them: mapped checkpoint pages go back to the kernel, owned (generated) ones are freed, and a
// later float32 run gets bit-identical weights back from the file or the seed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/vggt_model.h"
#include "model/weights.h"

namespace fs = std::filesystem;

namespace vggt {
namespace {

// Wide enough that each Linear spans many pages (qkv 768 x 256 floats = 192 pages), small
// enough to run in well under a second: 2 frames of 28 x 28.
ModelConfig wide_small_config() {
  return ModelConfig::from_json_text(R"({
    "img_size": 518, "patch_size": 14, "embed_dim": 256, "depth": 4, "num_heads": 4,
    "encoder": {"depth": 2, "num_heads": 4}, "num_register_tokens": 4, "patch_embed": "dinov2_reg",
    "mlp_ratio": 4.0, "rope_freq": 100, "qk_norm": true,
    "camera": {"trunk_depth": 1, "num_heads": 4, "iterations": 2},
    "dpt": {"features": 16, "out_channels": [16, 16, 32, 32], "intermediate_layer_idx": [0, 1, 2, 3]}})",
                                     "wide-small");
}

Tensor test_images() {
  Tensor x({2, 3, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 100.f;
  return x;
}

// Resident bytes of this process's mappings of `path` (/proc/self/smaps "Rss:").
size_t mapped_rss(const std::string& path) {
  const std::string want = fs::canonical(path).string();
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool ours = false;
  size_t kb = 0;
  while (std::getline(in, line)) {
    // A mapping's header line: "start-end perms offset dev inode   pathname".
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') != std::string::npos &&
        line.find(':') > line.find(' ')) {
      ours = line.size() >= want.size() && line.compare(line.size() - want.size(), want.size(), want) == 0;
      continue;
    }
    if (ours && line.rfind("Rss:", 0) == 0) kb += std::stoull(line.substr(4));
  }
  return kb * 1024;
}

size_t convertible_bytes(const ModelConfig& cfg, int* count) {
  size_t n = 0;
  *count = 0;
  for (auto& p : expected_params(cfg))
    if (p.convertible) n += static_cast<size_t>(p.shape[0] * p.shape[1]) * sizeof(float), ++*count;
  return n;
}

void expect_bitwise_equal(const Predictions& a, const Predictions& b, const char* what) {
  ASSERT_EQ(a.depth.numel(), b.depth.numel());
  for (int64_t i = 0; i < a.depth.numel(); ++i) ASSERT_EQ(a.depth[i], b.depth[i]) << what << " depth at " << i;
  for (int64_t i = 0; i < a.world_points.numel(); ++i) ASSERT_EQ(a.world_points[i], b.world_points[i]) << what;
  for (int64_t i = 0; i < a.pose_enc.numel(); ++i) ASSERT_EQ(a.pose_enc[i], b.pose_enc[i]) << what;
}

TEST(WeightRelease, MappedFloat32PagesOfConvertedLinearsLeaveTheProcess) {
  const ModelConfig cfg = wide_small_config();
  const fs::path tmp = fs::temp_directory_path() / ("vggt-release-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const std::string file = (tmp / "f32.safetensors").string();
  write_converted(*WeightStore::random(cfg, 7), cfg, "f32", file, {});
  int n_lin = 0;
  const size_t lin = convertible_bytes(cfg, &n_lin);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const Tensor images = test_images();

  for (const char* opts : {"bf16", "w8a8", "all"}) {
    SCOPED_TRACE(opts);
    auto model = VggtModel::load(file, cfg, {});
    const Predictions exact = model->forward(images);  // reads every float32 weight from the mapping
    const size_t full = mapped_rss(file);
    ASSERT_GE(full, lin) << "the exact run must have the Linears' pages resident, or this test measures nothing";

    model->set_options(parse_option_list(opts, 0));
    // Every page wholly inside a converted Linear is gone (partial pages at its two ends may stay).
    const size_t after = mapped_rss(file);
    EXPECT_LE(after, full - lin + 2 * page * n_lin) << "full " << full << ", Linears " << lin;
    // A converted run reads none of them back: at most the kernel's fault-around (64 KiB) next to
    // the biases and norms that sit between them in the file.
    model->forward(images);
    EXPECT_LE(mapped_rss(file), after + 2 * 65536 * static_cast<size_t>(n_lin));

    // Back to exact: the same float32 weights, faulted in from the file again.
    model->set_options({});
    expect_bitwise_equal(model->forward(images), exact, opts);
  }
  fs::remove_all(tmp);
}

TEST(WeightRelease, GeneratedFloat32OfConvertedLinearsIsFreedAndRegeneratedBitForBit) {
  const ModelConfig cfg = wide_small_config();
  int n_lin = 0;
  const size_t lin = convertible_bytes(cfg, &n_lin);
  size_t total = 0;
  for (auto& p : expected_params(cfg)) {
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    total += static_cast<size_t>(n) * sizeof(float);
  }
  const Tensor images = test_images();
  const Predictions reference = VggtModel::random(cfg, 3, {})->forward(images);

  const size_t before = tensor_bytes_in_use();
  auto model = VggtModel::random(cfg, 3, parse_option_list("bf16", 0));
  model->forward(images);
  // Owned tensors now: the float32 parameters that are not converted Linears, at most (the
  // forward's activations and outputs are freed). Generating every weight would be `total`.
  const size_t held = tensor_bytes_in_use() - before;
  EXPECT_LE(held, total - lin) << "total " << total << ", Linears " << lin;

  model->set_options({});
  expect_bitwise_equal(model->forward(images), reference, "exact after bf16");
  EXPECT_GE(tensor_bytes_in_use() - before, held + lin) << "the exact path holds its float32 weights again";
}

}  // namespace
}  // namespace vggt

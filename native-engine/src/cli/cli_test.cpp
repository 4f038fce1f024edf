// The vggt-engine binary end to end: golden cases through `infer`, and bad input that must
// fail with a message naming the file and the problem (and leave earlier outputs intact).
#include <gtest/gtest.h>

#include <algorithm>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "testing/golden.h"

namespace fs = std::filesystem;

namespace vggt {
namespace {

struct RunResult {
  int code;
  std::string output;
};

RunResult run(const std::string& args) {
  std::string cmd = std::string(VGGT_ENGINE_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared = testing::shared_dir();
    tmp = fs::temp_directory_path() / ("vggt-cli-test-" + std::to_string(getpid()));
    fs::create_directories(tmp);
  }
  void TearDown() override { fs::remove_all(tmp); }
  std::string golden(const std::string& c) { return shared + "/goldens/" + c; }
  std::string shared;
  fs::path tmp;
};

TEST_F(CliTest, InferMatchesEveryGoldenCase) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: CLI golden tests SKIPPED ***";
  for (const char* c : {"tiny-2f", "tiny-1f-518x350", "tiny-3f-portrait"}) {
    const std::string g = golden(c), out = (tmp / (std::string(c) + ".safetensors")).string();
    auto r = run("infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --input-tensor " + g +
                 "/input.safetensors --out " + out + " --quiet --threads 2");
    ASSERT_EQ(r.code, 0) << r.output;
    for (const char* name : {"pose_enc", "depth", "depth_conf", "world_points", "world_points_conf", "extrinsic",
                             "intrinsic", "world_points_from_depth"}) {
      auto d = testing::compare(testing::load_tensor(out, name), testing::load_tensor(g + "/expected.safetensors", name));
      EXPECT_LE(d.max_rel, testing::kMaxRelTol) << c << " " << name;
      EXPECT_LE(d.rms_rel, testing::kRmsRelTol) << c << " " << name;
    }
    auto reader = io::CheckpointReader::open(out);
    EXPECT_EQ(reader->metadata().at("format"), "vggt-engine-output/1");
    EXPECT_EQ(reader->metadata().at("random_weights"), "false");
    ASSERT_NE(reader->find("images"), nullptr);
  }
}

TEST_F(CliTest, InferFromImageFilesWritesFrameMapping) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  const std::string g = golden("tiny-2f"), out = (tmp / "img.safetensors").string();
  const std::string imgs = shared + "/goldens/preprocess-crop/images";
  auto r = run("infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --images " + imgs +
               "/frame_00.png " + imgs + "/frame_01.jpg --preprocess crop --out " + out + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  auto reader = io::CheckpointReader::open(out);
  EXPECT_EQ(reader->find("depth")->shape, (std::vector<int64_t>{2, 392, 518, 1}));
  EXPECT_NE(reader->metadata().at("frames").find("frame_01.jpg"), std::string::npos);
  EXPECT_EQ(reader->metadata().at("preprocess"), "crop");
}

// The golden input holds both `images` and `query_points`: one file serves as both options.
TEST_F(CliTest, InferTracksTheGoldenQueryPoints) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  const std::string g = golden("tiny-track-2f"), out = (tmp / "track.safetensors").string();
  auto r = run("infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --input-tensor " + g +
               "/input.safetensors --query-points " + g + "/input.safetensors --out " + out + " --quiet --threads 2");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string exp = g + "/expected.safetensors";
  const Tensor q = testing::load_tensor(g + "/input.safetensors", "query_points");
  auto dt = testing::compare_track(testing::load_tensor(out, "track"), testing::load_tensor(exp, "track"), q);
  EXPECT_LE(dt.max_rel, testing::kMaxRelTol);
  EXPECT_LE(dt.rms_rel, testing::kRmsRelTol);
  for (const char* name : {"vis", "conf", "depth", "pose_enc"}) {
    auto d = testing::compare(testing::load_tensor(out, name), testing::load_tensor(exp, name));
    EXPECT_LE(d.max_rel, testing::kMaxRelTol) << name;
    EXPECT_LE(d.rms_rel, testing::kRmsRelTol) << name;
  }
  auto reader = io::CheckpointReader::open(out);
  EXPECT_EQ(reader->find("query_points")->shape, (std::vector<int64_t>{16, 2}));
  EXPECT_EQ(reader->find("track_original"), nullptr) << "a tensor input has no original images";
}

// JSON queries in the original image, a grid, and the mapping back to each original image.
TEST_F(CliTest, InferTracksOriginalImageQueriesAndGrid) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  const std::string g = golden("tiny-track-2f"), imgs = shared + "/goldens/preprocess-crop/images";
  const std::string model = "infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --images " +
                            imgs + "/frame_00.png " + imgs + "/frame_01.jpg --quiet --threads 2";
  const auto qf = tmp / "q.json";
  std::ofstream(qf) << "[[10, 20], [100.5, 60.25]]";
  const std::string out = (tmp / "orig.safetensors").string();
  auto r = run(model + " --query-points " + qf.string() + " --query-space original --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor track = testing::load_tensor(out, "track"), orig = testing::load_tensor(out, "track_original");
  ASSERT_EQ(orig.shape(), (std::vector<int64_t>{2, 2, 2}));
  // Frame 0 of the mapped-back track is the clicked point (float32 round trip through the frame mapping).
  EXPECT_NEAR(orig[0], 10, 1e-3);
  EXPECT_NEAR(orig[1], 20, 1e-3);
  EXPECT_NEAR(orig[2], 100.5, 1e-3);
  EXPECT_NEAR(orig[3], 60.25, 1e-3);
  EXPECT_NE(track[0], 10.f) << "the model-input query differs from the original pixel (the image is resized)";

  const std::string grid = (tmp / "grid.safetensors").string();
  r = run(model + " --track-grid 3 --out " + grid);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(testing::load_tensor(grid, "track").shape(), (std::vector<int64_t>{2, 9, 2}));
  EXPECT_EQ(testing::load_tensor(grid, "vis").shape(), (std::vector<int64_t>{2, 9}));
}

TEST_F(CliTest, BadQueryPointsAreRejectedNamingTheFile) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  const std::string g = golden("tiny-track-2f");
  const std::string base = "infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --input-tensor " +
                           g + "/input.safetensors --quiet --out " + (tmp / "o.safetensors").string();
  const auto outside = tmp / "outside.json", notpairs = tmp / "bad.json";
  std::ofstream(outside) << "[[5, 5], [182, 3]]";  // the frame is 182 wide: x <= 181
  std::ofstream(notpairs) << "[[5, 5, 1]]";
  auto r = run(base + " --query-points " + outside.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(outside.string() + ": query point 1 (182"), std::string::npos) << r.output;
  r = run(base + " --query-points " + notpairs.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(notpairs.string() + ": query point 0 is not an [x, y] pair"), std::string::npos) << r.output;
  r = run(base + " --query-points " + outside.string() + " --query-space original");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--query-space original needs --images"), std::string::npos) << r.output;
  r = run(base + " --track-grid 65");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("1 to 64"), std::string::npos) << r.output;
  const std::string g2 = golden("tiny-2f");
  r = run("infer --weights " + g2 + "/weights.safetensors --config " + g2 + "/config.json --input-tensor " + g2 +
          "/input.safetensors --quiet --track-grid 2 --out " + (tmp / "o.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("no track head"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "o.safetensors"));
}

TEST_F(CliTest, CorruptImageAndTextFileNameTheFile) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  const std::string g = golden("tiny-2f");
  const auto bad = tmp / "broken.png", text = tmp / "notes.jpg", out = tmp / "out.safetensors";
  {
    std::ofstream(bad, std::ios::binary) << "\x89PNG\r\n\x1a\n" << std::string(40, '\x01');
    std::ofstream(text) << "just some text, not a picture\n";
    std::ofstream(out) << "earlier result";
  }
  auto r = run("infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --images " +
               bad.string() + " --out " + out.string() + " --quiet");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(bad.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("corrupt or unreadable PNG"), std::string::npos) << r.output;
  r = run("preprocess --images " + text.string() + " --mode crop --out " + out.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(text.string()), std::string::npos) << r.output;
  std::ifstream f(out);
  std::string kept((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(kept, "earlier result") << "a failed run must leave the earlier output intact";
}

TEST_F(CliTest, TruncatedCheckpointIsRejected) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  const std::string g = golden("tiny-2f");
  const auto cut = tmp / "cut.safetensors";
  fs::copy_file(g + "/weights.safetensors", cut);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  auto r = run("infer --weights " + cut.string() + " --config " + g + "/config.json --input-tensor " + g +
               "/input.safetensors --out " + (tmp / "o.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(cut.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "o.safetensors"));
}

TEST_F(CliTest, MisnamedAndMisshapedTensorsAreListed) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  const std::string g = golden("tiny-2f");
  auto src = io::CheckpointReader::open(g + "/weights.safetensors");
  std::vector<io::TensorToWrite> t;
  std::vector<float> odd(7, 0.f);
  for (auto& info : src->tensors()) {
    if (info.name == "camera_head.embed_pose.bias") continue;  // -> missing
    io::TensorToWrite w{info.name, info.dtype, info.shape, info.data, info.nbytes};
    if (info.name == "aggregator.patch_embed.norm.weight") w = {info.name, io::DType::F32, {7}, odd.data(), 28};
    t.push_back(w);
  }
  t.push_back({"decoder.extra.weight", io::DType::F32, {7}, odd.data(), 28});
  const auto bad = (tmp / "bad.safetensors").string();
  io::write_safetensors(bad, t);
  auto r = run("infer --weights " + bad + " --config " + g + "/config.json --input-tensor " + g +
               "/input.safetensors --out " + (tmp / "o.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("missing tensors:\n    camera_head.embed_pose.bias"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unexpected tensors:\n    decoder.extra.weight"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("aggregator.patch_embed.norm.weight: got [7], expected [128]"), std::string::npos) << r.output;
  // The tiny checkpoint against the full-size preset: every shape is wrong, and validate says so.
  r = run("validate --weights " + g + "/weights.safetensors");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.output.find("\"ok\": false"), std::string::npos) << r.output;
}

TEST_F(CliTest, BadInputTensorShapes) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  const std::string g = golden("tiny-2f");
  std::vector<float> px(1 * 3 * 100 * 100, 0.5f);
  const auto in = (tmp / "in.safetensors").string();
  io::write_safetensors(in, {{"images", io::DType::F32, {1, 3, 100, 100}, px.data(), px.size() * 4}});
  auto r = run("infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --input-tensor " + in +
               " --out " + (tmp / "o.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("multiples of 14"), std::string::npos) << r.output;
  io::write_safetensors(in, {{"pixels", io::DType::F32, {1, 3, 14, 14}, px.data(), 3 * 14 * 14 * 4}});
  r = run("infer --weights " + g + "/weights.safetensors --config " + g + "/config.json --input-tensor " + in +
          " --out " + (tmp / "o.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(in + ": no tensor named 'images'"), std::string::npos) << r.output;
}

TEST_F(CliTest, HostileInputTensorsFailCleanly) {
  // A shape whose element count wraps to 588 used to pass the size check and crash (SIGSEGV).
  const auto wrap = (tmp / "wrap.safetensors").string();
  {
    const std::string header =
        R"({"images":{"dtype":"F32","shape":[4611686018427387905,3,14,14],"data_offsets":[0,2352]}})";
    std::ofstream f(wrap, std::ios::binary);
    const uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header << std::string(2352, '\0');
  }
  auto r = run("infer --random-weights --input-tensor " + wrap + " --out " + (tmp / "o.safetensors").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(wrap + ": tensor 'images': shape [4611686018427387905, 3, 14, 14] has more than"),
            std::string::npos)
      << r.output;
  // NaN/Inf input: refused by infer as by serve (one shared check).
  std::vector<float> px(3 * 14 * 14, 0.5f);
  px[5] = std::numeric_limits<float>::infinity();
  const auto in = (tmp / "inf.safetensors").string();
  io::write_safetensors(in, {{"images", io::DType::F32, {1, 3, 14, 14}, px.data(), px.size() * 4}});
  r = run("infer --random-weights --input-tensor " + in + " --out " + (tmp / "o.safetensors").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(in + ": tensor 'images' holds a non-finite value at index 5"), std::string::npos) << r.output;
  // A FIFO as weights used to hang the CLI; /dev/zero as an image to be read without end.
  const auto fifo = (tmp / "model.safetensors").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  r = run("validate --weights " + fifo);
  EXPECT_NE(r.output.find(fifo + ": tensor file is a FIFO (named pipe), not a regular file"), std::string::npos)
      << r.output;
  r = run("preprocess --mode crop --images /dev/zero --out " + (tmp / "p.safetensors").string());
  EXPECT_NE(r.output.find("/dev/zero: image is a character device, not a regular file"), std::string::npos) << r.output;
}

TEST_F(CliTest, NonUtf8FileNamesAreWrittenNotAnInternalError) {
  // File names need not be UTF-8; the frames metadata used to fail with a raw json.exception.
  const auto img = (tmp / "view-\xff\xfe.png").string();
  fs::copy_file(std::string(VGGT_SOURCE_DIR) + "/../assets/sample/view-1.png", img);
  const auto out = (tmp / "p.safetensors").string();
  auto r = run("preprocess --mode crop --images '" + img + "' --out " + out);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("json.exception"), std::string::npos) << r.output;
  auto reader = io::CheckpointReader::open(out);
  EXPECT_NE(reader->metadata().at("frames").find("view-\xef\xbf\xbd"), std::string::npos)  // U+FFFD replaces it
      << reader->metadata().at("frames");
}

TEST_F(CliTest, ThreadCountsAreBounded) {
  for (const char* t : {"-1", "3000"}) {
    auto r = run(std::string("infer --random-weights --images none.png --out o.safetensors --threads ") + t);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find(std::string("--threads must be between 0 (all cores) and 256, got ") + t), std::string::npos)
        << r.output;
    r = run(std::string("bench --threads ") + t);
    EXPECT_NE(r.output.find("--threads must be between 0 (all cores) and 256"), std::string::npos) << r.output;
  }
}

// `bench --scaling` on the tiny golden model with image folders cycled: one row per count with
// the many-frame fields, parameters recorded, frames padded to the largest (room is 392 high).
// Three of the four global layers run as frame attention: the one left dense over 27 frames is
// most of the test's time (under ASan too).
TEST_F(CliTest, BenchScalingCyclesImageFoldersAndReportsPerCount) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  const std::string k = shared + "/datasets/kitchen/images", rm = shared + "/datasets/room/images";
  auto r = run("bench --config " + golden("tiny-2f") + "/config.json --threads 1 --quiet --json --images " + k + "," + rm +
               " --scaling 2,27 --options global-early-frame=3 2>/dev/null");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["kind"], "scaling");
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["frames"], 2);
  EXPECT_EQ(j["rows"][0]["height"], 350);  // kitchen only
  EXPECT_EQ(j["rows"][1]["frames"], 27);
  EXPECT_EQ(j["rows"][1]["height"], 392);  // 25 kitchen + 2 room frames, padded to room's height
  for (const auto& row : j["rows"]) {
    EXPECT_GT(row["global_attention_share"].get<double>(), 0.0);
    EXPECT_LT(row["global_attention_share"].get<double>(), 1.0);
    EXPECT_GT(row["peak_rss_bytes"].get<double>(), 0.0);
    EXPECT_GT(row["peak_bytes"].get<double>(), 0.0);
    EXPECT_EQ(row["option_params"]["global-early-frame"]["k"], 3);
  }
  r = run("bench --scaling 2,x --config " + golden("tiny-2f") + "/config.json");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--scaling: frame counts must be integers in [1, 4096], got 'x'"), std::string::npos) << r.output;
  r = run("bench --options global-block-sparse=2 --config " + golden("tiny-2f") + "/config.json");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("keep must be a number in [0.01, 1], got '2'"), std::string::npos) << r.output;
}

TEST_F(CliTest, BenchMemoryTraceRecordsEveryStepAndKeepsTheRowPeaks) {
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  auto r = run("bench --config " + golden("tiny-2f") + "/config.json --threads 1 --quiet --json --frames 2"
               " --memory-trace 2>/dev/null");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  const auto& row = j["rows"][0];
  const auto& trace = row["memory_trace"];
  // tiny-2f: 3 encoder blocks, 4 aggregator layers (frame + global steps), 4 camera iterations,
  // each DPT head's 2 frames, geometry, and the end of the forward.
  ASSERT_EQ(trace.size(), 3u + 8u + 4u + 2u + 2u + 1u + 1u) << trace.dump();
  EXPECT_EQ(trace[0]["stage"], "encoder");
  EXPECT_EQ(trace[3]["stage"], "aggregator");
  EXPECT_EQ(trace[10]["step"], 8);
  EXPECT_EQ(trace.back()["stage"], "end");
  double rss_max = 0, tensor_max = 0;
  for (const auto& s : trace) {
    EXPECT_GT(s["peak_rss_bytes"].get<double>(), 0.0);
    EXPECT_GT(s["tensor_peak_bytes"].get<double>(), 0.0);
    rss_max = std::max(rss_max, s["peak_rss_bytes"].get<double>());
    tensor_max = std::max(tensor_max, s["tensor_peak_bytes"].get<double>());
  }
  // The trace resets both peaks at every step; the row still reports the peaks of the whole run.
  EXPECT_GE(row["peak_rss_bytes"].get<double>(), rss_max);
  EXPECT_GT(row["peak_bytes"].get<double>(), 0.0);
  EXPECT_LE(row["peak_bytes"].get<double>(), tensor_max);
  EXPECT_GE(j["peak_rss_bytes"].get<double>(), rss_max);
}

TEST_F(CliTest, VersionJsonListsOptionsWithKindAndParameters) {
  auto r = run("version --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  bool found = false;
  for (const auto& o : j["options"])
    if (o["name"] == "global-early-frame") {
      found = true;
      EXPECT_EQ(o["kind"], "lossy");
      EXPECT_EQ(o["params"][0]["name"], "k");
      EXPECT_EQ(o["params"][0]["default"], 8);
    }
  EXPECT_TRUE(found);
}

TEST_F(CliTest, UsageErrors) {
  auto r = run("infer --out x.safetensors");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--weights"), std::string::npos);
  r = run("frobnicate");
  EXPECT_EQ(r.code, 2);
  r = run("infer --random-weights --input-tensor a --images b --out c");
  EXPECT_NE(r.output.find("exactly one of"), std::string::npos);
}

}  // namespace
}  // namespace vggt

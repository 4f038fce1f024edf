// The full VGGT-1B architecture (random weights: speed and memory do not depend on values)
// on 2 frames of 518x350, tracking 3 points: every output has the official shape, is finite, and peak memory
// stays near the size of the weights.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <set>

#include "model/vggt_model.h"
#include "model/weights.h"

namespace vggt {
namespace {

bool all_finite(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t[i])) return false;
  return true;
}

TEST(FullSizeModel, TwoFramesRandomWeights) {
  auto model = VggtModel::random(ModelConfig::vggt_1b(), 7, {});
  EXPECT_EQ(model->weight_bytes(), size_t{1256537516} * 4) << "VGGT-1B, track head included";
  // The modules read every entry of the parameter table (the official state dict: weights_test)
  // through their records, all but DINOv2's mask token, which inference never uses.
  std::set<std::string> unread;
  const std::set<std::string> asked = model->weight_store().asked();
  for (const ParamSpec& p : expected_params(ModelConfig::vggt_1b()))
    if (!asked.count(p.name)) unread.insert(p.name);
  EXPECT_EQ(unread, (std::set<std::string>{"aggregator.patch_embed.mask_token"}));
  EXPECT_EQ(asked.size(), 1796u);
  Tensor images({2, 3, 350, 518});
  for (int64_t i = 0; i < images.numel(); ++i) images[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.f;
  int last_step = 0;
  std::string last_stage;
  RunContext ctx;
  Tensor queries({3, 2});  // a corner, the centre, the far corner of frame 0
  const float qv[6] = {0, 0, 258.5f, 174.5f, 517, 349};
  for (int i = 0; i < 6; ++i) queries[i] = qv[i];
  ctx.track_queries = &queries;
  ctx.on_progress = [&](const ProgressEvent& e) {
    last_stage = e.stage;
    last_step = e.step;
  };
  Predictions p = model->forward(images, ctx);
  EXPECT_EQ(last_stage, "geometry");
  EXPECT_EQ(p.pose_enc.shape(), (std::vector<int64_t>{2, 9}));
  EXPECT_EQ(p.depth.shape(), (std::vector<int64_t>{2, 350, 518, 1}));
  EXPECT_EQ(p.depth_conf.shape(), (std::vector<int64_t>{2, 350, 518}));
  EXPECT_EQ(p.world_points.shape(), (std::vector<int64_t>{2, 350, 518, 3}));
  EXPECT_EQ(p.world_points_conf.shape(), (std::vector<int64_t>{2, 350, 518}));
  EXPECT_EQ(p.extrinsic.shape(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(p.intrinsic.shape(), (std::vector<int64_t>{2, 3, 3}));
  EXPECT_EQ(p.world_points_from_depth.shape(), (std::vector<int64_t>{2, 350, 518, 3}));
  const std::pair<const char*, const Tensor*> outs[] = {
      {"pose_enc", &p.pose_enc},       {"depth", &p.depth},         {"depth_conf", &p.depth_conf},
      {"world_points", &p.world_points}, {"world_points_conf", &p.world_points_conf},
      {"extrinsic", &p.extrinsic},     {"intrinsic", &p.intrinsic}, {"world_points_from_depth", &p.world_points_from_depth}};
  for (auto& [name, t] : outs) EXPECT_TRUE(all_finite(*t)) << name;
  EXPECT_EQ(p.track.shape(), (std::vector<int64_t>{2, 3, 2}));
  EXPECT_EQ(p.vis.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(p.conf.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(all_finite(p.track));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(p.track[i], qv[i]) << "track[0] is the query";
  for (int64_t i = 0; i < p.vis.numel(); ++i) {
    EXPECT_GT(p.vis[i], 0.f);
    EXPECT_LT(p.vis[i], 1.f);
    EXPECT_GT(p.conf[i], 0.f);
    EXPECT_LT(p.conf[i], 1.f);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double peak_gib = ru.ru_maxrss / 1048576.0;
  std::printf("[ memory   ] peak RSS %.2f GiB (weights %.2f GiB)\n", peak_gib, model->weight_bytes() / 1073741824.0);
  EXPECT_LT(peak_gib, 7.5) << "activations for 2 frames should add well under 3 GiB to the 4.7 GiB of weights";
}

}  // namespace
}  // namespace vggt

// The track head against the official implementation (goldens/tiny-track-2f, float64 truth).
// Tolerance (goldens README, track section): vis, conf and the debug tensors: max|o-e| <=
// 1e-3 rms(e) and rms(o-e) <= 1e-4 rms(e); track and debug.track_iter.K relative to the rms
// displacement from the queries, rms(e - q), about 10-50x stricter than relative to rms(e).
// The official float32 run uses 4% / 2% / 2% of it (track / vis / conf).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "cli/model_setup.h"
#include "model/track_head.h"
#include "model/vggt_model.h"
#include "testing/golden.h"

namespace vggt {
namespace {

// Deviation of a track [S, N, 2] relative to the rms displacement of `e` from the queries.
testing::Deviation compare_track(const Tensor& o, const Tensor& e, const Tensor& q) {
  const int64_t N = q.dim(0), S = e.dim(0);
  double disp = 0, err = 0, mx = 0;
  bool finite = true;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < 2 * N; ++i) {
      const double ev = e[s * 2 * N + i], ov = o[s * 2 * N + i], d = ev - q[i];
      disp += d * d;
      err += (ov - ev) * (ov - ev);
      mx = std::max(mx, std::fabs(ov - ev));
      finite &= std::isfinite(ov);
    }
  const double rd = std::sqrt(disp / (S * N * 2));
  return {mx / rd, std::sqrt(err / (S * N * 2)) / rd, finite};
}

struct TrackCase {
  std::string dir;
  Tensor images, queries;
};

TrackCase load_case() {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) return {};
  TrackCase c;
  c.dir = shared + "/goldens/tiny-track-2f";
  c.images = testing::load_tensor(c.dir + "/input.safetensors", "images");
  c.queries = testing::load_tensor(c.dir + "/input.safetensors", "query_points");
  return c;
}

TEST(TrackHeadGolden, MatchesOfficialTrackVisConfAndIntermediates) {
  TrackCase c = load_case();
  if (c.dir.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  auto model = VggtModel::load(c.dir + "/weights.safetensors", ModelConfig::from_json_file(c.dir + "/config.json"), {});
  ASSERT_TRUE(model->has_track_head());
  RunContext ctx;
  ctx.keep_debug = true;
  ctx.track_queries = &c.queries;
  Predictions p = model->forward(c.images, ctx);
  const std::string exp = c.dir + "/expected.safetensors";
  // Debug intermediates first (where a mismatch starts), then the outputs.
  for (const char* name : {"debug.track_feature_maps", "debug.track_query_feats", "debug.track_corr.0"}) {
    auto d = testing::compare(p.debug.at(name), testing::load_tensor(exp, name));
    std::printf("  %-28s max/rms %.2e  rms %.2e\n", name, d.max_rel, d.rms_rel);
    EXPECT_TRUE(d.finite) << name;
    EXPECT_LE(d.max_rel, testing::kMaxRelTol) << name;
    EXPECT_LE(d.rms_rel, testing::kRmsRelTol) << name;
  }
  for (int k = 0; k < model->config().track_iters; ++k) {
    const std::string name = "debug.track_iter." + std::to_string(k);
    auto d = compare_track(p.debug.at(name), testing::load_tensor(exp, name), c.queries);
    std::printf("  %-28s max/disp %.2e  rms/disp %.2e\n", name.c_str(), d.max_rel, d.rms_rel);
    EXPECT_LE(d.max_rel, testing::kMaxRelTol) << name;
    EXPECT_LE(d.rms_rel, testing::kRmsRelTol) << name;
  }
  const Tensor e_track = testing::load_tensor(exp, "track");
  ASSERT_EQ(p.track.shape(), e_track.shape());
  auto dt = compare_track(p.track, e_track, c.queries);
  std::printf("  %-28s max/disp %.2e  rms/disp %.2e\n", "track", dt.max_rel, dt.rms_rel);
  EXPECT_TRUE(dt.finite);
  EXPECT_LE(dt.max_rel, testing::kMaxRelTol);
  EXPECT_LE(dt.rms_rel, testing::kRmsRelTol);
  // track[0] is the query itself, exactly.
  for (int64_t i = 0; i < c.queries.numel(); ++i) EXPECT_EQ(p.track[i], c.queries[i]) << i;
  for (auto [name, t] : {std::pair<const char*, const Tensor*>{"vis", &p.vis}, {"conf", &p.conf}}) {
    auto d = testing::compare(*t, testing::load_tensor(exp, name));
    std::printf("  %-28s max/rms %.2e  rms %.2e\n", name, d.max_rel, d.rms_rel);
    EXPECT_TRUE(d.finite) << name;
    EXPECT_LE(d.max_rel, testing::kMaxRelTol) << name;
    EXPECT_LE(d.rms_rel, testing::kRmsRelTol) << name;
  }
  // The non-track outputs are those of tiny-2f's weights and images, as without the track head.
  for (auto [name, t] : {std::pair<const char*, const Tensor*>{"depth", &p.depth}, {"pose_enc", &p.pose_enc},
                         {"world_points", &p.world_points}}) {
    auto d = testing::compare(*t, testing::load_tensor(exp, name));
    EXPECT_LE(d.max_rel, testing::kMaxRelTol) << name;
    EXPECT_LE(d.rms_rel, testing::kRmsRelTol) << name;
  }
}

// The cached-features path (what the engine server's track request runs) gives the same
// numbers as tracking inside the forward pass: same code, same inputs, bit for bit.
TEST(TrackHeadGolden, CachedFeaturesTrackEqualsForwardTrack) {
  TrackCase c = load_case();
  if (c.dir.empty()) GTEST_SKIP() << "*** ../shared/goldens not found: SKIPPED ***";
  auto model = VggtModel::load(c.dir + "/weights.safetensors", ModelConfig::from_json_file(c.dir + "/config.json"), {});
  RunContext ctx;
  ctx.track_queries = &c.queries;
  ctx.keep_track_features = true;
  Predictions p = model->forward(c.images, ctx);
  ASSERT_TRUE(p.track_features);
  const size_t expect_bytes = 2 * (63 * 91 + 31 * 45 + 15 * 22 + 7 * 11) * 32 * sizeof(float);
  EXPECT_EQ(p.track_features->bytes(), expect_bytes);
  TrackOutputs t = model->track(*p.track_features, c.queries);
  ASSERT_EQ(t.track.numel(), p.track.numel());
  for (int64_t i = 0; i < t.track.numel(); ++i) ASSERT_EQ(t.track[i], p.track[i]) << i;
  for (int64_t i = 0; i < t.vis.numel(); ++i) ASSERT_EQ(t.vis[i], p.vis[i]) << i;
  // A subset of the queries: each track depends on the others only through the virtual tracks,
  // so it changes, but stays a valid, finite track that starts at its query.
  Tensor two = Tensor::view(c.queries.data(), {2, 2});
  TrackOutputs t2 = model->track(*p.track_features, two);
  EXPECT_EQ(t2.track.shape(), (std::vector<int64_t>{2, 2, 2}));
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(t2.track[i], c.queries[i]);
}

TEST(TrackHead, RejectsBadQueryPoints) {
  Tensor q({1, 2});
  q[0] = 181.5f, q[1] = 3;
  EXPECT_THROW(check_query_points(q, 126, 182, "q.json"), std::runtime_error);
  q[0] = 181.f;
  EXPECT_NO_THROW(check_query_points(q, 126, 182, "q.json"));
  q[1] = NAN;
  try {
    check_query_points(q, 126, 182, "q.json");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("q.json: query point 0 is not finite"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_query_points(Tensor({0, 2}), 126, 182, "q"), std::runtime_error);
  EXPECT_THROW(check_query_points(Tensor({kMaxQueryPoints + 1, 2}), 126, 182, "q"), std::runtime_error);
  Tensor g = query_grid(2, 126, 182);
  EXPECT_FLOAT_EQ(g[0], 182 / 4.f - 0.5f);
  EXPECT_FLOAT_EQ(g[1], 126 / 4.f - 0.5f);
  EXPECT_FLOAT_EQ(g[6], 3 * 182 / 4.f - 0.5f);
  EXPECT_FLOAT_EQ(g[7], 3 * 126 / 4.f - 0.5f);
  EXPECT_THROW(query_grid(65, 126, 182), std::runtime_error);
}

}  // namespace
}  // namespace vggt

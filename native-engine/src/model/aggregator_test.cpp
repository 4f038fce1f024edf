// The aggregator's kept layers: float32 storage, bfloat16 storage (bf16 runs) and the per-chunk
// float32 frames the DPT heads read.
#include <gtest/gtest.h>

#include <cmath>

#include "model/parts.h"
#include "testing/small_config.h"

namespace vggt {
namespace {

using testing::small_config;


KeptLayers run(const Aggregator& agg, int64_t S, int64_t hp, int64_t wp, bool bf16, int64_t row_chunk) {
  const int64_t E = 64;
  Tensor patches = Tensor::uninitialized({S, hp * wp, E});
  uint32_t s = 9;
  for (int64_t i = 0; i < patches.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    patches[i] = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) - 0.5f;
  }
  ExecFlags f;
  f.row_chunk = row_chunk;
  return agg.forward(patches, hp, wp, {0, 1}, bf16, [](const std::string&, int, int) {}, nullptr, nullptr, f);
}

TEST(KeptLayers, Bf16StorageRoundsOnlyTheHeadsCopyAndFramesSliceAnyChunk) {
  const ModelConfig cfg = small_config();
  auto ws = WeightStore::random(cfg, 4);
  Aggregator agg(*ws, cfg, params::table(cfg).aggregator);
  const int64_t S = 5, hp = 3, wp = 4, P = 5 + hp * wp, C = 128;
  const KeptLayers f32 = run(agg, S, hp, wp, false, 8192);
  const KeptLayers half = run(agg, S, hp, wp, true, 8192);
  ASSERT_EQ(f32.f32.size(), 2u);
  ASSERT_TRUE(f32.bf16.empty());
  ASSERT_EQ(half.bf16.size(), 2u);
  ASSERT_TRUE(half.f32.empty());
  EXPECT_EQ(f32.S, S);
  EXPECT_EQ(f32.P, P);
  EXPECT_EQ(f32.C, C);
  // The heads' copy takes half the bytes; the camera tokens stay float32 and identical.
  EXPECT_EQ(f32.bytes(), (2 * S * P * C + S * C) * sizeof(float));
  EXPECT_EQ(half.bytes(), 2 * S * P * C * sizeof(uint16_t) + S * C * sizeof(float));
  ASSERT_EQ(half.camera.numel(), S * C);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t c = 0; c < C; ++c) {
      ASSERT_EQ(half.camera[s * C + c], f32.camera[s * C + c]);
      ASSERT_EQ(f32.camera[s * C + c], f32.f32.at(1)[s * P * C + c]);  // last layer, token 0
    }
  // frames(s0, s1): float32 views of the slice, or the bf16 copy within bf16 rounding (unit roundoff
  // 2^-8 relative: 8 significant bits, round to nearest even).
  for (auto [s0, s1] : {std::pair<int64_t, int64_t>{0, 5}, {1, 3}, {4, 5}}) {
    const auto a = f32.frames(s0, s1), b = half.frames(s0, s1);
    for (int layer : {0, 1}) {
      const Tensor& ta = a.at(layer);
      const Tensor& tb = b.at(layer);
      ASSERT_EQ(ta.shape(), (std::vector<int64_t>{s1 - s0, P, C}));
      ASSERT_EQ(tb.shape(), ta.shape());
      EXPECT_EQ(ta.data(), f32.f32.at(layer).data() + s0 * P * C);  // a view, no copy
      double worst = 0;
      for (int64_t i = 0; i < ta.numel(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(tb[i]) - ta[i]) / std::max(1e-30, std::fabs(static_cast<double>(ta[i]))));
      EXPECT_LE(worst, 1.0 / 256 + 1e-7) << "layer " << layer;
      EXPECT_GT(worst, 0.0);  // it is rounded
    }
  }
  // Row chunks inside the blocks do not change the kept layers beyond float rounding.
  const KeptLayers chunked = run(agg, S, hp, wp, false, 5);
  double d = 0;
  for (int layer : {0, 1})
    for (int64_t i = 0; i < S * P * C; ++i)
      d = std::max(d, static_cast<double>(std::fabs(chunked.f32.at(layer)[i] - f32.f32.at(layer)[i])));
  EXPECT_LE(d, 1e-5);
  KeptLayers cleared = f32;
  cleared.clear();
  EXPECT_EQ(cleared.bytes(), 0u);
}

}  // namespace
}  // namespace vggt

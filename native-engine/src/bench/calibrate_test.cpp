// `vggt-engine calibrate`'s document: every candidate present with sane figures, on the machine's
// ISA and on the forced generic fallback. Small token counts keep it fast; no timing asserts.
#include "bench/calibrate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cpu_features.h"
#include "testing/forced_isa.h"

namespace vggt {
namespace {

void expect_sane(const nlohmann::json& r, const char* isa) {
  EXPECT_EQ(r["schema"], "vggt-calibration/1");
  EXPECT_EQ(r["isa"], isa);
  EXPECT_FALSE(r["cpu"].get<std::string>().empty());
  EXPECT_EQ(r["threads"], 2);
  std::set<std::string> presets;
  for (const auto& c : r["candidates"]) {
    presets.insert(c["preset"].get<std::string>());
    if (!c["available"].get<bool>()) {
      // Only a lossy path may be missing, and it says why.
      EXPECT_NE(c["preset"], "fastest-exact") << c.dump();
      EXPECT_FALSE(c["error"].get<std::string>().empty()) << c.dump();
      EXPECT_NE(r["chosen"]["preset"], c["preset"]) << r.dump();
      continue;
    }
    for (const char* op : {"qkv", "attention", "proj", "mlp", "head_conv"}) {
      const double s = c["ops"][op]["cpu_seconds"], w = c["ops"][op]["wall_seconds"], g = c["ops"][op]["gflops"];
      EXPECT_TRUE(s > 0 && std::isfinite(s)) << c.dump();
      EXPECT_TRUE(w > 0 && std::isfinite(w)) << c.dump();
      EXPECT_TRUE(g > 0 && std::isfinite(g)) << c.dump();
    }
    EXPECT_GT(c["predicted_seconds_per_frame"].get<double>(), 0);
    EXPECT_NEAR(c["relative_time"].get<double>() * c["speedup_vs_exact"].get<double>(), 1.0, 1e-12);
    EXPECT_TRUE(c["inside_bound"].get<bool>()) << c.dump();
  }
  EXPECT_EQ(presets, (std::set<std::string>{"fastest-exact", "all", "fastest-int8", "int8-fp32"}));
  for (const auto& c : r["candidates"])
    if (c["preset"] == "fastest-exact") EXPECT_DOUBLE_EQ(c["relative_time"].get<double>(), 1.0);
  EXPECT_TRUE(presets.count(r["chosen"]["preset"].get<std::string>())) << r["chosen"].dump();
  EXPECT_GE(r["chosen"]["speedup_vs_exact"].get<double>(), 1.0);
  EXPECT_FALSE(r["chosen"]["reason"].get<std::string>().empty());
  EXPECT_DOUBLE_EQ(r["bound"]["rotation_deg"].get<double>(), 1.42);
}

TEST(Calibrate, DocumentHasEveryCandidateWithPositiveRates) {
  const nlohmann::json r = run_calibration({2, 64, 1});
  expect_sane(r, isa_level_name(isa_level()));
  // With AVX-512 every candidate's kernels run.
  if (isa_level() == IsaLevel::avx512)
    for (const auto& c : r["candidates"]) EXPECT_TRUE(c["available"].get<bool>()) << c.dump();
  // Which paths ran is reported, not assumed.
  for (const auto& c : r["candidates"]) {
    if (c["preset"] == "fastest-exact") EXPECT_EQ(c["path"], "fp32");
    if (c["preset"] == "all") EXPECT_EQ(c["path"], "bf16");
    if (c["preset"] == "fastest-int8") EXPECT_EQ(c["path"], "int8");
    if (c["preset"] == "int8-fp32") EXPECT_EQ(c["path"], "int8+fp32");
  }
}

TEST(Calibrate, ForcedGenericIsaStillProducesAResult) {
  testing::ForcedIsa forced("generic");
  const nlohmann::json r = run_calibration({2, 64, 1});
  expect_sane(r, "generic");
  for (const auto& c : r["candidates"])
    if (c["available"].get<bool>()) EXPECT_FALSE(c["flash_bf16_native"].get<bool>()) << c.dump();
}

TEST(Calibrate, RefusesOutOfRangeSettings) {
  EXPECT_THROW(run_calibration({2, 4, 1}), std::invalid_argument);
  EXPECT_THROW(run_calibration({2, 64, 0}), std::invalid_argument);
}

}  // namespace
}  // namespace vggt

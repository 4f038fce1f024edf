#include "core/cpu_features.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

namespace vggt {
namespace {

TEST(CpuFeatures, LevelsAreConsistentWithFeatureBits) {
  const CpuFeatures& f = cpu_features();
  if (detected_isa() == IsaLevel::avx512) {
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma);
  }
  if (detected_isa() >= IsaLevel::avx2) {
    EXPECT_TRUE(f.avx2 && f.fma);
  }
  // Sub-features never appear without their base.
  if (f.avx512_bf16 || f.avx512_vnni) {
    EXPECT_TRUE(f.avx512f);
  }
  if (f.amx_bf16 || f.amx_int8) {
    EXPECT_TRUE(f.amx_tile);
  }
  EXPECT_NE(isa_name().find(isa_level_name(isa_level())), std::string::npos);
}

TEST(CpuFeatures, ParseRejectsUnknownNames) {
  EXPECT_EQ(parse_isa_level("generic"), IsaLevel::generic);
  EXPECT_EQ(parse_isa_level("avx2"), IsaLevel::avx2);
  EXPECT_EQ(parse_isa_level("avx512"), IsaLevel::avx512);
  EXPECT_THROW(parse_isa_level("avx-512"), std::invalid_argument);
  EXPECT_THROW(parse_isa_level(""), std::invalid_argument);
}

TEST(CpuFeatures, EnvironmentLowersButNeverRaisesTheLevel) {
  const char* old = std::getenv("VGGT_ISA");
  std::string saved = old ? old : "";
  setenv("VGGT_ISA", "generic", 1);
  reload_isa_from_env();
  EXPECT_EQ(isa_level(), IsaLevel::generic);
  EXPECT_NE(isa_name().find("forced"), std::string::npos);
  setenv("VGGT_ISA", "avx512", 1);
  reload_isa_from_env();
  EXPECT_EQ(isa_level(), detected_isa());  // clamped to the hardware
  setenv("VGGT_ISA", "bogus", 1);
  EXPECT_THROW(reload_isa_from_env(), std::invalid_argument);
  if (old)
    setenv("VGGT_ISA", saved.c_str(), 1);
  else
    unsetenv("VGGT_ISA");
  reload_isa_from_env();
}

}  // namespace
}  // namespace vggt

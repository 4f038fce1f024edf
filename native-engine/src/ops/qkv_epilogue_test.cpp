#include "ops/qkv_epilogue.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "ops/attention.h"
#include "ops/layernorm_fused.h"
#include "ops/rope.h"

namespace vggt::ops {
namespace {

struct ForcedIsa {
  explicit ForcedIsa(const char* name) {
    const char* old = std::getenv("VGGT_ISA");
    had_ = old != nullptr;
    if (old) saved_ = old;
    setenv("VGGT_ISA", name, 1);
    reload_isa_from_env();
  }
  ~ForcedIsa() {
    if (had_)
      setenv("VGGT_ISA", saved_.c_str(), 1);
    else
      unsetenv("VGGT_ISA");
    reload_isa_from_env();
  }
  bool had_ = false;
  std::string saved_;
};

struct Case {
  int64_t B, N, H, D, period;
  bool norm, rope;
};

// The fused epilogue against the separate passes it replaces (split_qkv, layernorm on q and k,
// rope_apply fused on q and k): identical bits, on both LayerNorm kernels.
void check_case(const Case& c) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t T = c.B * c.N, E = c.H * c.D;
  std::vector<float> qkv(T * 3 * E), qw(c.D), qb(c.D), kw(c.D), kb(c.D);
  for (float& x : qkv) x = 3.f * nd(rng) + 0.5f;
  for (auto* v : {&qw, &qb, &kw, &kb})
    for (float& x : *v) x = nd(rng);
  // Tables for the token positions of one frame (specials, then a grid).
  const int64_t special = 5, wp = 7, hp = (c.period - special + wp - 1) / wp;
  std::vector<int32_t> pos = frame_positions(special, hp, wp);
  const RopeTable table = RopeTable::build(c.D / 2, std::max(hp, wp) + 1, 100.f);
  std::vector<float> cs(c.period * c.D), sn(c.period * c.D);
  rope_gather(pos.data(), c.period, table, cs.data(), sn.data());

  const size_t n = static_cast<size_t>(T * E);
  std::vector<float> q0(n), k0(n), v0(n), q1(n, -7.f), k1(n, -7.f), v1(n, -7.f);
  split_qkv(qkv.data(), q0.data(), k0.data(), v0.data(), c.B, c.N, c.H, c.D);
  if (c.norm) {
    layernorm(q0.data(), q0.data(), qw.data(), qb.data(), c.B * c.H * c.N, static_cast<int>(c.D), 1e-5f);
    layernorm(k0.data(), k0.data(), kw.data(), kb.data(), c.B * c.H * c.N, static_cast<int>(c.D), 1e-5f);
  }
  if (c.rope) {
    rope_apply(q0.data(), c.B * c.H, c.N, c.D, cs.data(), sn.data(), c.period, true);
    rope_apply(k0.data(), c.B * c.H, c.N, c.D, cs.data(), sn.data(), c.period, true);
  }
  const HeadNorm qn{qw.data(), qb.data(), 1e-5f}, kn{kw.data(), kb.data(), 1e-5f};
  split_qkv_norm_rope(qkv.data(), q1.data(), k1.data(), v1.data(), c.B, c.N, c.H, c.D, c.norm ? &qn : nullptr,
                      c.norm ? &kn : nullptr, c.rope ? cs.data() : nullptr, c.rope ? sn.data() : nullptr,
                      c.period);
  size_t diff = 0;
  for (size_t i = 0; i < n; ++i) diff += (q0[i] != q1[i]) + (k0[i] != k1[i]) + (v0[i] != v1[i]);
  EXPECT_EQ(diff, 0u) << "B=" << c.B << " N=" << c.N << " norm=" << c.norm << " rope=" << c.rope;
  // The rotation and the norm really ran (a plain split would differ from the reference).
  if (c.norm || c.rope) {
    std::vector<float> qs(n), ks(n), vs(n);
    split_qkv(qkv.data(), qs.data(), ks.data(), vs.data(), c.B, c.N, c.H, c.D);
    EXPECT_NE(qs, q1);
    EXPECT_NE(ks, k1);
    EXPECT_EQ(vs, v1);
  }
}

const Case kCases[] = {
    {2, 40, 3, 64, 40, true, true},    // frame attention: B frames, RoPE period = frame length
    {1, 80, 2, 64, 40, true, true},    // global attention: 2 frames in one sequence
    {1, 33, 4, 32, 33, false, true},   // RoPE only, odd length
    {3, 17, 2, 64, 17, true, false},   // QK-norm only
    {2, 9, 2, 48, 9, false, false},    // the encoder's case: a plain split
};

TEST(QkvEpilogue, MatchesSeparatePassesAvx512) {
  if (detected_isa() < IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  ForcedIsa isa("avx512");
  for (const Case& c : kCases) check_case(c);
}

TEST(QkvEpilogue, MatchesSeparatePassesGeneric) {
  ForcedIsa isa("generic");
  for (const Case& c : kCases) check_case(c);
}

}  // namespace
}  // namespace vggt::ops

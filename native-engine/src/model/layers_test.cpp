// Transformer blocks at many tokens: the row-chunked qkv projection and MLP give the same block
// output as computing every row at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/layers.h"
#include "ops/rope.h"
#include "testing/small_config.h"

namespace vggt {
namespace {

using testing::small_config;

Tensor random_tokens(int64_t rows, int64_t C, uint32_t seed) {
  Tensor x = Tensor::uninitialized({rows, C});
  uint32_t s = seed;
  for (int64_t i = 0; i < x.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    x[i] = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.f - 1.f;
  }
  return x;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  return d;
}

// B sequences of N tokens (B = 1: a global block over every frame; B = 3: frame attention).
void check_row_chunks(LinearMode mode, int64_t B, int64_t N, bool global) {
  const ModelConfig cfg = small_config();
  auto ws = WeightStore::random(cfg, 11);
  TransformerBlock block(*ws, params::table(cfg).aggregator.global_blocks[0], cfg.num_heads, 1e-5f);
  block.set_linear_mode(mode);
  const int64_t C = cfg.embed_dim, D = C / cfg.num_heads, hp = 3, wp = 4, special = 5;
  ASSERT_EQ(N % (special + hp * wp), 0);
  const std::vector<int32_t> frame_pos = ops::frame_positions(special, hp, wp);
  std::vector<int32_t> pos;
  for (int64_t i = 0; i < N / (special + hp * wp); ++i) pos.insert(pos.end(), frame_pos.begin(), frame_pos.end());
  const ops::RopeTable rope = ops::RopeTable::build(D / 2, std::max(hp, wp) + 1, cfg.rope_freq);

  const Tensor x0 = random_tokens(B * N, C, 3);
  Tensor whole = Tensor::uninitialized(x0.shape()), chunked = Tensor::uninitialized(x0.shape());
  std::copy_n(x0.data(), x0.numel(), whole.data());
  std::copy_n(x0.data(), x0.numel(), chunked.data());
  ExecFlags f;
  block.forward(whole, B, N, pos.data(), &rope, nullptr, f, global);
  f.row_chunk = 7;  // not a divisor of the token count, smaller than a frame
  block.forward(chunked, B, N, pos.data(), &rope, nullptr, f, global);
  // Rows are independent in every Linear; a chunk boundary may at most change the GEMM's
  // blocking, i.e. float rounding (the block's outputs are O(1)).
  EXPECT_LE(max_abs_diff(whole, chunked), 1e-5);
  EXPECT_GT(max_abs_diff(whole, x0), 1e-3);  // the block did change x
}

// Frame-local blocks at many frames run a few frames at a time: the same output, and their
// tensors are one chunk's (the block's peak tensor bytes shrink with the chunk).
TEST(TransformerBlockRowChunks, FrameBlocksRunInFrameChunksWithAChunksMemory) {
  const ModelConfig cfg = small_config();
  auto ws = WeightStore::random(cfg, 11);
  TransformerBlock block(*ws, params::table(cfg).aggregator.frame_blocks[0], cfg.num_heads, 1e-5f);
  const int64_t C = cfg.embed_dim, D = C / cfg.num_heads, hp = 3, wp = 4, special = 5, N = special + hp * wp, S = 8;
  const std::vector<int32_t> pos = ops::frame_positions(special, hp, wp);
  const ops::RopeTable rope = ops::RopeTable::build(D / 2, std::max(hp, wp) + 1, cfg.rope_freq);
  const Tensor x0 = random_tokens(S * N, C, 5);
  auto run = [&](int64_t row_chunk, size_t* extra) {
    Tensor x = Tensor::uninitialized(x0.shape());
    std::copy_n(x0.data(), x0.numel(), x.data());
    ExecFlags f;
    f.fused_add_ln = true;
    f.row_chunk = row_chunk;
    const size_t before = tensor_bytes_in_use();
    reset_tensor_bytes_peak();
    block.forward(x, S, N, pos.data(), &rope, nullptr, f, false);
    *extra = tensor_bytes_peak() - before;
    return x;
  };
  size_t whole_extra = 0, chunk_extra = 0;
  const Tensor whole = run(8192, &whole_extra);
  const Tensor chunked = run(2 * N, &chunk_extra);  // 2 frames at a time
  EXPECT_LE(max_abs_diff(whole, chunked), 1e-5);
  EXPECT_GT(max_abs_diff(whole, x0), 1e-3);
  // 2 of 8 frames: a quarter of the activations (plus per-call constants).
  EXPECT_LT(chunk_extra * 3, whole_extra) << chunk_extra << " vs " << whole_extra;
}

TEST(TransformerBlockRowChunks, GlobalFloat32EqualsWhole) { check_row_chunks(LinearMode::F32, 1, 3 * 17, true); }
TEST(TransformerBlockRowChunks, FrameFloat32EqualsWhole) { check_row_chunks(LinearMode::F32, 3, 17, false); }
TEST(TransformerBlockRowChunks, GlobalBf16EqualsWhole) { check_row_chunks(LinearMode::BF16, 1, 3 * 17, true); }

}  // namespace
}  // namespace vggt

#include "core/tensor.h"

#include <gtest/gtest.h>

#include <vector>

namespace vggt {
namespace {

TEST(TensorCache, LargeBlocksAreReusedForTheSameSizeAndCountedOnlyWhileInUse) {
  release_tensor_cache();
  const size_t before = tensor_bytes_in_use();
  const float* first = nullptr;
  {
    Tensor a = Tensor::uninitialized({1 << 20});  // 4 MiB
    first = a.data();
    EXPECT_EQ(tensor_bytes_in_use(), before + (4u << 20));
  }
  EXPECT_EQ(tensor_bytes_in_use(), before);
  EXPECT_EQ(tensor_cache_bytes(), 4u << 20);
  {
    Tensor b = Tensor::uninitialized({1 << 20});  // same size: the cached block
    EXPECT_EQ(b.data(), first);
    EXPECT_EQ(tensor_cache_bytes(), 0u);
    Tensor c = Tensor::uninitialized({(1 << 20) + 16});  // other size: a fresh block
    EXPECT_NE(c.data(), first);
  }
  EXPECT_EQ(tensor_cache_bytes(), (4u << 20) + ((4u << 20) + 64));
  // Zero-initialised tensors stay zero even when they come from the cache.
  { Tensor d = Tensor::uninitialized({1 << 20}); d[0] = 5.f; d[(1 << 20) - 1] = 7.f; }
  Tensor z({1 << 20});
  EXPECT_EQ(z[0], 0.f);
  EXPECT_EQ(z[(1 << 20) - 1], 0.f);
  release_tensor_cache();
  EXPECT_EQ(tensor_cache_bytes(), 0u);
}

// At many frames the frame-chunked blocks leave chunk-sized blocks in the cache, dead while the
// global blocks allocate [all tokens, C] tensors: those must not add the cache to the peak RSS.
TEST(TensorCache, ALargeMissReturnsAsManyCachedBytesToTheOsOldestFirst) {
  release_tensor_cache();
  constexpr int64_t kMiB = (1 << 20) / 4;  // floats per MiB
  std::vector<Tensor> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(Tensor::uninitialized({100 * kMiB}));  // never touched
  const float* newest = blocks[3].data();
  for (auto& b : blocks) b = Tensor();  // given back in order 0..3
  ASSERT_EQ(tensor_cache_bytes(), size_t{400} << 20);
  {
    Tensor small = Tensor::uninitialized({5 * kMiB});  // a small miss keeps the cache
    EXPECT_EQ(tensor_cache_bytes(), size_t{400} << 20);
  }
  EXPECT_EQ(tensor_cache_bytes(), size_t{405} << 20);
  {
    // 260 MiB >= a quarter of the 1 GiB cap: the oldest blocks go until 260 MiB are freed,
    // which takes three of the 100 MiB ones; the 5 MiB block and the newest 100 MiB one stay.
    Tensor big = Tensor::uninitialized({260 * kMiB});
    EXPECT_EQ(tensor_cache_bytes(), size_t{105} << 20);
    Tensor again = Tensor::uninitialized({100 * kMiB});
    EXPECT_EQ(again.data(), newest);
    EXPECT_EQ(tensor_cache_bytes(), size_t{5} << 20);
  }
  release_tensor_cache();
}

TEST(TensorCache, SmallBlocksAreNotCached) {
  release_tensor_cache();
  { Tensor a = Tensor::uninitialized({1000}); }
  EXPECT_EQ(tensor_cache_bytes(), 0u);
}

}  // namespace
}  // namespace vggt

#include "core/tensor.h"

#include <gtest/gtest.h>

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

TEST(TensorCache, SmallBlocksAreNotCached) {
  release_tensor_cache();
  { Tensor a = Tensor::uninitialized({1000}); }
  EXPECT_EQ(tensor_cache_bytes(), 0u);
}

}  // namespace
}  // namespace vggt

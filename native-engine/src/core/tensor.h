// Dense float32 tensor used for activations and (viewed or owned) weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vggt {

class Tensor {
 public:
  Tensor() = default;
  // Owned, zero-initialised, 64-byte aligned (AVX-512 loads).
  explicit Tensor(std::vector<int64_t> shape);
  // Non-owning view over memory that outlives the tensor (mmapped weights).
  static Tensor view(const float* data, std::vector<int64_t> shape);
  static Tensor uninitialized(std::vector<int64_t> shape);

  float* data() { return data_; }
  const float* data() const { return data_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const;
  bool empty() const { return data_ == nullptr; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  // Same storage, new shape (numel must match).
  Tensor reshape(std::vector<int64_t> shape) const;
  Tensor clone() const;
  std::string shape_str() const;

 private:
  std::shared_ptr<float> storage_;
  float* data_ = nullptr;
  std::vector<int64_t> shape_;
};

std::string shape_to_string(const std::vector<int64_t>& shape);

// Bytes held by owned tensors now and at the peak since the last reset (benchmarks report the
// peak of a forward pass: activations and scratch, weights excluded when loaded before the reset).
size_t tensor_bytes_in_use();
size_t tensor_bytes_peak();
void reset_tensor_bytes_peak();

// Large tensor blocks (>= 1 MiB) are kept after they are freed and handed out again for the
// same size: a forward pass allocates the same shapes layer after layer, and a fresh block
// from the OS costs a page fault per 4 KiB on first touch (~10% of a DPT head's time).
// The cache holds at most VGGT_TENSOR_CACHE_MB (default 1024; 0 turns it off) of free blocks;
// they count in the process RSS, not in tensor_bytes_in_use(). A miss of a quarter of that or
// more returns as many cached bytes to the OS, oldest first, so a stage with new shapes (many
// frames' global blocks) does not carry the previous stage's dead blocks into its peak.
size_t tensor_cache_bytes();
void release_tensor_cache();  // returns every cached block to the OS
// The cache and the allocator's free pages (malloc_trim, where glibc) back to the OS: after a
// phase whose blocks are dead — weights converted, images decoded, a job done — so they do not
// sit in the RSS through the next one.
void release_unused_memory();

}  // namespace vggt

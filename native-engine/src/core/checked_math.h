// Checked size arithmetic: every element count, byte size and stride computed from outside
// data goes through these, so a crafted shape cannot wrap around a bounds check.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/limits.h"

namespace vggt {

// Thrown when a size would overflow or exceed a limit; `what()` names the quantity.
struct SizeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline uint64_t checked_mul(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw SizeError(std::string(what) + " overflows 64 bits");
  return r;
}
inline uint64_t checked_add(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw SizeError(std::string(what) + " overflows 64 bits");
  return r;
}

std::string shape_to_string(const std::vector<int64_t>& shape);

// Element count of a shape: every dimension >= 0, rank and product within the limits.
inline int64_t checked_numel(const std::vector<int64_t>& shape,
                             int64_t max_elements = limits::kMaxTensorElements) {
  if (shape.size() > static_cast<size_t>(limits::kMaxTensorRank))
    throw SizeError("shape " + shape_to_string(shape) + " has more than " +
                    std::to_string(limits::kMaxTensorRank) + " dimensions");
  // The product of the non-zero dimensions is bounded too: strides of an empty [0, 2^40, 2^40]
  // tensor would overflow in any code that multiplies trailing dimensions.
  uint64_t n = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) throw SizeError("shape " + shape_to_string(shape) + " has a negative dimension");
    if (d == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n) || n > static_cast<uint64_t>(max_elements))
      throw SizeError("shape " + shape_to_string(shape) + " has more than " + std::to_string(max_elements) +
                      " elements (the limit)");
  }
  return empty ? 0 : static_cast<int64_t>(n);
}

// Bytes of `numel` elements of `elem_size` bytes.
inline size_t checked_bytes(int64_t numel, size_t elem_size) {
  if (numel < 0) throw SizeError("negative element count");
  return static_cast<size_t>(checked_mul(static_cast<uint64_t>(numel), elem_size, "byte size"));
}

}  // namespace vggt

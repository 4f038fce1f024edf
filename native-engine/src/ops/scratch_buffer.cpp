#include "ops/scratch_buffer.h"

#include <cstdlib>
#include <new>

namespace vggt::ops {

void ScratchFree::operator()(void* p) const { std::free(p); }

ScratchBuffer scratch_bytes(size_t bytes) {
  void* p = std::aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
  if (!p) throw std::bad_alloc();
  return ScratchBuffer(p);
}

}  // namespace vggt::ops

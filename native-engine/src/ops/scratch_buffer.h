// 64-byte aligned scratch memory for the kernels' per-call and per-thread work areas.
#pragma once
#include <cstddef>
#include <memory>

namespace vggt::ops {

struct ScratchFree {
  void operator()(void* p) const;
};
using ScratchBuffer = std::unique_ptr<void, ScratchFree>;

// At least `bytes` bytes (never a null buffer for 0), 64-byte aligned; throws std::bad_alloc.
// Defined in a generically compiled file: AVX-512 kernels call it too, and an inline copy
// could be the one the linker keeps for every caller.
ScratchBuffer scratch_bytes(size_t bytes);

// Returns the whole pages inside [p, p + bytes) to the OS: the memory stays allocated (the
// owner frees it as usual) but reads as zero and holds no RSS until written again. For inputs a
// kernel has consumed and will not read again, at sizes where they are gigabytes.
void release_pages(void* p, size_t bytes);

template <class T>
T* scratch_data(const ScratchBuffer& b) {
  return static_cast<T*>(b.get());
}

}  // namespace vggt::ops

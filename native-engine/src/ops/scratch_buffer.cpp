#include "ops/scratch_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace vggt::ops {

void ScratchFree::operator()(void* p) const { std::free(p); }

ScratchBuffer scratch_bytes(size_t bytes) {
  void* p = std::aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
  if (!p) throw std::bad_alloc();
  return ScratchBuffer(p);
}

void release_pages(void* p, size_t bytes) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t b = (a + page - 1) / page * page, e = (a + bytes) / page * page;
  // Advice, not a requirement: where it is refused the pages simply stay resident.
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

}  // namespace vggt::ops

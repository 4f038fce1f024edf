#include "core/tensor.h"

#include "core/checked_math.h"

#ifdef __GLIBC__
#include <malloc.h>  // malloc_trim
#endif

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <list>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>

namespace vggt {

// Shapes are validated where a tensor is made (checked_numel), so numel() cannot wrap.
static int64_t count(const std::vector<int64_t>& shape) { return checked_numel(shape); }

static std::atomic<size_t> g_in_use{0}, g_peak{0};

size_t tensor_bytes_in_use() { return g_in_use.load(); }
size_t tensor_bytes_peak() { return g_peak.load(); }
void reset_tensor_bytes_peak() { g_peak.store(g_in_use.load()); }

namespace {

constexpr size_t kCacheMinBytes = size_t{1} << 20;

size_t cache_limit() {
  static const size_t limit = [] {
    const char* e = std::getenv("VGGT_TENSOR_CACHE_MB");
    return (e && *e ? static_cast<size_t>(std::strtoull(e, nullptr, 10)) : size_t{1024}) << 20;
  }();
  return limit;
}

// Free large blocks by exact size (shapes repeat exactly between layers and passes), oldest first.
struct BlockCache {
  std::mutex mu;
  std::list<std::pair<size_t, void*>> free_blocks;  // in the order they were given back
  size_t bytes = 0;
  ~BlockCache() {
    for (auto& [n, p] : free_blocks) std::free(p);
  }
};
BlockCache& block_cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: tensors may outlive statics
  return *c;
}

void* take_cached(size_t bytes) {
  if (bytes < kCacheMinBytes || cache_limit() == 0) return nullptr;
  BlockCache& c = block_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto it = c.free_blocks.rbegin(); it != c.free_blocks.rend(); ++it) {
    if (it->first != bytes) continue;
    void* p = it->second;
    c.free_blocks.erase(std::next(it).base());
    c.bytes -= bytes;
    return p;
  }
  // A miss this large means the pass moved to a stage with other shapes (at many frames: the
  // global blocks' [all tokens, C] tensors after the frame-chunked blocks). The previous stage's
  // blocks would sit in the RSS beside the new ones, so as many bytes as the new block are
  // returned to the OS, oldest first. Smaller misses keep the cache, whose reuse of the same
  // shapes across passes is what it is for.
  if (bytes >= cache_limit() / 4) {
    size_t freed = 0;
    while (freed < bytes && !c.free_blocks.empty()) {
      auto [n, p] = c.free_blocks.front();
      c.free_blocks.pop_front();
      std::free(p);
      c.bytes -= n;
      freed += n;
    }
  }
  return nullptr;
}

void give_back(void* p, size_t bytes) {
  if (bytes >= kCacheMinBytes) {
    BlockCache& c = block_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + bytes <= cache_limit()) {
      c.free_blocks.emplace_back(bytes, p);
      c.bytes += bytes;
      return;
    }
  }
  std::free(p);
}

}  // namespace

size_t tensor_cache_bytes() {
  BlockCache& c = block_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

void release_tensor_cache() {
  BlockCache& c = block_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [n, p] : c.free_blocks) std::free(p);
  c.free_blocks.clear();
  c.bytes = 0;
}

void release_unused_memory() {
  release_tensor_cache();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

static std::shared_ptr<float> alloc_aligned(int64_t n) {
  size_t bytes = checked_add(checked_bytes(n, sizeof(float)), 63, "tensor byte size") / 64 * 64;
  if (bytes == 0) bytes = 64;
  void* p = take_cached(bytes);
  if (!p) p = std::aligned_alloc(64, bytes);
  if (!p) {
    release_tensor_cache();  // the cache must never be why an allocation fails
    p = std::aligned_alloc(64, bytes);
  }
  if (!p) throw std::bad_alloc();
  const size_t now = g_in_use.fetch_add(bytes) + bytes;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
  return std::shared_ptr<float>(static_cast<float*>(p), [bytes](float* q) {
    g_in_use.fetch_sub(bytes);
    give_back(q, bytes);
  });
}

Tensor Tensor::uninitialized(std::vector<int64_t> shape) {
  Tensor t;
  t.storage_ = alloc_aligned(count(shape));
  t.data_ = t.storage_.get();
  t.shape_ = std::move(shape);
  return t;
}

Tensor::Tensor(std::vector<int64_t> shape) {
  *this = uninitialized(std::move(shape));
  std::memset(data_, 0, sizeof(float) * numel());
}

Tensor Tensor::view(const float* data, std::vector<int64_t> shape) {
  count(shape);
  Tensor t;
  t.data_ = const_cast<float*>(data);
  t.shape_ = std::move(shape);
  return t;
}

int64_t Tensor::numel() const { return count(shape_); }

Tensor Tensor::reshape(std::vector<int64_t> shape) const {
  if (count(shape) != numel())
    throw std::runtime_error("reshape " + shape_str() + " -> " + shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = uninitialized(shape_);
  std::memcpy(t.data_, data_, sizeof(float) * numel());
  return t;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

std::string Tensor::shape_str() const { return shape_to_string(shape_); }

}  // namespace vggt

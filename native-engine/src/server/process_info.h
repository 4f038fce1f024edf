// Process facts reported by the server: memory high-water mark and CPU features.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vggt::server {

struct MemoryUsage {
  uint64_t rss_bytes = 0;       // VmRSS
  uint64_t peak_rss_bytes = 0;  // VmHWM (or getrusage ru_maxrss)
};
MemoryUsage memory_usage();

// Resets the kernel's peak-RSS counter (/proc/self/clear_refs, "5") so the next reading is the
// peak of one job, not of the process. False where the kernel or sandbox refuses.
bool reset_peak_rss();

struct CpuIsa {
  std::string best;                   // "avx512_bf16" | "avx512" | "avx2" | "sse4.2" | "baseline"
  std::vector<std::string> features;  // detected features relevant to the kernels
};
CpuIsa detect_cpu_isa();

}  // namespace vggt::server

// Resident memory of the engine process, for status and per-job peak reports.
#pragma once
#include <cstdint>

namespace vggt::runtime {

struct MemoryUsage {
  uint64_t rss_bytes = 0;       // VmRSS
  uint64_t peak_rss_bytes = 0;  // VmHWM (or getrusage ru_maxrss)
};
MemoryUsage memory_usage();

// Resets the kernel's peak-RSS counter (/proc/self/clear_refs, "5") so the next reading is the
// peak of one job, not of the process. False where the kernel or sandbox refuses.
bool reset_peak_rss();

}  // namespace vggt::runtime

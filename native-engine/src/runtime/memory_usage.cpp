#include "runtime/memory_usage.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

namespace vggt::runtime {

MemoryUsage memory_usage() {
  MemoryUsage m;
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    uint64_t kb = 0;
    if (line.rfind("VmRSS:", 0) == 0 && std::istringstream(line.substr(6)) >> kb) m.rss_bytes = kb * 1024;
    if (line.rfind("VmHWM:", 0) == 0 && std::istringstream(line.substr(6)) >> kb) m.peak_rss_bytes = kb * 1024;
  }
  if (m.peak_rss_bytes == 0) {
    // ru_maxrss cannot be reset, so it is only the fallback.
    struct rusage ru {};
    if (getrusage(RUSAGE_SELF, &ru) == 0) m.peak_rss_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  }
  return m;
}

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

}  // namespace vggt::runtime

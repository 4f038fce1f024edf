#include "testing/peak_rss.h"

#include <cstdlib>
#include <fstream>
#include <string>

namespace vggt::testing {

namespace {
long status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = key;
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::strtol(line.c_str() + k.size(), nullptr, 10);
  return -1;
}
}  // namespace

long peak_rss_kib() { return status_kib("VmHWM:"); }
long rss_kib() { return status_kib("VmRSS:"); }

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

}  // namespace vggt::testing

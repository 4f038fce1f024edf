#include "server/process_info.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

namespace vggt::server {

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

CpuIsa detect_cpu_isa() {
  CpuIsa isa;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  struct Feature { const char* name; bool on; };
  const Feature feats[] = {
      {"sse4.2", static_cast<bool>(__builtin_cpu_supports("sse4.2"))},
      {"avx", static_cast<bool>(__builtin_cpu_supports("avx"))},
      {"avx2", static_cast<bool>(__builtin_cpu_supports("avx2"))},
      {"fma", static_cast<bool>(__builtin_cpu_supports("fma"))},
      {"avx512f", static_cast<bool>(__builtin_cpu_supports("avx512f"))},
      {"avx512bw", static_cast<bool>(__builtin_cpu_supports("avx512bw"))},
      {"avx512vl", static_cast<bool>(__builtin_cpu_supports("avx512vl"))},
      {"avx512dq", static_cast<bool>(__builtin_cpu_supports("avx512dq"))},
      {"avx512_vnni", static_cast<bool>(__builtin_cpu_supports("avx512vnni"))},
      {"avx512_bf16", static_cast<bool>(__builtin_cpu_supports("avx512bf16"))},
  };
  for (const auto& f : feats)
    if (f.on) isa.features.push_back(f.name);
  auto has = [&](const char* n) {
    for (const auto& f : isa.features)
      if (f == n) return true;
    return false;
  };
  bool avx512 = has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq");
  isa.best = avx512 && has("avx512_bf16") ? "avx512_bf16"
             : avx512                     ? "avx512"
             : has("avx2") && has("fma")  ? "avx2"
             : has("sse4.2")              ? "sse4.2"
                                          : "baseline";
#else
  isa.best = "baseline";
#endif
  return isa;
}

}  // namespace vggt::server

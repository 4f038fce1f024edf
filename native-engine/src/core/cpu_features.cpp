#include "core/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include <oneapi/dnnl/dnnl.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define VGGT_X86 1
#endif

namespace vggt {
namespace {

#ifdef VGGT_X86
unsigned long long read_xcr0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef VGGT_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  const bool has_avx = (c >> 28) & 1;
  const bool has_fma = (c >> 12) & 1;
  const bool has_f16c = (c >> 29) & 1;
  if (!osxsave) return f;
  const unsigned long long xcr0 = read_xcr0();
  // The OS must save the wider register files, else using them faults or corrupts state.
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b7, c7, d7);
    unsigned bb, cc, dd;
    __cpuid_count(7, 1, a71, bb, cc, dd);
  }
  f.fma = os_avx && has_avx && has_fma;
  f.f16c = os_avx && has_avx && has_f16c;
  f.avx2 = os_avx && has_avx && ((b7 >> 5) & 1);
  f.avx512f = os_avx512 && ((b7 >> 16) & 1);
  f.avx512dq = f.avx512f && ((b7 >> 17) & 1);
  f.avx512bw = f.avx512f && ((b7 >> 30) & 1);
  f.avx512vl = f.avx512f && ((b7 >> 31) & 1);
  f.avx512_vnni = f.avx512f && ((c7 >> 11) & 1);
  f.avx512_bf16 = f.avx512f && ((a71 >> 5) & 1);
  f.amx_bf16 = os_amx && ((d7 >> 22) & 1);
  f.amx_tile = os_amx && ((d7 >> 24) & 1);
  f.amx_int8 = os_amx && ((d7 >> 25) & 1);
#endif
  return f;
}

std::atomic<int> g_level{-1};
std::once_flag g_init;
std::string g_forced;  // VGGT_ISA value that lowered the level, for isa_name()

IsaLevel clamp_to_hw(IsaLevel want) {
  return static_cast<int>(want) < static_cast<int>(detected_isa()) ? want : detected_isa();
}

IsaLevel level_from_env() {
  const char* env = std::getenv("VGGT_ISA");
  g_forced.clear();
  if (!env || !*env) return detected_isa();
  IsaLevel want = parse_isa_level(env);  // a typo must not silently run the fast path
  if (want != detected_isa()) g_forced = env;
  return clamp_to_hw(want);
}

void cap_onednn(IsaLevel level) {
  if (level == detected_isa()) return;
  try {
    dnnl::set_max_cpu_isa(level == IsaLevel::avx2 ? dnnl::cpu_isa::avx2 : dnnl::cpu_isa::sse41);
  } catch (const dnnl::error&) {
    // oneDNN already dispatched a primitive; its ISA stays as it was.
  }
}

void init_once() {
  std::call_once(g_init, [] {
    IsaLevel l = level_from_env();
    g_level.store(static_cast<int>(l));
    cap_onednn(l);
  });
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string cpu_model_name() {
  std::string name;
#ifdef VGGT_X86
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    unsigned regs[12];
    for (unsigned i = 0; i < 3; ++i) __cpuid(0x80000002 + i, regs[4 * i], regs[4 * i + 1], regs[4 * i + 2], regs[4 * i + 3]);
    name.assign(reinterpret_cast<const char*>(regs), sizeof regs);
    name = name.c_str();  // up to the first NUL
  }
#endif
  const size_t a = name.find_first_not_of(' '), b = name.find_last_not_of(' ');
  name = a == std::string::npos ? "" : name.substr(a, b - a + 1);
  return name.empty() ? "unknown CPU" : name;
}

IsaLevel detected_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma) return IsaLevel::avx512;
  if (f.avx2 && f.fma) return IsaLevel::avx2;
  return IsaLevel::generic;
}

IsaLevel isa_level() {
  int l = g_level.load(std::memory_order_relaxed);
  if (l < 0) {
    init_once();
    l = g_level.load();
  }
  return static_cast<IsaLevel>(l);
}

void reload_isa_from_env() {
  init_once();
  g_level.store(static_cast<int>(level_from_env()));
}

void set_isa_level(IsaLevel level) {
  init_once();
  g_forced = level == detected_isa() ? "" : isa_level_name(level);
  g_level.store(static_cast<int>(clamp_to_hw(level)));
}

const char* isa_level_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::avx512: return "avx512";
    case IsaLevel::avx2: return "avx2";
    default: return "generic";
  }
}

IsaLevel parse_isa_level(const std::string& name) {
  if (name == "generic") return IsaLevel::generic;
  if (name == "avx2") return IsaLevel::avx2;
  if (name == "avx512") return IsaLevel::avx512;
  throw std::invalid_argument("VGGT_ISA: unknown ISA level '" + name +
                              "' (expected generic, avx2 or avx512)");
}

std::string isa_name() {
  const CpuFeatures& f = cpu_features();
  std::string s = isa_level_name(isa_level());
  s += " (hw:";
  if (f.avx2) s += " avx2";
  if (f.fma) s += " fma";
  if (f.avx512f) s += " avx512f";
  if (f.avx512bw) s += " avx512bw";
  if (f.avx512vl) s += " avx512vl";
  if (f.avx512dq) s += " avx512dq";
  if (f.avx512_bf16) s += " avx512_bf16";
  if (f.avx512_vnni) s += " avx512_vnni";
  if (f.amx_tile) s += " amx_tile";
  if (f.amx_bf16) s += " amx_bf16";
  if (f.amx_int8) s += " amx_int8";
  if (!f.avx2 && !f.avx512f) s += " baseline";
  s += ")";
  if (!g_forced.empty()) s += " [forced: " + g_forced + "]";
  return s;
}

}  // namespace vggt

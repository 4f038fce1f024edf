// Run-time CPU feature detection (cpuid + xgetbv) and the ISA level the kernels dispatch on.
#pragma once
#include <string>

namespace vggt {

struct CpuFeatures {
  // Hardware bits, each already AND-ed with the OS enabling the register state (xgetbv).
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false, avx512_vnni = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;
};

// Detected once per process; never lowered by VGGT_ISA.
const CpuFeatures& cpu_features();

// Kernel paths, ordered: a level implies every feature of the levels below it.
//   generic: portable C++ (auto-vectorised for the baseline target)
//   avx2:    AVX2 + FMA
//   avx512:  AVX-512 F/BW/VL/DQ (+ bf16 / VNNI used where present)
enum class IsaLevel { generic = 0, avx2 = 1, avx512 = 2 };

// Highest level the hardware supports.
IsaLevel detected_isa();
// Level the kernels use: detected_isa() lowered by the environment variable
// VGGT_ISA=generic|avx2|avx512 (read on first use; a request above the hardware is clamped).
// On first use a forced lower level is also passed to oneDNN (dnnl::set_max_cpu_isa) so its
// GEMMs take the matching path; that only works before oneDNN creates its first primitive.
IsaLevel isa_level();
// Re-reads VGGT_ISA (tests switch paths in-process; oneDNN's cap is not changed again).
void reload_isa_from_env();
// Forces a level for the current process (clamped to the hardware), e.g. from a CLI flag.
void set_isa_level(IsaLevel level);

const char* isa_level_name(IsaLevel level);
// Parses "generic" | "avx2" | "avx512"; throws std::invalid_argument naming the bad value.
IsaLevel parse_isa_level(const std::string& name);

// The CPU's brand string (cpuid leaves 0x80000002-4, as /proc/cpuinfo's "model name"), trimmed;
// "unknown CPU" where there is none. Keys the app's per-machine calibration.
std::string cpu_model_name();

// For benchmark output, e.g. "avx512 (hw: avx512f bw vl dq bf16 vnni; forced by VGGT_ISA=...)".
std::string isa_name();

}  // namespace vggt

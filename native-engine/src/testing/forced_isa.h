// Forces the kernel ISA (as VGGT_ISA would) for the lifetime of the object, restoring the
// previous setting afterwards: kernel tests run every ISA path the machine can run.
#pragma once
#include <string>

namespace vggt::testing {

class ForcedIsa {
 public:
  explicit ForcedIsa(const char* name);  // "avx512", "avx2", "scalar", ...
  ~ForcedIsa();
  ForcedIsa(const ForcedIsa&) = delete;
  ForcedIsa& operator=(const ForcedIsa&) = delete;

 private:
  bool had_ = false;
  std::string saved_;
};

}  // namespace vggt::testing

#include "testing/forced_isa.h"

#include <cstdlib>

#include "core/cpu_features.h"

namespace vggt::testing {

ForcedIsa::ForcedIsa(const char* name) {
  const char* old = std::getenv("VGGT_ISA");
  had_ = old != nullptr;
  if (old) saved_ = old;
  setenv("VGGT_ISA", name, 1);
  reload_isa_from_env();
}

ForcedIsa::~ForcedIsa() {
  if (had_)
    setenv("VGGT_ISA", saved_.c_str(), 1);
  else
    unsetenv("VGGT_ISA");
  reload_isa_from_env();
}

}  // namespace vggt::testing

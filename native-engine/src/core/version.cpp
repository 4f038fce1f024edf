#include "core/version.h"

#ifndef VGGT_ENGINE_VERSION
#error "VGGT_ENGINE_VERSION is set by CMake from package.json"
#endif

namespace vggt {

const char* engine_version() { return VGGT_ENGINE_VERSION; }

}  // namespace vggt

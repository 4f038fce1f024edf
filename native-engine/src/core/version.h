// The engine's version: the top-level package.json's "version" (CMake reads it), so the engine
// and the app always report the same one.
#pragma once

namespace vggt {

const char* engine_version();

}  // namespace vggt

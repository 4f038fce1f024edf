// Names of the engine's optimization toggles (--options, the protocol's options.flags).
#pragma once
#include <string>
#include <vector>

namespace vggt::cli {

const std::vector<std::string>& known_option_names();

}  // namespace vggt::cli

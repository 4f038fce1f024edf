#include "cli/option_names.h"

#include "model/engine_options.h"

namespace vggt::cli {

const std::vector<std::string>& known_option_names() {
  // Derived from the one option table (model/engine_options.cpp), in its order.
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& o : option_table()) n.push_back(o.name);
    return n;
  }();
  return names;
}

}  // namespace vggt::cli

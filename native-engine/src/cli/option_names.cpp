#include "cli/option_names.h"

namespace vggt::cli {

const std::vector<std::string>& known_option_names() {
  // The optimization toggles, in the write-up's order.
  static const std::vector<std::string> names = {"sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache",
                                                 "fused-add-ln", "bf16", "w8a8", "prepack", "flash-attn"};
  return names;
}

}  // namespace vggt::cli

#include "testing/small_config.h"

namespace vggt::testing {

ModelConfig small_config() {
  return ModelConfig::from_json_text(
      R"({"embed_dim": 64, "depth": 2, "num_heads": 4, "encoder": {"depth": 1, "num_heads": 4},
          "camera": {"trunk_depth": 1, "num_heads": 4}, "dpt": {"features": 16, "out_channels": [8, 16, 32, 64],
          "intermediate_layer_idx": [0, 0, 1, 1]}})",
      "inline");
}

}  // namespace vggt::testing

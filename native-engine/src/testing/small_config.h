// A model config small enough for unit tests of single blocks and the aggregator (64-wide, 2
// aggregator layers, every head present).
#pragma once
#include "model/config.h"

namespace vggt::testing {
ModelConfig small_config();
}  // namespace vggt::testing

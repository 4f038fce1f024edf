// Writing the engine's output file (format "vggt-engine-output/1", see docs/ENGINE-OUTPUT.md).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "model/vggt_model.h"

namespace vggt {

// Atomic: a failed write leaves any earlier file at `path` untouched.
// `images` is the preprocessed input [S,3,H,W] (kept for colours); metadata values are strings.
// track/vis/conf are written when the run tracked; `extra` adds tensors (e.g. track_original).
void write_predictions(const std::string& path, const Predictions& pred, const Tensor& images,
                       const std::map<std::string, std::string>& metadata, bool include_debug = false,
                       const std::vector<std::pair<std::string, Tensor>>& extra = {});

}  // namespace vggt

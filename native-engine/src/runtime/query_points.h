// Query points for the track head from the command line: --query-points FILE (a .safetensors
// with `query_points` float [N, 2], or a JSON array of [x, y]), --track-grid N, and
// --query-space model|original.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "preprocess/preprocess.h"

namespace vggt::runtime {

// Throws naming the file and the problem (unreadable, not [N, 2], not numbers).
Tensor load_query_points(const std::string& path);
// JSON text of an array of [x, y] pairs -> [N, 2]; `source` names it in errors.
Tensor parse_query_points_json(const std::string& text, const std::string& source);
// Query points given in frame 0's original image -> model-input pixels. Throws naming `source`
// when a point falls outside the content (non-padding) part of the preprocessed frame.
Tensor queries_from_original(const Tensor& q, const preprocess::FrameInfo& frame0, const std::string& source);

}  // namespace vggt::runtime

// The images tensor given to `infer --input-tensor` and to serve's infer request: one reader
// and one set of checks for both (dtype, shape, limits, finiteness).
#pragma once
#include <string>

#include "core/tensor.h"

namespace vggt::io {

// Reads tensor `name` of a safetensors/.pt file as float32 [S, 3, H, W]: a float dtype,
// 1 <= S <= limits::kMaxFrames, H and W positive multiples of `patch` of at most
// limits::kMaxInputSide, every value finite. Throws std::runtime_error naming the file.
Tensor read_images_tensor(const std::string& path, const std::string& name, int patch);

}  // namespace vggt::io

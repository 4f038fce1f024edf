// Writing safetensors files atomically (temp file + rename).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"

namespace vggt::io {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

TensorToWrite f32_entry(const std::string& name, const Tensor& t);

// Writes to `path` + ".tmp-<pid>" then renames; an existing file is replaced only on success.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace vggt::io

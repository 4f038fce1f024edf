#include "io/input_tensor.h"

#include <cmath>
#include <stdexcept>

#include "core/checked_math.h"
#include "core/limits.h"
#include "io/checkpoint.h"

namespace vggt::io {

Tensor read_images_tensor(const std::string& path, const std::string& name, int patch) {
  auto reader = CheckpointReader::open(path);
  const TensorInfo* t = reader->find(name);
  if (!t) throw std::runtime_error(path + ": no tensor named '" + name + "'");
  if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16 && t->dtype != DType::F64)
    throw std::runtime_error(path + ": tensor '" + name + "' has dtype " + dtype_name(t->dtype) +
                             ", expected a float type");
  const auto& s = t->shape;
  const bool ok = s.size() == 4 && s[0] >= 1 && s[1] == 3 && s[2] >= patch && s[3] >= patch && s[2] % patch == 0 &&
                  s[3] % patch == 0;
  if (!ok)
    throw std::runtime_error(path + ": tensor '" + name + "' has shape " + shape_to_string(s) +
                             ", expected [S, 3, H, W] with H and W positive multiples of " + std::to_string(patch));
  if (s[0] > limits::kMaxFrames)
    throw std::runtime_error(path + ": tensor '" + name + "' holds " + std::to_string(s[0]) +
                             " frames, above the limit of " + std::to_string(limits::kMaxFrames));
  if (s[2] > limits::kMaxInputSide || s[3] > limits::kMaxInputSide)
    throw std::runtime_error(path + ": tensor '" + name + "' frames are " + std::to_string(s[3]) + " x " +
                             std::to_string(s[2]) + ", above the limit of " + std::to_string(limits::kMaxInputSide) +
                             " pixels a side");
  // The reader checked numel against the data bytes; check again here so this function stands alone.
  const int64_t n = checked_numel(s);
  if (t->nbytes != checked_bytes(n, dtype_size(t->dtype)))
    throw std::runtime_error(path + ": tensor '" + name + "' byte size does not match its shape");
  Tensor out = Tensor::uninitialized(s);
  convert_to_f32(*t, out.data());
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(out[i]))
      throw std::runtime_error(path + ": tensor '" + name + "' holds a non-finite value at index " + std::to_string(i));
  return out;
}

}  // namespace vggt::io

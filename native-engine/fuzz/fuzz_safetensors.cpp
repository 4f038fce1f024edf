// safetensors reader: header parsing, offsets and shapes, and conversion of every float tensor.
#include <cstdint>
#include <exception>
#include <vector>

#include "fuzz_file.h"
#include "io/checkpoint.h"
#include "io/input_tensor.h"

using namespace vggt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::write_input(data, size, ".safetensors");
  try {
    auto r = io::open_safetensors(path);
    for (const io::TensorInfo& t : r->tensors()) {
      if (t.dtype != io::DType::F32 && t.dtype != io::DType::F16 && t.dtype != io::DType::BF16 &&
          t.dtype != io::DType::F64)
        continue;
      std::vector<float> out(static_cast<size_t>(t.numel()));  // numel <= nbytes / 2: bounded by the file
      io::convert_to_f32(t, out.data());
    }
  } catch (const std::exception&) {
  }
  try {
    io::read_images_tensor(path, "images", 14);
  } catch (const std::exception&) {
  }
  return 0;
}

// PyTorch .pt reader: zip container, inflate, the pickle VM with its hooks, the state-dict walk
// and strided views. Every tensor's bytes are read, so an out-of-bounds view is caught.
#include <cstdint>
#include <exception>
#include <vector>

#include "fuzz_file.h"
#include "io/checkpoint.h"

using namespace vggt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::write_input(data, size, ".pt");
  try {
    auto r = io::open_pt_checkpoint(path);
    uint8_t sum = 0;
    for (const io::TensorInfo& t : r->tensors()) {
      const auto* p = static_cast<const uint8_t*>(t.data);
      for (size_t i = 0; i < t.nbytes; ++i) sum ^= p[i];
    }
    volatile uint8_t sink = sum;
    (void)sink;
  } catch (const std::exception&) {
  }
  return 0;
}

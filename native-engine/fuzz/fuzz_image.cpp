// Image decoding (PNG, JPEG, EXIF orientation) and the whole preprocessing of one frame, in both
// modes: resizing, cropping and padding must stay within bounds for any decodable size.
#include <cstdint>
#include <exception>

#include "fuzz_file.h"
#include "preprocess/preprocess.h"

using namespace vggt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the mode and EXIF handling; the rest is the file.
  const uint8_t sel = data[0];
  const std::string& path = fuzz::write_input(data + 1, size - 1, ".img");
  try {
    preprocess::load_and_preprocess({path}, sel & 1 ? preprocess::Mode::Pad : preprocess::Mode::Crop, (sel & 2) != 0);
  } catch (const std::exception&) {
  }
  return 0;
}

// Model config JSON: every field validated before any size is derived from it.
#include <cstdint>
#include <exception>
#include <string>

#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const vggt::ModelConfig c =
        vggt::ModelConfig::from_json_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    // Quantities the model derives from the config must be computable (no division by zero).
    volatile int head_dim = c.embed_dim / c.num_heads + c.embed_dim / c.encoder_heads + 2 * c.embed_dim / c.camera_heads;
    volatile int patches = c.img_size / c.patch_size;
    (void)head_dim;
    (void)patches;
  } catch (const std::exception&) {
  }
  return 0;
}

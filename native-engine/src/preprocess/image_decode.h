// PNG/JPEG decoding into the 8-bit pixels PIL's Image.open(...) + convert("RGB") would hold.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vggt::preprocess {

// Interleaved 8-bit image: 3 channels (PIL mode "RGB") or 4 (PIL mode "RGBA").
struct Image8 {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // row-major, width * channels bytes per row
};

struct DecodedImage {
  Image8 image;
  int exif_orientation = 1;  // EXIF Orientation tag (1..8); 1 when absent or invalid
};

// Decodes a PNG or JPEG (chosen by content, not extension). Every PIL mode the file would open
// in is converted to RGB with PIL's own rules, except RGBA which stays RGBA (the official code
// treats it specially). Throws std::runtime_error naming `name` and the problem.
// want_exif=false skips looking for an EXIF block that follows a PNG's pixel data.
DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name, bool want_exif = true);
// Opens regular files only (a FIFO or a device is refused before any read).
DecodedImage decode_image_file(const std::string& path, bool want_exif = true);
// Throws "<name>: image is W x H: aspect ratio above the limit of 1:16" (or 16:1).
void check_aspect_ratio(const std::string& name, uint64_t w, uint64_t h);

}  // namespace vggt::preprocess

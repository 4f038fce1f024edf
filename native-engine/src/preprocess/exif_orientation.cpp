#include "preprocess/exif_orientation.h"

#include <cstring>

namespace vggt::preprocess {

int parse_exif_orientation(const uint8_t* tiff, size_t size) {
  if (!tiff || size < 8) return 1;
  bool little;
  if (tiff[0] == 'I' && tiff[1] == 'I') little = true;
  else if (tiff[0] == 'M' && tiff[1] == 'M') little = false;
  else return 1;
  auto u16 = [&](size_t off) -> uint32_t {
    return little ? (tiff[off] | (tiff[off + 1] << 8)) : ((tiff[off] << 8) | tiff[off + 1]);
  };
  auto u32 = [&](size_t off) -> uint32_t {
    return little ? (uint32_t(tiff[off]) | (uint32_t(tiff[off + 1]) << 8) | (uint32_t(tiff[off + 2]) << 16) |
                     (uint32_t(tiff[off + 3]) << 24))
                  : ((uint32_t(tiff[off]) << 24) | (uint32_t(tiff[off + 1]) << 16) |
                     (uint32_t(tiff[off + 2]) << 8) | uint32_t(tiff[off + 3]));
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd > size || size - ifd < 2) return 1;
  const uint32_t count = u16(ifd);
  for (uint32_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + static_cast<size_t>(i) * 12;
    if (e + 12 > size) return 1;
    if (u16(e) != 0x0112) continue;
    const uint32_t type = u16(e + 2);
    uint32_t v;
    if (type == 3) v = u16(e + 8);        // SHORT, stored left-justified in the value field
    else if (type == 4) v = u32(e + 8);   // LONG (non-standard but seen in the wild)
    else return 1;
    return (v >= 1 && v <= 8) ? static_cast<int>(v) : 1;
  }
  return 1;
}

Image8 apply_exif_orientation(const Image8& src, int orientation) {
  if (orientation <= 1 || orientation > 8) return src;
  const int W = src.width, H = src.height, ch = src.channels;
  const bool swap = orientation >= 5;
  Image8 out;
  out.width = swap ? H : W;
  out.height = swap ? W : H;
  out.channels = ch;
  out.pixels.resize(src.pixels.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx, sy;
      switch (orientation) {
        case 2: sx = W - 1 - x; sy = y; break;               // mirror horizontal
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;       // rotate 180
        case 4: sx = x; sy = H - 1 - y; break;               // mirror vertical
        case 5: sx = y; sy = x; break;                       // transpose
        case 6: sx = y; sy = H - 1 - x; break;               // rotate 90 clockwise
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;       // transverse
        default: sx = W - 1 - y; sy = x; break;              // 8: rotate 90 counter-clockwise
      }
      std::memcpy(&out.pixels[(static_cast<size_t>(y) * out.width + x) * ch],
                  &src.pixels[(static_cast<size_t>(sy) * W + sx) * ch], ch);
    }
  }
  return out;
}

}  // namespace vggt::preprocess

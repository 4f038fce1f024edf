// EXIF Orientation tag: parsing (TIFF structure of a JPEG APP1 / PNG eXIf payload) and applying.
#pragma once
#include <cstddef>
#include <cstdint>

#include "preprocess/image_decode.h"

namespace vggt::preprocess {

// `tiff` starts at the TIFF header ("II*\0" or "MM\0*"). Returns 1..8, or 1 when the tag is
// absent, out of range or the structure is malformed (never reads out of bounds).
int parse_exif_orientation(const uint8_t* tiff, size_t size);

// Transforms the image so it displays upright, as PIL's ImageOps.exif_transpose does.
Image8 apply_exif_orientation(const Image8& src, int orientation);

}  // namespace vggt::preprocess

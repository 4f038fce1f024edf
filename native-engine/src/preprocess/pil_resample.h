// Bit-exact reimplementation of Pillow's Image.resize(size, BICUBIC) for 8-bit images
// (libImaging/Resample.c semantics: separable, horizontal then vertical pass, 22-bit fixed-point
// coefficients, 8-bit clipping between passes).
// The horizontal pass always runs first, as in Pillow <= 12.3 (what the goldens were made
// with). Pillow 13 runs the vertical pass first when the height shrinks by more than twice
// the width's change; that differs by a few levels only for such sizes (e.g. 519x1000 crop,
// 517x300), never for landscape photos.
#pragma once
#include "preprocess/image_decode.h"

namespace vggt::preprocess {

// Resamples every channel independently (the caller premultiplies alpha if it needs to).
// Same size returns a copy, like Pillow.
Image8 resize_bicubic_pil(const Image8& src, int out_width, int out_height);
// Output rows [row0, row0 + rows) of the same resize, bit for bit, computing only those rows
// and reading only the source rows they need (a centre crop never builds the full image).
Image8 resize_bicubic_pil_rows(const Image8& src, int out_width, int out_height, int row0, int rows);

}  // namespace vggt::preprocess

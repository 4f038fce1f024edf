// Image loading and preprocessing exactly as the official load_and_preprocess_images.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vggt::preprocess {

enum class Mode { Crop, Pad };
Mode mode_from_string(const std::string& s);  // "crop" | "pad"; throws otherwise

// How a preprocessed frame relates to the file it came from.
struct FrameInfo {
  std::string path;
  int orig_width = 0, orig_height = 0;  // as decoded (after EXIF rotation when enabled)
  // Pixel-centre mapping from the preprocessed frame (u, v) to the original image (x, y):
  //   x + 0.5 = (u + 0.5 - offset_x) * scale_x,  y + 0.5 = (v + 0.5 - offset_y) * scale_y
  double scale_x = 1, scale_y = 1, offset_x = 0, offset_y = 0;
  // Rectangle of the preprocessed frame that holds image content (the rest is white padding).
  int content_x0 = 0, content_y0 = 0, content_width = 0, content_height = 0;
};

// Pixel (u, v) of a preprocessed frame -> (x, y) in its original image, and back (FrameInfo's
// pixel-centre mapping).
void to_original(const FrameInfo& f, double u, double v, double& x, double& y);
void from_original(const FrameInfo& f, double x, double y, double& u, double& v);
// Tracks [S, N, 2] in preprocessed pixels -> each frame's original-image pixels.
Tensor tracks_to_original(const Tensor& track, const std::vector<FrameInfo>& frames);

struct Batch {
  Tensor images;  // [S, 3, H, W] float32 in [0, 1]
  std::vector<FrameInfo> frames;
};

// Throws std::runtime_error naming the file and the problem (unreadable, not an image, ...).
Batch load_and_preprocess(const std::vector<std::string>& paths, Mode mode, bool exif_orientation = false);

}  // namespace vggt::preprocess

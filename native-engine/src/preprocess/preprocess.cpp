// load_and_preprocess_images of the official VGGT code (vggt/utils/load_fn.py), reproduced on
// 8-bit PIL semantics: decode -> (optional EXIF transpose) -> RGBA on white -> RGB ->
// PIL bicubic resize to width 518 (crop) or longest side 518 (pad), other side rounded
// half-to-even to a multiple of 14 -> centre crop / white pad -> white pad to the largest frame.
#include "preprocess/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "preprocess/exif_orientation.h"
#include "preprocess/image_decode.h"
#include "preprocess/pil_resample.h"

namespace vggt::preprocess {
namespace {

constexpr int kTargetSize = 518;
constexpr int kPatch = 14;

// Python's round(): ties to even, which nearbyint gives in the default rounding mode.
int py_round(double v) { return static_cast<int>(std::nearbyint(v)); }

// PIL's Image.alpha_composite(white, img) followed by convert("RGB"). With an opaque white
// destination Pillow's integer formula reduces to this, bit for bit.
Image8 composite_on_white(const Image8& rgba) {
  Image8 out;
  out.width = rgba.width;
  out.height = rgba.height;
  out.channels = 3;
  const size_t n = static_cast<size_t>(rgba.width) * rgba.height;
  out.pixels.resize(n * 3);
  constexpr uint32_t kBits = 7;  // Pillow's PRECISION_BITS in AlphaComposite.c
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* s = &rgba.pixels[i * 4];
    uint8_t* o = &out.pixels[i * 3];
    const uint32_t sa = s[3];
    if (sa == 0) {
      o[0] = o[1] = o[2] = 255;
      continue;
    }
    const uint32_t blend = 255 * (255 - sa);
    const uint32_t outa255 = sa * 255 + blend;
    const uint32_t coef1 = sa * 255 * 255 * (1u << kBits) / outa255;
    const uint32_t coef2 = 255 * (1u << kBits) - coef1;
    for (int c = 0; c < 3; ++c) {
      const uint32_t tmp = s[c] * coef1 + 255u * coef2 + (0x80u << kBits);
      o[c] = static_cast<uint8_t>((((tmp >> 8) + tmp) >> 8) >> kBits);
    }
  }
  return out;
}

struct Frame {
  int height = 0, width = 0;
  std::vector<float> chw;  // [3, height, width]
  FrameInfo info;
};

Frame process_frame(const std::string& path, Mode mode, bool exif_orientation) {
  DecodedImage dec = decode_image_file(path, exif_orientation);
  Image8 img = std::move(dec.image);
  if (exif_orientation && dec.exif_orientation != 1) img = apply_exif_orientation(img, dec.exif_orientation);
  if (img.channels == 4) img = composite_on_white(img);

  const int W = img.width, H = img.height;
  int new_w, new_h;
  if (mode == Mode::Pad && H > W) {
    new_h = kTargetSize;
    new_w = py_round(W * (static_cast<double>(new_h) / H) / kPatch) * kPatch;
  } else {
    new_w = kTargetSize;
    new_h = py_round(H * (static_cast<double>(new_w) / W) / kPatch) * kPatch;
  }
  if (new_w <= 0 || new_h <= 0)
    throw std::runtime_error(path + ": image is too elongated (" + std::to_string(W) + "x" + std::to_string(H) +
                             ") to preprocess: its short side would round to 0 pixels");
  Frame f;
  FrameInfo& info = f.info;
  info.path = path;
  info.orig_width = W;
  info.orig_height = H;
  info.scale_x = static_cast<double>(W) / new_w;
  info.scale_y = static_cast<double>(H) / new_h;
  int src_y0 = 0, dst_x0 = 0, dst_y0 = 0, rows = new_h;
  if (mode == Mode::Crop) {
    f.width = new_w;
    f.height = std::min(new_h, kTargetSize);
    if (new_h > kTargetSize) {
      src_y0 = (new_h - kTargetSize) / 2;
      rows = kTargetSize;
    }
  } else {
    f.width = f.height = kTargetSize;
    dst_x0 = (kTargetSize - new_w) / 2;
    dst_y0 = (kTargetSize - new_h) / 2;
  }
  info.offset_x = dst_x0;
  info.offset_y = dst_y0 - src_y0;
  info.content_x0 = dst_x0;
  info.content_y0 = dst_y0;
  info.content_width = new_w;
  info.content_height = rows;

  // Only the rows that survive the crop are resampled: the intermediate image is never larger
  // than the frame itself (a 16:1 portrait would otherwise be resized to 518 x 8288 first).
  const Image8 r = resize_bicubic_pil_rows(img, new_w, new_h, src_y0, rows);

  const size_t plane = static_cast<size_t>(f.height) * f.width;
  f.chw.assign(plane * 3, 1.0f);  // padding is white (1.0)
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = &r.pixels[static_cast<size_t>(y) * new_w * 3];
    for (int x = 0; x < new_w; ++x) {
      const size_t o = static_cast<size_t>(y + dst_y0) * f.width + (x + dst_x0);
      // torchvision's to_tensor: float32 division by 255.
      for (int c = 0; c < 3; ++c) f.chw[c * plane + o] = static_cast<float>(in[x * 3 + c]) / 255.0f;
    }
  }
  return f;
}

}  // namespace

Mode mode_from_string(const std::string& s) {
  if (s == "crop") return Mode::Crop;
  if (s == "pad") return Mode::Pad;
  throw std::runtime_error("unknown preprocess mode '" + s + "' (expected 'crop' or 'pad')");
}

Batch load_and_preprocess(const std::vector<std::string>& paths, Mode mode, bool exif_orientation) {
  if (paths.empty()) throw std::runtime_error("load_and_preprocess: no image files given");
  const int S = static_cast<int>(paths.size());
  std::vector<Frame> frames(S);
  std::vector<std::exception_ptr> errors(S);
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < S; ++i) {
    try {
      frames[i] = process_frame(paths[i], mode, exif_orientation);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);  // the first failing file in input order

  // Frames of different shapes are centred on a white canvas of the largest height and width.
  int max_h = 0, max_w = 0;
  for (const Frame& f : frames) {
    max_h = std::max(max_h, f.height);
    max_w = std::max(max_w, f.width);
  }
  Batch batch;
  batch.images = Tensor::uninitialized({S, 3, max_h, max_w});
  const size_t out_plane = static_cast<size_t>(max_h) * max_w;
  for (int i = 0; i < S; ++i) {
    Frame& f = frames[i];
    const int top = (max_h - f.height) / 2, left = (max_w - f.width) / 2;
    float* dst = batch.images.data() + static_cast<size_t>(i) * 3 * out_plane;
    const size_t in_plane = static_cast<size_t>(f.height) * f.width;
    for (int c = 0; c < 3; ++c) {
      float* d = dst + c * out_plane;
      if (top != 0 || left != 0 || f.width != max_w || f.height != max_h) std::fill(d, d + out_plane, 1.0f);
      for (int y = 0; y < f.height; ++y)
        std::memcpy(d + static_cast<size_t>(y + top) * max_w + left, &f.chw[c * in_plane + static_cast<size_t>(y) * f.width],
                    sizeof(float) * f.width);
    }
    f.info.offset_x += left;
    f.info.offset_y += top;
    f.info.content_x0 += left;
    f.info.content_y0 += top;
    batch.frames.push_back(std::move(f.info));
  }
  // The decoded frames (a few MB each, from the threads' malloc arenas) are dead: at 200 frames
  // what the allocator would keep of them is a gigabyte of RSS beside the model.
  std::vector<Frame>().swap(frames);
  release_unused_memory();
  return batch;
}

void to_original(const FrameInfo& f, double u, double v, double& x, double& y) {
  x = (u + 0.5 - f.offset_x) * f.scale_x - 0.5;
  y = (v + 0.5 - f.offset_y) * f.scale_y - 0.5;
}

void from_original(const FrameInfo& f, double x, double y, double& u, double& v) {
  u = (x + 0.5) / f.scale_x + f.offset_x - 0.5;
  v = (y + 0.5) / f.scale_y + f.offset_y - 0.5;
}

Tensor tracks_to_original(const Tensor& track, const std::vector<FrameInfo>& frames) {
  if (track.ndim() != 3 || track.dim(2) != 2 || track.dim(0) != static_cast<int64_t>(frames.size()))
    throw std::runtime_error("tracks_to_original: track " + track.shape_str() + " does not fit " +
                             std::to_string(frames.size()) + " frames");
  Tensor out = Tensor::uninitialized(track.shape());
  const int64_t N = track.dim(1);
  for (int64_t s = 0; s < track.dim(0); ++s)
    for (int64_t n = 0; n < N; ++n) {
      const int64_t i = (s * N + n) * 2;
      double x, y;
      to_original(frames[s], track[i], track[i + 1], x, y);
      out[i] = static_cast<float>(x), out[i + 1] = static_cast<float>(y);
    }
  return out;
}

}  // namespace vggt::preprocess

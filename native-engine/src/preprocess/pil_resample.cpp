#include "preprocess/pil_resample.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace vggt::preprocess {
namespace {

// 8 bits of result, 2 bits of headroom for the negative lobes / overshoot of the filter.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kSupport = 2.0;

// Keys' cubic convolution with a = -0.5, written in the same operation order as Pillow so the
// double results (and hence the rounded integer coefficients) agree bit for bit.
inline double bicubic_filter(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Coefficients {
  int ksize = 0;
  std::vector<int> bounds;      // per output sample: first input index, count
  std::vector<int32_t> weights; // per output sample: ksize fixed-point weights
};

// Box is always the whole input (0, in_size): the official code never passes one.
// Coefficients of output samples [first, first + count) only: each sample's weights depend on
// its own index alone, so a window is bit-identical to the same rows of the full table.
Coefficients precompute(int in_size, int out_size, int first, int count) {
  const float in0 = 0.0f, in1 = static_cast<float>(in_size);
  double filterscale, scale;
  filterscale = scale = static_cast<double>(in1 - in0) / out_size;
  if (filterscale < 1.0) filterscale = 1.0;  // upsampling keeps the filter's own width
  const double support = kSupport * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(count) * 2);
  c.weights.assign(static_cast<size_t>(count) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = first; xx < first + count; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    double ww = 0.0;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    const int slot = xx - first;
    int32_t* out = &c.weights[static_cast<size_t>(slot) * c.ksize];
    for (int x = 0; x < xmax; ++x)
      out[x] = k[x] < 0 ? static_cast<int32_t>(-0.5 + k[x] * (1 << kPrecisionBits))
                        : static_cast<int32_t>(0.5 + k[x] * (1 << kPrecisionBits));
    c.bounds[slot * 2] = xmin;
    c.bounds[slot * 2 + 1] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  const int32_t s = v >> kPrecisionBits;  // arithmetic shift = floor, as Pillow's lookup table
  return static_cast<uint8_t>(s < 0 ? 0 : (s > 255 ? 255 : s));
}

// Rows [row0, row0 + rows) of src, resampled horizontally. CH is a template parameter so the
// per-channel loops unroll (this pass dominates the resize time).
template <int CH>
void horizontal_rows(const Image8& src, int row0, const Coefficients& c, Image8& out) {
  const int32_t half = 1 << (kPrecisionBits - 1);
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* in = &src.pixels[static_cast<size_t>(y + row0) * src.width * CH];
    uint8_t* o = &out.pixels[static_cast<size_t>(y) * out.width * CH];
    for (int xx = 0; xx < out.width; ++xx) {
      const int xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1];
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
      int32_t acc[CH];
      for (int b = 0; b < CH; ++b) acc[b] = half;
      const uint8_t* p = in + static_cast<size_t>(xmin) * CH;
      for (int x = 0; x < xmax; ++x, p += CH)
        for (int b = 0; b < CH; ++b) acc[b] += static_cast<int32_t>(p[b]) * k[x];
      for (int b = 0; b < CH; ++b) o[xx * CH + b] = clip8(acc[b]);
    }
  }
}

Image8 horizontal_pass(const Image8& src, int row0, int rows, const Coefficients& c, int out_w) {
  Image8 out;
  out.width = out_w;
  out.height = rows;
  out.channels = src.channels;
  out.pixels.resize(static_cast<size_t>(out_w) * rows * src.channels);
  switch (src.channels) {
    case 1: horizontal_rows<1>(src, row0, c, out); break;
    case 2: horizontal_rows<2>(src, row0, c, out); break;
    case 3: horizontal_rows<3>(src, row0, c, out); break;
    default: horizontal_rows<4>(src, row0, c, out); break;
  }
  return out;
}

// Row bounds in `c` are relative to the first row of src.
Image8 vertical_pass(const Image8& src, const Coefficients& c, int out_h) {
  const int ch = src.channels;
  const size_t row_len = static_cast<size_t>(src.width) * ch;
  Image8 out;
  out.width = src.width;
  out.height = out_h;
  out.channels = ch;
  out.pixels.resize(row_len * out_h);
  std::vector<int32_t> acc(row_len);
  const int32_t half = 1 << (kPrecisionBits - 1);
  for (int yy = 0; yy < out_h; ++yy) {
    const int ymin = c.bounds[yy * 2], ymax = c.bounds[yy * 2 + 1];
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    std::fill(acc.begin(), acc.end(), half);
    // Integer sums are order-independent, so accumulate row by row (vectorises).
    for (int y = 0; y < ymax; ++y) {
      const uint8_t* in = &src.pixels[static_cast<size_t>(y + ymin) * row_len];
      const int32_t w = k[y];
      for (size_t i = 0; i < row_len; ++i) acc[i] += static_cast<int32_t>(in[i]) * w;
    }
    uint8_t* o = &out.pixels[static_cast<size_t>(yy) * row_len];
    for (size_t i = 0; i < row_len; ++i) o[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace

Image8 resize_bicubic_pil(const Image8& src, int out_width, int out_height) {
  return resize_bicubic_pil_rows(src, out_width, out_height, 0, out_height);
}

Image8 resize_bicubic_pil_rows(const Image8& src, int out_width, int out_height, int row0, int rows) {
  if (out_width <= 0 || out_height <= 0 || src.width <= 0 || src.height <= 0)
    throw std::runtime_error("resize_bicubic_pil: invalid size " + std::to_string(src.width) + "x" +
                             std::to_string(src.height) + " -> " + std::to_string(out_width) + "x" +
                             std::to_string(out_height));
  if (src.channels < 1 || src.channels > 4)
    throw std::runtime_error("resize_bicubic_pil: unsupported channel count " + std::to_string(src.channels));
  if (row0 < 0 || rows < 1 || rows > out_height - row0)
    throw std::runtime_error("resize_bicubic_pil: rows [" + std::to_string(row0) + ", +" + std::to_string(rows) +
                             ") outside the " + std::to_string(out_height) + "-row output");
  const bool need_h = out_width != src.width;
  const bool need_v = out_height != src.height;
  if (!need_h && !need_v) {
    Image8 out = src;
    const size_t row_len = static_cast<size_t>(src.width) * src.channels;
    out.height = rows;
    out.pixels.assign(src.pixels.begin() + static_cast<ptrdiff_t>(row0 * row_len),
                      src.pixels.begin() + static_cast<ptrdiff_t>((row0 + rows) * row_len));
    return out;
  }
  if (!need_v) return horizontal_pass(src, row0, rows, precompute(src.width, out_width, 0, out_width), out_width);

  Coefficients vert = precompute(src.height, out_height, row0, rows);
  Image8 cur;
  const Image8* in = &src;
  if (need_h) {
    // Only the source rows the vertical pass will read.
    const int first = vert.bounds[0];
    const int last = vert.bounds[(rows - 1) * 2] + vert.bounds[(rows - 1) * 2 + 1];
    for (int i = 0; i < rows; ++i) vert.bounds[i * 2] -= first;
    const Coefficients horiz = precompute(src.width, out_width, 0, out_width);
    cur = horizontal_pass(src, first, last - first, horiz, out_width);
    in = &cur;
  }
  return vertical_pass(*in, vert, rows);
}

}  // namespace vggt::preprocess

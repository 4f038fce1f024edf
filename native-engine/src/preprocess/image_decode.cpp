#include "preprocess/image_decode.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "core/limits.h"
#include "io/file_util.h"
#include "preprocess/exif_orientation.h"

namespace vggt::preprocess {

void check_aspect_ratio(const std::string& name, uint64_t w, uint64_t h) {
  const uint64_t r = limits::kMaxAspectRatio;
  if (w > h * r || h > w * r)
    throw std::runtime_error(name + ": image is " + std::to_string(w) + " x " + std::to_string(h) +
                             ": aspect ratio above the limit of " + (w > h ? std::to_string(r) + ":1" : "1:" + std::to_string(r)));
}

namespace {

// PIL refuses images above 2 * Image.MAX_IMAGE_PIXELS (DecompressionBombError); so do we.
constexpr uint64_t kMaxPixels = limits::kMaxImagePixels;

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
  throw std::runtime_error(name + ": " + problem);
}

void check_dimensions(const std::string& name, uint64_t w, uint64_t h) {
  if (w == 0 || h == 0)
    fail(name, "image has zero size (" + std::to_string(w) + "x" + std::to_string(h) + ")");
  if (w * h > kMaxPixels)
    fail(name, "image too large (" + std::to_string(w) + "x" + std::to_string(h) + " pixels, limit " +
                   std::to_string(kMaxPixels) + ")");
  check_aspect_ratio(name, w, h);
}

// Sizes check_dimensions refuses: decoding stops at the header for them.
bool refused_size(uint64_t w, uint64_t h) {
  return w == 0 || h == 0 || w * h > kMaxPixels || w > h * limits::kMaxAspectRatio || h > w * limits::kMaxAspectRatio;
}

// PIL's MULDIV255: a * b / 255 rounded, in integer arithmetic.
inline int muldiv255(int a, int b) {
  const int tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

inline uint8_t clip8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

Image8 new_image(int w, int h, int ch) {
  Image8 im;
  im.width = w;
  im.height = h;
  im.channels = ch;
  im.pixels.resize(static_cast<size_t>(w) * h * ch);
  return im;
}

// Payload of an Exif block: either the bare TIFF structure or one prefixed by "Exif\0\0".
int orientation_from_exif_block(const uint8_t* p, size_t n) {
  if (n >= 6 && std::memcmp(p, "Exif\0\0", 6) == 0) {
    p += 6;
    n -= 6;
  }
  return parse_exif_orientation(p, n);
}

// ---------------------------------------------------------------------------------------------
// PNG (libpng, classic API: the simplified API would apply gamma/colour-management, PIL doesn't)

struct PngState {
  jmp_buf jmp;
  char msg[256];
  const uint8_t* data;
  size_t size;
  size_t pos;
};

struct PngRaw {
  uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  size_t rowbytes = 0;
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  std::vector<uint8_t> palette;  // RGB triples
  std::vector<uint8_t> exif;
  bool too_large = false;
};

void png_error_cb(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(st->msg, sizeof st->msg, "%s", msg ? msg : "unknown libpng error");
  longjmp(st->jmp, 1);
}

void png_warning_cb(png_structp, png_const_charp) {}  // PIL ignores ancillary-chunk problems too

void png_read_cb(png_structp png, png_bytep out, png_size_t n) {
  auto* st = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > st->size - st->pos) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(out, st->data + st->pos, n);
  st->pos += n;
}

// Only C-style state lives between setjmp and longjmp here; everything the decode fills sits in
// *raw (owned by the caller), so no destructor is skipped by the jump.
bool png_decode_raw(PngState* st, PngRaw* raw, bool want_exif) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, st, png_error_cb, png_warning_cb);
  if (!png) {
    std::snprintf(st->msg, sizeof st->msg, "cannot initialise libpng");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(st->msg, sizeof st->msg, "cannot initialise libpng");
    return false;
  }
  if (setjmp(st->jmp)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, st, png_read_cb);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, ctype = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, nullptr, nullptr);
  raw->width = w;
  raw->height = h;
  raw->bit_depth = depth;
  raw->color_type = ctype;
  if (refused_size(w, h)) {
    raw->too_large = true;
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
  }
  if (ctype == PNG_COLOR_TYPE_PALETTE) {
    png_colorp pal = nullptr;
    int n = 0;
    if (png_get_PLTE(png, info, &pal, &n) && pal) {
      raw->palette.resize(static_cast<size_t>(n) * 3);
      for (int i = 0; i < n; ++i) {
        raw->palette[i * 3] = pal[i].red;
        raw->palette[i * 3 + 1] = pal[i].green;
        raw->palette[i * 3 + 2] = pal[i].blue;
      }
    }
  }
  // Sub-byte samples become one byte each, unscaled; scaling is done with PIL's rules below.
  if (depth < 8) png_set_packing(png);
  if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  raw->rowbytes = png_get_rowbytes(png, info);
  if (interlace == PNG_INTERLACE_NONE) {
    // Reserved, not filled: a small file declaring a huge image fails at its first missing row
    // having touched only the rows it had data for.
    raw->pixels.reserve(raw->rowbytes * h);
    for (png_uint_32 y = 0; y < h; ++y) {
      raw->pixels.resize(raw->rowbytes * (static_cast<size_t>(y) + 1));
      png_read_row(png, raw->pixels.data() + raw->rowbytes * y, nullptr);
    }
  } else {  // the passes revisit every row
    raw->pixels.resize(raw->rowbytes * h);
    raw->rows.resize(h);
    for (png_uint_32 y = 0; y < h; ++y) raw->rows[y] = raw->pixels.data() + raw->rowbytes * y;
    png_read_image(png, raw->rows.data());
  }
  raw->rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) raw->rows[y] = raw->pixels.data() + raw->rowbytes * y;

  png_bytep exif = nullptr;
  png_uint_32 exif_len = 0;
  if (want_exif && !png_get_eXIf_1(png, info, &exif_len, &exif)) {
    // eXIf may follow IDAT. Like PIL, problems after the pixel data are not fatal.
    if (setjmp(st->jmp)) {
      png_destroy_read_struct(&png, &info, nullptr);
      return true;
    }
    png_read_end(png, info);
    exif = nullptr;
    exif_len = 0;
    png_get_eXIf_1(png, info, &exif_len, &exif);
  }
  if (want_exif && exif && exif_len > 0) raw->exif.assign(exif, exif + exif_len);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

DecodedImage decode_png(const uint8_t* data, size_t size, const std::string& name, bool want_exif) {
  PngState st;
  st.msg[0] = 0;
  st.data = data;
  st.size = size;
  st.pos = 0;
  // libpng only says "Invalid IHDR data" for a zero dimension; name the problem ourselves.
  if (size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t o) {
      return (uint32_t(data[o]) << 24) | (uint32_t(data[o + 1]) << 16) | (uint32_t(data[o + 2]) << 8) | data[o + 3];
    };
    if (be32(16) == 0 || be32(20) == 0) check_dimensions(name, be32(16), be32(20));
  }
  PngRaw raw;
  if (!png_decode_raw(&st, &raw, want_exif)) fail(name, std::string("corrupt or unreadable PNG (") + st.msg + ")");
  check_dimensions(name, raw.width, raw.height);

  const int w = static_cast<int>(raw.width), h = static_cast<int>(raw.height);
  const int depth = raw.bit_depth;
  DecodedImage out;
  // PIL opens 16-bit RGB(A)/LA keeping the most significant byte; 16-bit gray opens as "I;16"
  // whose convert("RGB") clamps the value to 255 (it does not rescale).
  const int bps = depth == 16 ? 2 : 1;
  if (raw.color_type == PNG_COLOR_TYPE_RGB_ALPHA) {
    out.image = new_image(w, h, 4);
    for (int y = 0; y < h; ++y) {
      const uint8_t* in = raw.rows[y];
      uint8_t* o = &out.image.pixels[static_cast<size_t>(y) * w * 4];
      for (int i = 0; i < w * 4; ++i) o[i] = in[i * bps];
    }
  } else {
    out.image = new_image(w, h, 3);
    for (int y = 0; y < h; ++y) {
      const uint8_t* in = raw.rows[y];
      uint8_t* o = &out.image.pixels[static_cast<size_t>(y) * w * 3];
      for (int x = 0; x < w; ++x, o += 3) {
        switch (raw.color_type) {
          case PNG_COLOR_TYPE_RGB:
            o[0] = in[(x * 3) * bps];
            o[1] = in[(x * 3 + 1) * bps];
            o[2] = in[(x * 3 + 2) * bps];
            break;
          case PNG_COLOR_TYPE_GRAY_ALPHA:  // "LA" -> RGB drops alpha
            o[0] = o[1] = o[2] = in[(x * 2) * bps];
            break;
          case PNG_COLOR_TYPE_PALETTE: {  // "P" -> RGB ignores tRNS
            const int idx = in[x];
            if (static_cast<size_t>(idx) * 3 + 2 < raw.palette.size()) {
              o[0] = raw.palette[idx * 3];
              o[1] = raw.palette[idx * 3 + 1];
              o[2] = raw.palette[idx * 3 + 2];
            } else {  // PIL's palette is zero-filled past the PLTE entries
              o[0] = o[1] = o[2] = 0;
            }
            break;
          }
          default: {  // gray
            uint8_t v;
            if (depth == 16) v = in[x * 2] != 0 ? 255 : in[x * 2 + 1];
            else if (depth == 8) v = in[x];
            else if (depth == 4) v = static_cast<uint8_t>(in[x] * 0x11);
            else if (depth == 2) v = static_cast<uint8_t>(in[x] * 0x55);
            else v = in[x] ? 255 : 0;  // mode "1"
            o[0] = o[1] = o[2] = v;
          }
        }
      }
    }
  }
  if (!raw.exif.empty()) out.exif_orientation = orientation_from_exif_block(raw.exif.data(), raw.exif.size());
  return out;
}

// ---------------------------------------------------------------------------------------------
// JPEG (libjpeg-turbo with its defaults, as PIL uses it: ISLOW IDCT, fancy upsampling)

struct JpegState {
  jpeg_error_mgr mgr;  // first member: libjpeg hands back this pointer
  jmp_buf jmp;
  char msg[JMSG_LENGTH_MAX];
  int msg_code;
  bool hit_eof;
};

void jpeg_error_exit_cb(j_common_ptr c) {
  auto* st = reinterpret_cast<JpegState*>(c->err);
  (*c->err->format_message)(c, st->msg);
  st->msg_code = c->err->msg_code;
  longjmp(st->jmp, 1);
}

void jpeg_emit_cb(j_common_ptr c, int level) {
  // Running out of data is PIL's "image file is truncated". A scan that ends before its last
  // block ("premature end of data segment") PIL fills with grey; we refuse it too: a 200-byte file
  // declaring 13000 x 13000 pixels would otherwise cost ~10 s and 1 GB for a grey image. Other
  // corrupt-data warnings are tolerated, as PIL does.
  if (level < 0 && (c->err->msg_code == JWRN_JPEG_EOF || c->err->msg_code == JWRN_HIT_MARKER))
    reinterpret_cast<JpegState*>(c->err)->hit_eof = true;
}

struct JpegRaw {
  int width = 0, height = 0, components = 0;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> exif;
  bool truncated = false, too_large = false, bad_components = false;
};

bool jpeg_decode_raw(JpegState* st, jpeg_decompress_struct* cinfo, const uint8_t* data, size_t size,
                     JpegRaw* raw) {
  cinfo->err = jpeg_std_error(&st->mgr);
  st->mgr.error_exit = jpeg_error_exit_cb;
  st->mgr.emit_message = jpeg_emit_cb;
  st->hit_eof = false;
  if (setjmp(st->jmp)) {
    jpeg_destroy_decompress(cinfo);
    return false;
  }
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0) {
      raw->exif.assign(m->data, m->data + m->data_length);
      break;  // PIL uses the first Exif segment
    }
  }
  raw->width = static_cast<int>(cinfo->image_width);
  raw->height = static_cast<int>(cinfo->image_height);
  raw->components = cinfo->num_components;
  if (refused_size(cinfo->image_width, cinfo->image_height) || raw->width == 0 ||
      raw->height == 0) {
    raw->too_large = true;
    jpeg_destroy_decompress(cinfo);
    return true;
  }
  // PIL picks the mode from the component count: 1 -> L, 3 -> RGB, 4 -> CMYK.
  if (cinfo->num_components == 1) cinfo->out_color_space = JCS_GRAYSCALE;
  else if (cinfo->num_components == 3) cinfo->out_color_space = JCS_RGB;
  else if (cinfo->num_components == 4) cinfo->out_color_space = JCS_CMYK;
  else {
    raw->bad_components = true;
    jpeg_destroy_decompress(cinfo);
    return true;
  }
  jpeg_start_decompress(cinfo);
  // libjpeg pads missing data with grey and goes on; a 200-byte file declaring 13000 x 13000
  // pixels would then cost seconds of decoding for an image we refuse anyway. Stop at the first
  // sign of missing data (a progressive file's start reads every scan and may already meet it).
  if (!st->hit_eof) {
    const size_t stride = static_cast<size_t>(cinfo->output_width) * cinfo->output_components;
    // Reserved, not filled: pages are touched row by row, so refusing after the first rows is cheap.
    raw->pixels.reserve(stride * cinfo->output_height);
    while (cinfo->output_scanline < cinfo->output_height && !st->hit_eof) {
      raw->pixels.resize(stride * (cinfo->output_scanline + 1));
      JSAMPROW row = raw->pixels.data() + stride * cinfo->output_scanline;
      if (jpeg_read_scanlines(cinfo, &row, 1) != 1) break;
    }
  }
  // Missing data after the last scanline (e.g. no EOI) does not bother PIL; missing pixels do.
  raw->truncated = st->hit_eof || cinfo->output_scanline < cinfo->output_height;
  if (!raw->truncated) jpeg_finish_decompress(cinfo);
  jpeg_destroy_decompress(cinfo);
  return true;
}

DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  JpegState st;
  st.msg[0] = 0;
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  JpegRaw raw;
  st.msg_code = 0;
  if (!jpeg_decode_raw(&st, &cinfo, data, size, &raw)) {
    if (st.msg_code == JERR_EMPTY_IMAGE) fail(name, "image has zero size (JPEG declares no rows or columns)");
    fail(name, std::string("corrupt or unreadable JPEG (") + st.msg + ")");
  }
  check_dimensions(name, static_cast<uint64_t>(raw.width), static_cast<uint64_t>(raw.height));
  if (raw.bad_components)
    fail(name, "unsupported JPEG with " + std::to_string(raw.components) + " colour components");
  if (raw.truncated) fail(name, "JPEG file is truncated or corrupt (image data ends before the last row)");

  const int w = raw.width, h = raw.height;
  DecodedImage out;
  out.image = new_image(w, h, 3);
  const size_t n = static_cast<size_t>(w) * h;
  uint8_t* o = out.image.pixels.data();
  const uint8_t* in = raw.pixels.data();
  if (raw.components == 3) {
    std::memcpy(o, in, n * 3);
  } else if (raw.components == 1) {
    for (size_t i = 0; i < n; ++i) o[i * 3] = o[i * 3 + 1] = o[i * 3 + 2] = in[i];
  } else {
    // PIL decodes every CMYK JPEG as "CMYK;I" (Adobe inverted), then cmyk2rgb.
    for (size_t i = 0; i < n; ++i) {
      const int c = 255 - in[i * 4], m = 255 - in[i * 4 + 1], yv = 255 - in[i * 4 + 2], k = 255 - in[i * 4 + 3];
      const int nk = 255 - k;
      o[i * 3] = clip8(nk - muldiv255(c, nk));
      o[i * 3 + 1] = clip8(nk - muldiv255(m, nk));
      o[i * 3 + 2] = clip8(nk - muldiv255(yv, nk));
    }
  }
  if (!raw.exif.empty()) out.exif_orientation = orientation_from_exif_block(raw.exif.data(), raw.exif.size());
  return out;
}

std::string describe_unknown(const uint8_t* d, size_t n) {
  auto starts = [&](const char* magic, size_t len) { return n >= len && std::memcmp(d, magic, len) == 0; };
  if (starts("GIF8", 4)) return "GIF images are not supported (PNG or JPEG only)";
  if (starts("BM", 2)) return "BMP images are not supported (PNG or JPEG only)";
  if (n >= 12 && starts("RIFF", 4) && std::memcmp(d + 8, "WEBP", 4) == 0)
    return "WebP images are not supported (PNG or JPEG only)";
  if (starts("II*\0", 4) || starts("MM\0*", 4)) return "TIFF images are not supported (PNG or JPEG only)";
  return "not a PNG or JPEG image (unrecognised content)";
}

}  // namespace

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name, bool want_exif) {
  if (!data || size == 0) fail(name, "file is empty (0 bytes), not an image");
  static const uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 8 && std::memcmp(data, kPngMagic, 8) == 0) return decode_png(data, size, name, want_exif);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(data, size, name);
  fail(name, describe_unknown(data, size));
}

DecodedImage decode_image_file(const std::string& path, bool want_exif) {
  uint64_t size = 0;
  const int fd = io::open_regular_file(path, "image", &size);
  FILE* f = ::fdopen(fd, "rb");
  if (!f) {
    ::close(fd);
    fail(path, std::string("cannot open image (") + std::strerror(errno) + ")");
  }
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  const bool read_error = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (read_error) fail(path, std::string("cannot read image (") + std::strerror(err) + ")");
  return decode_image(bytes.data(), bytes.size(), path, want_exif);
}

}  // namespace vggt::preprocess

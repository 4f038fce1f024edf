// Preprocessing against the official load_and_preprocess_images goldens, FrameInfo geometry,
// PIL mode conversions, EXIF orientation and bad-input errors.
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csetjmp>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "testing/golden.h"
#include "testing/temp_dir.h"
#include "testing/peak_rss.h"
#include "io/checkpoint.h"
#include "preprocess/exif_orientation.h"
#include "preprocess/image_decode.h"
#include "preprocess/pil_resample.h"
#include "preprocess/preprocess.h"

namespace pp = vggt::preprocess;

namespace {

using vggt::testing::shared_dir;

bool exists(const std::string& p) {
  struct stat sb;
  return ::stat(p.c_str(), &sb) == 0;
}

#define REQUIRE_SHARED(dir)                                                                          \
  const std::string dir = shared_dir();                                                              \
  if (dir.empty() || !exists(dir + "/goldens")) {                                                    \
    GTEST_SKIP() << "\n*** SKIPPED: shared reference data not found (set VGGT_SHARED_DIR; tried '" \
                 << dir << "') ***";                                                                 \
  }

// Fresh scratch directory per test, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = ::testing::TempDir() + "vggt_preprocess_" + std::to_string(::getpid()) + "_" + info->name();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// ---- fixture writers (libpng / libjpeg), so tests need no binary files in the repo ----

struct PngSpec {
  int width = 0, height = 0, color_type = PNG_COLOR_TYPE_RGB, bit_depth = 8;
  std::vector<uint8_t> data;  // packed rows as PNG stores them (16-bit big-endian)
  std::vector<png_color> palette;
  std::vector<uint8_t> trns;  // palette alpha entries
  std::vector<uint8_t> exif;  // TIFF block for an eXIf chunk
  bool interlaced = false;
};

void write_png(const std::string& path, const PngSpec& s) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    FAIL() << "libpng could not write " << path;
  }
  png_init_io(png, f);
  png_set_benign_errors(png, 1);  // lets a test write an out-of-palette index on purpose
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
               s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) png_set_PLTE(png, info, s.palette.data(), static_cast<int>(s.palette.size()));
  if (!s.trns.empty()) png_set_tRNS(png, info, s.trns.data(), static_cast<int>(s.trns.size()), nullptr);
  if (!s.exif.empty()) png_set_eXIf_1(png, info, static_cast<png_uint_32>(s.exif.size()), const_cast<png_bytep>(s.exif.data()));
  png_write_info(png, info);
  const size_t stride = s.data.size() / s.height;
  std::vector<png_bytep> rows(s.height);
  for (int y = 0; y < s.height; ++y) rows[y] = const_cast<png_bytep>(s.data.data() + stride * y);
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

PngSpec rgb_png(const pp::Image8& im) {
  PngSpec s;
  s.width = im.width;
  s.height = im.height;
  s.color_type = im.channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB;
  s.data = im.pixels;
  return s;
}

void write_jpeg(const std::string& path, const pp::Image8& im, int quality, const std::vector<uint8_t>& app1) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&c, &buf, &len);
  c.image_width = im.width;
  c.image_height = im.height;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  if (!app1.empty()) jpeg_write_marker(&c, JPEG_APP0 + 1, app1.data(), static_cast<unsigned>(app1.size()));
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&im.pixels[static_cast<size_t>(c.next_scanline) * im.width * 3]);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  write_bytes(path, std::string(reinterpret_cast<char*>(buf), len));
  std::free(buf);
}

// Minimal TIFF block with IFD0 holding only Orientation.
std::vector<uint8_t> exif_tiff(int orientation, bool big_endian) {
  if (big_endian)
    return {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, uint8_t(orientation), 0, 0, 0, 0, 0, 0};
  return {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, uint8_t(orientation), 0, 0, 0, 0, 0, 0, 0};
}

pp::Image8 make_image(int w, int h, int ch) {
  pp::Image8 im;
  im.width = w;
  im.height = h;
  im.channels = ch;
  im.pixels.resize(static_cast<size_t>(w) * h * ch);
  return im;
}

// ---- golden comparison ----

struct Diff {
  double max_abs = 0, rms = 0;
  int64_t mismatches = 0, count = 0;
};

Diff compare(const vggt::Tensor& got, const std::vector<float>& want) {
  Diff d;
  double sq = 0;
  d.count = got.numel();
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - want[i]);
    d.max_abs = std::max(d.max_abs, e);
    sq += e * e;
    if (got[i] != want[i]) ++d.mismatches;
  }
  d.rms = std::sqrt(sq / std::max<int64_t>(1, d.count));
  return d;
}

void check_golden(const std::string& case_dir, const std::string& expected_file,
                  const std::vector<std::string>& files, pp::Mode mode) {
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(case_dir + "/" + f);
  for (const auto& p : paths)
    if (!exists(p)) GTEST_SKIP() << "\n*** SKIPPED: golden input missing: " << p << " ***";
  auto reader = vggt::io::open_safetensors(case_dir + "/" + expected_file);
  const vggt::io::TensorInfo* t = reader->find("images");
  ASSERT_NE(t, nullptr) << expected_file << " has no 'images'";
  std::vector<float> want(static_cast<size_t>(t->numel()));
  vggt::io::convert_to_f32(*t, want.data());

  const pp::Batch b = pp::load_and_preprocess(paths, mode);
  ASSERT_EQ(b.images.shape(), t->shape) << "got " << b.images.shape_str();
  ASSERT_EQ(b.frames.size(), files.size());
  const Diff d = compare(b.images, want);
  std::printf("[ golden   ] %s/%s: max|diff| = %.3g, rms = %.3g, %lld of %lld values differ\n",
              case_dir.substr(case_dir.rfind('/') + 1).c_str(), expected_file.c_str(), d.max_abs, d.rms,
              static_cast<long long>(d.mismatches), static_cast<long long>(d.count));
  // Tolerance from goldens/README.md: one 8-bit level per value, 2e-3 rms (a decoder or
  // rounding difference); a geometry or filter error is far outside it.
  EXPECT_LE(d.max_abs, 1.0 / 255 + 1e-6);
  EXPECT_LE(d.rms, 2e-3);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Goldens

TEST(PreprocessGolden, Crop) {
  REQUIRE_SHARED(shared);
  check_golden(shared + "/goldens/preprocess-crop", "expected.safetensors",
               {"images/frame_00.png", "images/frame_01.jpg", "images/frame_02.png"}, pp::Mode::Crop);
}

TEST(PreprocessGolden, Pad) {
  REQUIRE_SHARED(shared);
  check_golden(shared + "/goldens/preprocess-pad", "expected.safetensors",
               {"images/frame_00.png", "images/frame_01.png", "images/frame_02.jpg"}, pp::Mode::Pad);
}

const std::vector<std::string> kKitchen = {"../../datasets/kitchen/images/00.png", "../../datasets/kitchen/images/01.png",
                                           "../../datasets/kitchen/images/02.png", "../../datasets/kitchen/images/03.png"};

TEST(PreprocessGolden, Kitchen4Crop) {
  REQUIRE_SHARED(shared);
  check_golden(shared + "/goldens/preprocess-kitchen-4", "expected-crop.safetensors", kKitchen, pp::Mode::Crop);
}

TEST(PreprocessGolden, Kitchen4Pad) {
  REQUIRE_SHARED(shared);
  check_golden(shared + "/goldens/preprocess-kitchen-4", "expected-pad.safetensors", kKitchen, pp::Mode::Pad);
}

TEST(PreprocessGolden, Kitchen4FrameInfo) {
  REQUIRE_SHARED(shared);
  std::vector<std::string> paths;
  for (const auto& f : kKitchen) paths.push_back(shared + "/goldens/preprocess-kitchen-4/" + f);
  if (!exists(paths[0])) GTEST_SKIP() << "\n*** SKIPPED: kitchen dataset missing ***";
  // 779x520: crop -> 518 x round(520*518/779/14)*14 = 518x350; pad -> same, centred in 518x518.
  const pp::Batch c = pp::load_and_preprocess(paths, pp::Mode::Crop);
  const pp::FrameInfo& fc = c.frames[0];
  EXPECT_EQ(fc.path, paths[0]);
  EXPECT_EQ(fc.orig_width, 779);
  EXPECT_EQ(fc.orig_height, 520);
  EXPECT_DOUBLE_EQ(fc.scale_x, 779.0 / 518);
  EXPECT_DOUBLE_EQ(fc.scale_y, 520.0 / 350);
  EXPECT_EQ(fc.offset_x, 0);
  EXPECT_EQ(fc.offset_y, 0);
  EXPECT_EQ(fc.content_x0, 0);
  EXPECT_EQ(fc.content_y0, 0);
  EXPECT_EQ(fc.content_width, 518);
  EXPECT_EQ(fc.content_height, 350);
  const pp::Batch p = pp::load_and_preprocess(paths, pp::Mode::Pad);
  const pp::FrameInfo& fp = p.frames[3];
  EXPECT_EQ(fp.offset_x, 0);
  EXPECT_EQ(fp.offset_y, 84);  // (518 - 350) / 2
  EXPECT_EQ(fp.content_y0, 84);
  EXPECT_EQ(fp.content_height, 350);
}

// 25 frames of 779x520 must preprocess well under a second on 2 idle cores. The machine is
// shared, so the bound is on CPU time (all threads), which load does not inflate; wall time is
// printed for information (about 0.25 s idle on 2 cores, Release).
TEST(PreprocessGolden, Kitchen25FramesTiming) {
  REQUIRE_SHARED(shared);
  const std::string dir = shared + "/datasets/kitchen/images/";
  std::vector<std::string> paths;
  for (int i = 0; i < 25; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%02d.png", i);
    if (!exists(dir + name)) GTEST_SKIP() << "\n*** SKIPPED: kitchen dataset has fewer than 25 frames ***";
    paths.push_back(dir + name);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  const pp::Batch b = pp::load_and_preprocess(paths, pp::Mode::Crop);
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ timing   ] 25 frames 779x520 -> %s: %.3f s wall, %.3f s CPU\n", b.images.shape_str().c_str(), wall, cpu);
  EXPECT_EQ(b.images.dim(0), 25);
#ifdef NDEBUG
  EXPECT_LT(cpu, 1.5);  // about 0.4 s CPU in Release; 2 cores halve the wall time
#endif
}

// ---------------------------------------------------------------------------------------------
// Geometry / FrameInfo

namespace {

// R encodes x, G encodes y (linear ramps): bicubic reproduces linear functions, so the
// preprocessed value at (u, v) must match the ramp at the FrameInfo-mapped position.
pp::Image8 ramp_image(int w, int h) {
  pp::Image8 im = make_image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &im.pixels[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(std::lround(20 + 215.0 * x / (w - 1)));
      p[1] = static_cast<uint8_t>(std::lround(20 + 215.0 * y / (h - 1)));
      p[2] = 100;
    }
  return im;
}

void check_mapping(const pp::Batch& b, int s, int w, int h) {
  const pp::FrameInfo& fi = b.frames[s];
  const int H = static_cast<int>(b.images.dim(2)), W = static_cast<int>(b.images.dim(3));
  const float* img = b.images.data() + static_cast<size_t>(s) * 3 * H * W;
  int checked = 0;
  for (int v = 0; v < H; v += 7)
    for (int u = 0; u < W; u += 5) {
      const bool inside = u >= fi.content_x0 && u < fi.content_x0 + fi.content_width && v >= fi.content_y0 &&
                          v < fi.content_y0 + fi.content_height;
      const float r = img[static_cast<size_t>(v) * W + u], g = img[static_cast<size_t>(H + v) * W + u];
      if (!inside) {
        EXPECT_EQ(r, 1.0f) << "padding must be white at " << u << "," << v;
        EXPECT_EQ(g, 1.0f);
        continue;
      }
      const double x = (u + 0.5 - fi.offset_x) * fi.scale_x - 0.5;
      const double y = (v + 0.5 - fi.offset_y) * fi.scale_y - 0.5;
      // Away from the borders (where the filter is truncated) the ramp is reproduced.
      if (x < 3 * fi.scale_x || y < 3 * fi.scale_y || x > w - 1 - 3 * fi.scale_x || y > h - 1 - 3 * fi.scale_y) continue;
      const double er = (20 + 215.0 * x / (w - 1)) / 255, eg = (20 + 215.0 * y / (h - 1)) / 255;
      ASSERT_NEAR(r, er, 1.6 / 255) << "x mapping wrong at u=" << u << " v=" << v << " (frame " << s << ")";
      ASSERT_NEAR(g, eg, 1.6 / 255) << "y mapping wrong at u=" << u << " v=" << v << " (frame " << s << ")";
      ++checked;
    }
  EXPECT_GT(checked, 50);
}

}  // namespace

TEST(PreprocessGeometry, CropTallImageCentreCropMapping) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  write_png(d + "/tall.png", rgb_png(ramp_image(100, 300)));
  const pp::Batch b = pp::load_and_preprocess({d + "/tall.png"}, pp::Mode::Crop);
  // new height = round(300 * 5.18 / 14) * 14 = 111 * 14 = 1554, crop rows [518, 1036).
  ASSERT_EQ(b.images.shape(), (std::vector<int64_t>{1, 3, 518, 518}));
  const pp::FrameInfo& fi = b.frames[0];
  EXPECT_DOUBLE_EQ(fi.scale_x, 100.0 / 518);
  EXPECT_DOUBLE_EQ(fi.scale_y, 300.0 / 1554);
  EXPECT_EQ(fi.offset_y, -518);
  EXPECT_EQ(fi.content_y0, 0);
  EXPECT_EQ(fi.content_height, 518);
  check_mapping(b, 0, 100, 300);
}

TEST(PreprocessGeometry, PadWideAndTallMapping) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  write_png(d + "/wide.png", rgb_png(ramp_image(300, 120)));
  write_png(d + "/tall.png", rgb_png(ramp_image(90, 200)));
  const pp::Batch b = pp::load_and_preprocess({d + "/wide.png", d + "/tall.png"}, pp::Mode::Pad);
  ASSERT_EQ(b.images.shape(), (std::vector<int64_t>{2, 3, 518, 518}));
  // wide: 518 x round(120*518/300/14)*14 = 518x210 -> top pad 154.
  EXPECT_EQ(b.frames[0].content_height, 210);
  EXPECT_EQ(b.frames[0].content_y0, 154);
  EXPECT_EQ(b.frames[0].offset_y, 154);
  EXPECT_EQ(b.frames[0].offset_x, 0);
  // tall: round(90*518/200/14)*14 = round(16.65)*14 = 238 x 518 -> left pad 140.
  EXPECT_EQ(b.frames[1].content_width, 238);
  EXPECT_EQ(b.frames[1].content_x0, 140);
  EXPECT_EQ(b.frames[1].offset_x, 140);
  EXPECT_DOUBLE_EQ(b.frames[1].scale_x, 90.0 / 238);
  check_mapping(b, 0, 300, 120);
  check_mapping(b, 1, 90, 200);
}

TEST(PreprocessGeometry, MixedSizesPadToLargestInCropMode) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  write_png(d + "/a.png", rgb_png(ramp_image(200, 100)));  // -> 518 x 259 rounded: 518x252
  write_png(d + "/b.png", rgb_png(ramp_image(160, 120)));  // -> 518x392
  const pp::Batch b = pp::load_and_preprocess({d + "/a.png", d + "/b.png"}, pp::Mode::Crop);
  // round(100*2.59/14) = round(18.5) = 18 (ties to even, Python's round) -> 252.
  ASSERT_EQ(b.images.shape(), (std::vector<int64_t>{2, 3, 392, 518}));
  EXPECT_EQ(b.frames[0].content_height, 252);
  EXPECT_EQ(b.frames[0].content_y0, 70);  // (392 - 252) / 2
  EXPECT_EQ(b.frames[0].offset_y, 70);
  EXPECT_EQ(b.frames[1].content_y0, 0);
  check_mapping(b, 0, 200, 100);
  check_mapping(b, 1, 160, 120);
}

TEST(PreprocessGeometry, SameSizeIsCopiedUnchanged) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  pp::Image8 im = ramp_image(518, 350);
  write_png(d + "/exact.png", rgb_png(im));
  const pp::Batch b = pp::load_and_preprocess({d + "/exact.png"}, pp::Mode::Crop);
  ASSERT_EQ(b.images.shape(), (std::vector<int64_t>{1, 3, 350, 518}));
  for (int y = 0; y < 350; y += 13)
    for (int x = 0; x < 518; x += 11)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(b.images[(static_cast<size_t>(c) * 350 + y) * 518 + x],
                  im.pixels[(static_cast<size_t>(y) * 518 + x) * 3 + c] / 255.0f);
}

TEST(PreprocessGeometry, ModeFromString) {
  EXPECT_EQ(pp::mode_from_string("crop"), pp::Mode::Crop);
  EXPECT_EQ(pp::mode_from_string("pad"), pp::Mode::Pad);
  EXPECT_THROW(pp::mode_from_string("square"), std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// Resampler properties (exactness itself is covered by the goldens)

TEST(PilResample, ConstantStaysConstantAndExtremesClip) {
  pp::Image8 im = make_image(37, 23, 3);
  std::fill(im.pixels.begin(), im.pixels.end(), 77);
  for (auto [w, h] : {std::pair{518, 322}, std::pair{11, 5}, std::pair{37, 60}, std::pair{80, 23}}) {
    const pp::Image8 r = pp::resize_bicubic_pil(im, w, h);
    ASSERT_EQ(r.width, w);
    ASSERT_EQ(r.height, h);
    for (uint8_t v : r.pixels) ASSERT_EQ(v, 77);
  }
  // A hard 0/255 edge overshoots with a = -0.5; results must clip, not wrap.
  pp::Image8 edge = make_image(8, 1, 3);
  for (int x = 0; x < 8; ++x)
    for (int c = 0; c < 3; ++c) edge.pixels[x * 3 + c] = x < 4 ? 0 : 255;
  const pp::Image8 up = pp::resize_bicubic_pil(edge, 64, 1);
  for (int x = 0; x < 64; ++x) {
    if (x < 24) {
      EXPECT_EQ(up.pixels[x * 3], 0) << x;
    }
    if (x >= 40) {
      EXPECT_EQ(up.pixels[x * 3], 255) << x;
    }
  }
  EXPECT_THROW(pp::resize_bicubic_pil(im, 0, 5), std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// PNG colour types -> PIL convert("RGB")

TEST(PngModes, ConvertLikePil) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  struct Case {
    const char* name;
    PngSpec spec;
    std::vector<uint8_t> want_rgb;  // per pixel
    int want_channels = 3;
  };
  std::vector<Case> cases;
  {  // 16-bit gray opens as "I;16"; convert("RGB") clamps to 255 instead of rescaling.
    PngSpec s;
    s.width = 3; s.height = 1; s.color_type = PNG_COLOR_TYPE_GRAY; s.bit_depth = 16;
    s.data = {0x00, 0x80, 0x01, 0x02, 0xFF, 0xFF};
    cases.push_back({"gray16", s, {128, 128, 128, 255, 255, 255, 255, 255, 255}});
  }
  {  // 2-bit gray scales by 0x55, 4-bit by 0x11, 1-bit to 0/255.
    PngSpec s;
    s.width = 4; s.height = 1; s.color_type = PNG_COLOR_TYPE_GRAY; s.bit_depth = 2;
    s.data = {0b00011011};
    cases.push_back({"gray2", s, {0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255}});
    PngSpec s4 = s;
    s4.bit_depth = 4; s4.width = 2; s4.data = {0x3C};
    cases.push_back({"gray4", s4, {51, 51, 51, 204, 204, 204}});
    PngSpec s1 = s;
    s1.bit_depth = 1; s1.width = 3; s1.data = {0b10100000};
    cases.push_back({"gray1", s1, {255, 255, 255, 0, 0, 0, 255, 255, 255}});
  }
  {  // gray + alpha: alpha dropped, not composited (mode "LA" is not "RGBA").
    PngSpec s;
    s.width = 2; s.height = 1; s.color_type = PNG_COLOR_TYPE_GRAY_ALPHA; s.bit_depth = 8;
    s.data = {10, 0, 200, 128};
    cases.push_back({"la8", s, {10, 10, 10, 200, 200, 200}});
    PngSpec s16 = s;
    s16.bit_depth = 16; s16.data = {0x12, 0x34, 0, 0, 0xAB, 0xCD, 0x80, 0};
    cases.push_back({"la16", s16, {0x12, 0x12, 0x12, 0xAB, 0xAB, 0xAB}});
  }
  {  // palette with tRNS: transparency ignored by convert("RGB"); interlaced on purpose.
    PngSpec s;
    s.width = 3; s.height = 2; s.color_type = PNG_COLOR_TYPE_PALETTE; s.bit_depth = 8; s.interlaced = true;
    s.palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    s.trns = {0, 128};
    s.data = {0, 1, 2, 2, 7, 0};  // index 7 is past the palette: black, as in Pillow
    cases.push_back({"palette", s, {255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 0, 0, 255, 0, 0}});
  }
  {  // 16-bit RGB keeps the high byte; 16-bit RGBA stays RGBA.
    PngSpec s;
    s.width = 1; s.height = 1; s.color_type = PNG_COLOR_TYPE_RGB; s.bit_depth = 16;
    s.data = {0xAB, 0xFF, 0x01, 0xFF, 0x7F, 0x80};
    cases.push_back({"rgb16", s, {0xAB, 0x01, 0x7F}});
    PngSpec a = s;
    a.color_type = PNG_COLOR_TYPE_RGB_ALPHA; a.data = {0xAB, 0xFF, 0x01, 0xFF, 0x7F, 0x80, 0x40, 0x00};
    cases.push_back({"rgba16", a, {0xAB, 0x01, 0x7F, 0x40}, 4});
  }
  for (const Case& c : cases) {
    const std::string path = d + "/" + c.name + ".png";
    write_png(path, c.spec);
    const pp::DecodedImage im = pp::decode_image_file(path);
    EXPECT_EQ(im.image.channels, c.want_channels) << c.name;
    EXPECT_EQ(im.image.width, c.spec.width) << c.name;
    EXPECT_EQ(im.image.pixels, c.want_rgb) << c.name;
  }
}

TEST(PngModes, RgbaIsCompositedOnWhiteLikePil) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  // Pillow's alpha_composite over opaque white = round((v*a + 255*(255-a)) / 255) here.
  // Width 518 and height 42: crop mode keeps the size, so values pass straight through.
  pp::Image8 im = make_image(518, 42, 4);
  const uint8_t px[4][4] = {{200, 100, 0, 0}, {200, 100, 0, 255}, {200, 100, 0, 128}, {0, 0, 0, 1}};
  for (int y = 0; y < 42; ++y)
    for (int x = 0; x < 518; ++x) std::memcpy(&im.pixels[(y * 518 + x) * 4], px[x % 4], 4);
  write_png(d + "/rgba.png", rgb_png(im));
  const pp::Batch b = pp::load_and_preprocess({d + "/rgba.png"}, pp::Mode::Crop);
  ASSERT_EQ(b.images.shape(), (std::vector<int64_t>{1, 3, 42, 518}));
  auto at = [&](int c, int x) { return std::lround(b.images[static_cast<size_t>(c) * b.images.dim(2) * 518 + x] * 255); };
  EXPECT_EQ(at(0, 0), 255);  // fully transparent -> white
  EXPECT_EQ(at(1, 0), 255);
  EXPECT_EQ(at(0, 1), 200);  // opaque -> unchanged
  EXPECT_EQ(at(1, 1), 100);
  EXPECT_EQ(at(0, 2), 227);  // (200*128 + 255*127)/255 = 227.4
  EXPECT_EQ(at(1, 2), 177);  // (100*128 + 255*127)/255 = 177.2
  EXPECT_EQ(at(2, 2), 127);  // 255*127/255
  EXPECT_EQ(at(0, 3), 254);  // 255*254/255
}

// ---------------------------------------------------------------------------------------------
// EXIF orientation

TEST(ExifOrientation, ParseBothByteOrdersAndRejectGarbage) {
  for (int o = 1; o <= 8; ++o) {
    auto le = exif_tiff(o, false), be = exif_tiff(o, true);
    EXPECT_EQ(pp::parse_exif_orientation(le.data(), le.size()), o);
    EXPECT_EQ(pp::parse_exif_orientation(be.data(), be.size()), o);
  }
  auto bad = exif_tiff(9, false);
  EXPECT_EQ(pp::parse_exif_orientation(bad.data(), bad.size()), 1);
  auto trunc = exif_tiff(6, true);
  EXPECT_EQ(pp::parse_exif_orientation(trunc.data(), 12), 1);  // IFD entry cut off
  const uint8_t junk[] = {'X', 'X', 0, 42, 0, 0, 0, 8};
  EXPECT_EQ(pp::parse_exif_orientation(junk, sizeof junk), 1);
  auto huge_offset = exif_tiff(6, true);
  huge_offset[4] = 0x7F;  // IFD offset far past the end
  EXPECT_EQ(pp::parse_exif_orientation(huge_offset.data(), huge_offset.size()), 1);
}

TEST(ExifOrientation, AllEightTransforms) {
  // 3x2 image labelled a b c / d e f (one channel).
  pp::Image8 im = make_image(3, 2, 1);
  im.pixels = {'a', 'b', 'c', 'd', 'e', 'f'};
  const char* want[9] = {nullptr, "abcdef", "cbafed", "fedcba", "defabc", "adbecf", "daebfc", "fcebda", "cfbead"};
  for (int o = 1; o <= 8; ++o) {
    const pp::Image8 r = pp::apply_exif_orientation(im, o);
    EXPECT_EQ(std::string(r.pixels.begin(), r.pixels.end()), want[o]) << "orientation " << o;
    EXPECT_EQ(r.width, o >= 5 ? 2 : 3) << "orientation " << o;
  }
}

TEST(ExifOrientation, PngAndJpegEndToEnd) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  // 64x32: left half red, right half blue. Orientation 6 (rotate 90 clockwise) puts red on top.
  pp::Image8 im = make_image(64, 32, 3);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x) {
      uint8_t* p = &im.pixels[(static_cast<size_t>(y) * 64 + x) * 3];
      p[0] = x < 32 ? 230 : 10;
      p[1] = 10;
      p[2] = x < 32 ? 10 : 230;
    }
  PngSpec spec = rgb_png(im);
  spec.exif = exif_tiff(6, false);
  write_png(d + "/o6.png", spec);
  std::vector<uint8_t> app1 = {'E', 'x', 'i', 'f', 0, 0};
  for (uint8_t v : exif_tiff(6, true)) app1.push_back(v);
  write_jpeg(d + "/o6.jpg", im, 95, app1);

  for (const std::string name : {"o6.png", "o6.jpg"}) {
    const std::string path = d + "/" + name;
    EXPECT_EQ(pp::decode_image_file(path).exif_orientation, 6) << name;
    // Off (the official behaviour): untouched.
    const pp::Batch off = pp::load_and_preprocess({path}, pp::Mode::Pad, false);
    EXPECT_EQ(off.frames[0].orig_width, 64);
    EXPECT_EQ(off.frames[0].orig_height, 32);
    // On: upright 32x64, red on top, blue at the bottom.
    const pp::Batch on = pp::load_and_preprocess({path}, pp::Mode::Pad, true);
    const pp::FrameInfo& fi = on.frames[0];
    EXPECT_EQ(fi.orig_width, 32) << name;
    EXPECT_EQ(fi.orig_height, 64) << name;
    EXPECT_EQ(fi.content_width, 252) << name;  // round(32*518/64/14) = round(18.5) = 18 (ties to even)
    const size_t plane = 518 * 518;
    const int cx = fi.content_x0 + fi.content_width / 2;
    const float top_r = on.images[static_cast<size_t>(100) * 518 + cx], top_b = on.images[2 * plane + 100 * 518 + cx];
    const float bot_r = on.images[static_cast<size_t>(418) * 518 + cx], bot_b = on.images[2 * plane + 418 * 518 + cx];
    EXPECT_GT(top_r, 0.8f) << name;
    EXPECT_LT(top_b, 0.2f) << name;
    EXPECT_LT(bot_r, 0.2f) << name;
    EXPECT_GT(bot_b, 0.8f) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input

namespace {

void expect_error(const std::vector<std::string>& paths, const std::string& bad_path, const std::string& problem) {
  try {
    pp::load_and_preprocess(paths, pp::Mode::Crop);
    ADD_FAILURE() << "no error for " << bad_path;
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(bad_path), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(problem), std::string::npos) << "message does not say '" << problem << "': " << msg;
  }
}

}  // namespace

TEST(PreprocessErrors, BadFilesAreNamedWithTheProblem) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  const std::string good = d + "/good.png";
  write_png(good, rgb_png(ramp_image(40, 30)));

  expect_error({good, d + "/missing.png"}, d + "/missing.png", "No such file");
  write_bytes(d + "/text.png", "this is not an image, just text\n");
  expect_error({good, d + "/text.png"}, d + "/text.png", "not a PNG or JPEG");
  write_bytes(d + "/empty.jpg", "");
  expect_error({d + "/empty.jpg"}, d + "/empty.jpg", "empty");
  expect_error({d}, d, "directory");

  const std::string png = read_bytes(good);
  write_bytes(d + "/truncated.png", png.substr(0, png.size() / 2));
  expect_error({good, d + "/truncated.png"}, d + "/truncated.png", "corrupt or unreadable PNG");
  std::string flipped = png;
  flipped[png.size() / 2] = static_cast<char>(flipped[png.size() / 2] ^ 0x55);  // CRC / zlib failure
  write_bytes(d + "/flipped.png", flipped);
  expect_error({d + "/flipped.png"}, d + "/flipped.png", "corrupt or unreadable PNG");

  // IHDR with width 0 (CRC irrelevant: we reject before libpng does).
  std::string zero = png;
  zero[16] = zero[17] = zero[18] = zero[19] = 0;
  write_bytes(d + "/zero.png", zero);
  expect_error({d + "/zero.png"}, d + "/zero.png", "zero size");
  // A valid header announcing 60000x60000 pixels is refused before any allocation.
  std::string huge = png;
  const char dims[8] = {0, 0, char(0xEA), 0x60, 0, 0, char(0xEA), 0x60};
  huge.replace(16, 8, dims, 8);
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(huge.data() + 12), 17);
  const char crc_be[4] = {char(crc >> 24), char(crc >> 16), char(crc >> 8), char(crc)};
  huge.replace(29, 4, crc_be, 4);
  write_bytes(d + "/huge.png", huge);
  expect_error({d + "/huge.png"}, d + "/huge.png", "too large");

  write_jpeg(d + "/ok.jpg", ramp_image(64, 48), 90, {});
  const std::string jpg = read_bytes(d + "/ok.jpg");
  write_bytes(d + "/truncated.jpg", jpg.substr(0, jpg.size() / 2));
  expect_error({d + "/truncated.jpg"}, d + "/truncated.jpg", "truncated");
  std::string zero_jpg = jpg;  // SOF0 height field -> 0
  const size_t sof = zero_jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  zero_jpg[sof + 5] = zero_jpg[sof + 6] = 0;
  write_bytes(d + "/zero.jpg", zero_jpg);
  expect_error({d + "/zero.jpg"}, d + "/zero.jpg", "zero size");
  write_bytes(d + "/garbage.jpg", std::string("\xFF\xD8\xFF\xE0", 4) + std::string(100, 'x'));
  expect_error({d + "/garbage.jpg"}, d + "/garbage.jpg", "corrupt or unreadable JPEG");

  // Extreme aspect ratio: refused from the header, with the limit in the message.
  write_png(d + "/strip.png", rgb_png(ramp_image(2000, 10)));
  expect_error({d + "/strip.png"}, d + "/strip.png", "image is 2000 x 10: aspect ratio above the limit of 16:1");

  EXPECT_THROW(pp::load_and_preprocess({}, pp::Mode::Crop), std::runtime_error);
  // The good file alone still works (errors leave nothing behind).
  EXPECT_EQ(pp::load_and_preprocess({good}, pp::Mode::Crop).images.dim(0), 1);
}

// ---------------------------------------------------------------------------------------------
// Hostile images: work bounded by the output, limits named in errors

namespace {

pp::Image8 noise_image(int w, int h, int ch, uint32_t seed) {
  pp::Image8 im = make_image(w, h, ch);
  for (auto& p : im.pixels) {
    seed = seed * 1664525u + 1013904223u;
    p = static_cast<uint8_t>(seed >> 24);
  }
  return im;
}

}  // namespace

TEST(PilResample, RowWindowIsBitExactWithTheFullResize) {
  struct Case {
    int sw, sh, ow, oh, row0, rows;
  };
  const Case cases[] = {{50, 300, 518, 3108, 1295, 518}, {40, 23, 60, 90, 0, 90}, {40, 23, 60, 90, 10, 5},
                        {40, 23, 60, 90, 89, 1},         {518, 100, 518, 300, 7, 200}, {100, 50, 518, 50, 10, 20},
                        {100, 50, 100, 50, 5, 10},       {300, 40, 30, 4, 1, 2}};
  for (int ch : {3, 4})
    for (const Case& c : cases) {
      const pp::Image8 src = noise_image(c.sw, c.sh, ch, 7u * c.sw + c.sh);
      const pp::Image8 full = pp::resize_bicubic_pil(src, c.ow, c.oh);
      const pp::Image8 win = pp::resize_bicubic_pil_rows(src, c.ow, c.oh, c.row0, c.rows);
      ASSERT_EQ(win.width, c.ow);
      ASSERT_EQ(win.height, c.rows);
      const size_t row_len = static_cast<size_t>(c.ow) * ch;
      ASSERT_EQ(win.pixels.size(), row_len * c.rows);
      EXPECT_EQ(std::memcmp(win.pixels.data(), full.pixels.data() + c.row0 * row_len, win.pixels.size()), 0)
          << c.sw << "x" << c.sh << " -> " << c.ow << "x" << c.oh << " rows " << c.row0 << "+" << c.rows << " ch " << ch;
    }
  EXPECT_THROW(pp::resize_bicubic_pil_rows(noise_image(4, 4, 3, 1), 8, 8, 6, 3), std::runtime_error);
}

TEST(PreprocessLimits, TallCropResamplesOnlyTheCroppedRowsBitExactly) {
  // 20 x 320 (16:1, the limit): resized to 518 x 8288, of which 518 rows survive the crop.
  const ScratchDir scratch;
  const std::string p = scratch.path() + "/tall.png";
  const pp::Image8 img = noise_image(20, 320, 3, 99);
  write_png(p, rgb_png(img));
  const pp::Batch b = pp::load_and_preprocess({p}, pp::Mode::Crop);
  ASSERT_EQ(b.images.shape(), (std::vector<int64_t>{1, 3, 518, 518}));
  const pp::Image8 full = pp::resize_bicubic_pil(img, 518, 8288);
  const int top = (8288 - 518) / 2;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 518; ++y)
      for (int x = 0; x < 518; ++x) {
        const float want = static_cast<float>(full.pixels[(static_cast<size_t>(y + top) * 518 + x) * 3 + c]) / 255.0f;
        ASSERT_EQ(b.images[(static_cast<int64_t>(c) * 518 + y) * 518 + x], want) << c << " " << y << " " << x;
      }
  EXPECT_EQ(b.frames[0].offset_y, -top);
}

TEST(PreprocessLimits, AspectRatioAboveSixteenIsRefusedFromTheHeader) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  // The 85-byte PNG of the report: 1 x 2000 used to be resized to 518 x 1,036,000 (1.6 GB).
  write_png(d + "/needle.png", rgb_png(make_image(1, 2000, 3)));
  expect_error({d + "/needle.png"}, d + "/needle.png", "image is 1 x 2000: aspect ratio above the limit of 1:16");
  write_png(d + "/wide.png", rgb_png(make_image(340, 20, 3)));
  expect_error({d + "/wide.png"}, d + "/wide.png", "image is 340 x 20: aspect ratio above the limit of 16:1");
  write_jpeg(d + "/needle.jpg", make_image(8, 200, 3), 90, {});
  expect_error({d + "/needle.jpg"}, d + "/needle.jpg", "image is 8 x 200: aspect ratio above the limit of 1:16");
  // Exactly 16:1 is allowed, in both modes.
  write_png(d + "/ok.png", rgb_png(make_image(320, 20, 3)));
  EXPECT_EQ(pp::load_and_preprocess({d + "/ok.png"}, pp::Mode::Crop).images.dim(0), 1);
  EXPECT_EQ(pp::load_and_preprocess({d + "/ok.png"}, pp::Mode::Pad).images.dim(3), 518);
}

TEST(PreprocessLimits, FifosAndDevicesAreRefusedWithoutReading) {
  const ScratchDir scratch;
  const std::string fifo = scratch.path() + "/photo.png";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // A FIFO used to block the open forever, /dev/zero to be read without end.
  expect_error({fifo}, fifo, "image is a FIFO (named pipe), not a regular file");
  expect_error({"/dev/zero"}, "/dev/zero", "image is a character device, not a regular file");
}

using vggt::testing::peak_rss_kib;

// A few hundred bytes that declare an image near the pixel limit but carry the data of a 16 x 16
// one: refused after the rows they have, without decoding (or touching memory for) the rest.
TEST(PreprocessLimits, SmallFilesDeclaringHugeImagesAreRefusedAfterTheirData) {
  const ScratchDir scratch;
  const std::string& d = scratch.path();
  write_jpeg(d + "/small.jpg", ramp_image(16, 16), 90, {});
  std::string jpg = read_bytes(d + "/small.jpg");
  const size_t sof = jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  const char dims[4] = {char(13000 >> 8), char(13000 & 0xFF), char(13000 >> 8), char(13000 & 0xFF)};
  jpg.replace(sof + 5, 4, dims, 4);  // height, width
  write_bytes(d + "/bomb.jpg", jpg);

  // PNG: a valid 12000 x 12000 header (CRC fixed) and the IDAT of a 16 x 16 image.
  write_png(d + "/small.png", rgb_png(ramp_image(16, 16)));
  std::string png = read_bytes(d + "/small.png");
  const char pdims[8] = {0, 0, char(12000 >> 8), char(12000 & 0xFF), 0, 0, char(12000 >> 8), char(12000 & 0xFF)};
  png.replace(16, 8, pdims, 8);
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  const char crc_be[4] = {char(crc >> 24), char(crc >> 16), char(crc >> 8), char(crc)};
  png.replace(29, 4, crc_be, 4);
  write_bytes(d + "/bomb.png", png);

  const long before = peak_rss_kib();
  ASSERT_GT(before, 0);
  expect_error({d + "/bomb.jpg"}, d + "/bomb.jpg", "truncated or corrupt");
  expect_error({d + "/bomb.png"}, d + "/bomb.png", "corrupt or unreadable PNG");
  // Decoding either in full would touch 507 MB (JPEG) or 432 MB (PNG) of pixels.
  EXPECT_LT(peak_rss_kib() - before, 64 * 1024) << "peak RSS grew by " << (peak_rss_kib() - before) << " KiB";
}

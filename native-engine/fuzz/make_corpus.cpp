// Writes the seed corpus (fuzz/corpus/<harness>/): small valid inputs of each format, so the
// fuzzers start from the interesting paths. Run by scripts/fuzz.sh --make-corpus; the output is
// committed (a few KB) and regenerated only when formats change.
#include <cstdio>
#include <cstring>

#include <jpeglib.h>  // needs FILE and size_t declared first
#include <png.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> pattern(int w, int h, int ch) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * ch);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 37 + (i / ch) * 11);
  return px;
}

void png(const fs::path& p, int w, int h, int color_type, int depth, bool interlace) {
  FILE* f = std::fopen(p.c_str(), "wb");
  png_structp s = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(s);
  png_init_io(s, f);
  png_set_IHDR(s, info, w, h, depth, color_type, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  int ch = 1;
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    png_set_PLTE(s, info, pal, 4);
  } else {
    ch = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4 : color_type == PNG_COLOR_TYPE_GA ? 2 : 1;
  }
  png_write_info(s, info);
  const int row_bytes = (w * ch * depth + 7) / 8;
  std::vector<uint8_t> px = pattern(row_bytes, h, 1);
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    for (auto& v : px) v &= depth == 8 ? 3 : 0xff;
  std::vector<png_bytep> rows(h);
  for (int y = 0; y < h; ++y) rows[y] = &px[static_cast<size_t>(y) * row_bytes];
  png_write_image(s, rows.data());
  png_write_end(s, nullptr);
  png_destroy_write_struct(&s, &info);
  std::fclose(f);
}

void jpeg(const fs::path& p, int w, int h, int orientation, bool gray) {
  FILE* f = std::fopen(p.c_str(), "wb");
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = w;
  c.image_height = h;
  c.input_components = gray ? 1 : 3;
  c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 80, TRUE);
  jpeg_start_compress(&c, TRUE);
  if (orientation) {  // EXIF APP1 with one Orientation entry (little-endian TIFF)
    const uint8_t exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0,
                            static_cast<uint8_t>(orientation), 0, 0, 0, 0, 0, 0, 0};
    jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
  }
  std::vector<uint8_t> px = pattern(w, h, gray ? 1 : 3);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = &px[static_cast<size_t>(c.next_scanline) * w * (gray ? 1 : 3)];
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_corpus CORPUS_DIR PT_FIXTURE_DIR\n");
    return 2;
  }
  const fs::path out = argv[1], pt = argv[2];
  for (const char* h : {"fuzz_safetensors", "fuzz_pt", "fuzz_config", "fuzz_image", "fuzz_protocol"})
    fs::create_directories(out / h);

  // safetensors: an images tensor, mixed dtypes with metadata, an empty file body.
  std::vector<float> f32(3 * 14 * 14, 0.5f);
  vggt::io::write_safetensors((out / "fuzz_safetensors/images.safetensors").string(),
                              {{"images", vggt::io::DType::F32, {1, 3, 14, 14}, f32.data(), f32.size() * 4}});
  std::vector<uint16_t> half(6, 0x3c00);
  std::vector<double> f64(2, 1.5);
  vggt::io::write_safetensors((out / "fuzz_safetensors/dtypes.safetensors").string(),
                              {{"a.bf16", vggt::io::DType::BF16, {2, 3}, half.data(), 12},
                               {"b.f16", vggt::io::DType::F16, {6}, half.data(), 12},
                               {"c.f64", vggt::io::DType::F64, {2, 1}, f64.data(), 16}},
                              {{"format", "pt"}, {"frames", "[]"}});

  // .pt: the reader's own small fixtures (torch.save output, made by tools/make_pt_fixtures.py).
  for (const char* name : {"basic.pt", "deflated.pt", "views.pt", "protocol5.pt", "nested_model.pt"})
    fs::copy_file(pt / name, out / "fuzz_pt" / name, fs::copy_options::overwrite_existing);

  // config: the preset, a tiny model, one with every section.
  write(out / "fuzz_config/vggt-1b.json", vggt::ModelConfig::vggt_1b().to_json());
  write(out / "fuzz_config/tiny.json",
        R"({"embed_dim": 64, "depth": 2, "num_heads": 4, "encoder": {"depth": 1, "num_heads": 4},)"
        R"( "camera": {"trunk_depth": 1, "num_heads": 4, "iterations": 2}, "dpt": {"features": 16,)"
        R"( "out_channels": [8, 16, 32, 64], "intermediate_layer_idx": [0, 0, 1, 1]}, "track": {"enabled": false}})");

  // images (first byte selects crop/pad and EXIF handling in the harness).
  const fs::path img = out / "fuzz_image";
  png(img / "raw-rgb.png", 9, 7, PNG_COLOR_TYPE_RGB, 8, false);
  png(img / "raw-rgba16.png", 6, 10, PNG_COLOR_TYPE_RGBA, 16, false);
  png(img / "raw-gray1.png", 17, 3, PNG_COLOR_TYPE_GRAY, 1, false);
  png(img / "raw-palette.png", 8, 8, PNG_COLOR_TYPE_PALETTE, 8, true);
  png(img / "raw-ga.png", 5, 5, PNG_COLOR_TYPE_GA, 8, false);
  jpeg(img / "raw-rgb.jpg", 16, 9, 6, false);
  jpeg(img / "raw-gray.jpg", 8, 20, 0, true);
  {  // the data of a 16 x 9 image under a header declaring 13000 x 13000 (must be refused quickly)
    std::ifstream f(img / "raw-rgb.jpg", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t sof = bytes.find("\xFF\xC0");
    if (sof != std::string::npos) {
      const char dims[4] = {char(13000 >> 8), char(13000 & 0xFF), char(13000 >> 8), char(13000 & 0xFF)};
      bytes.replace(sof + 5, 4, dims, 4);
      write(img / "raw-bomb.jpg", bytes);
    }
  }
  for (const auto& e : fs::directory_iterator(img)) {
    if (e.path().filename().string().rfind("raw-", 0) != 0) continue;
    std::ifstream f(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::string stem = e.path().filename().string().substr(4);
    write(img / ("crop-" + stem), std::string(1, '\0') + bytes);
    write(img / ("pad-exif-" + stem), std::string(1, '\3') + bytes);
    fs::remove(e.path());
  }

  // protocol: one request of each type, split into reads of 7 bytes (first byte).
  write(out / "fuzz_protocol/requests.txt",
        std::string(1, '\6') +
            R"({"type":"load","id":"l","weights":"/w.safetensors","config":"vggt-1b","options":{"threads":2,"flags":{"bf16":true}}})"
            "\n"
            R"({"type":"infer","id":"i","images":["a.png","b.jpg"],"preprocess":"pad","output":"/o.safetensors"})"
            "\n"
            R"({"type":"infer","id":"t","input_tensor":"in.safetensors","output":"o.safetensors"})"
            "\n"
            R"({"type":"cancel","id":"c","job":"i"})"
            "\n"
            R"({"type":"load","id":"r","random":{"seed":3}})"
            "\n"
            R"({"type":"status","id":"s"})"
            "\r\n");
  return 0;
}

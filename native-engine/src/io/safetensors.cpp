#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/checked_math.h"
#include "io/file_util.h"
#include "io/json_guard.h"

namespace vggt::io {

using json = nlohmann::json;

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::I16: return "I16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    default: return 1;
  }
}

DType dtype_from_name(const std::string& n) {
  static const std::pair<const char*, DType> names[] = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
      {"I8", DType::I8},   {"U8", DType::U8},   {"I16", DType::I16},   {"I32", DType::I32},
      {"I64", DType::I64}, {"BOOL", DType::BOOL}};
  for (auto& [s, d] : names)
    if (n == s) return d;
  throw std::runtime_error("unsupported dtype '" + n + "'");
}

int64_t TensorInfo::numel() const { return checked_numel(shape); }

const TensorInfo* CheckpointReader::find(const std::string& name) const {
  for (auto& t : tensors())
    if (t.name == name) return &t;
  return nullptr;
}

size_t CheckpointReader::release_pages(const void* p, size_t n) const {
  if (!mapping_ || !mapping_->data()) return 0;
  const uintptr_t map_begin = reinterpret_cast<uintptr_t>(mapping_->data()), map_end = map_begin + mapping_->size();
  const uintptr_t at = reinterpret_cast<uintptr_t>(p);
  if (at < map_begin || at > map_end || n > map_end - at) return 0;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (at + page - 1) & ~(page - 1), end = (at + n) & ~(page - 1);
  if (end <= begin) return 0;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  return end - begin;
}

MappedFile::MappedFile(const std::string& path) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, "tensor file", &size);
  size_ = static_cast<size_t>(size);
  if (size_ > 0) {
    void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw std::runtime_error(path + ": mmap failed (" + std::strerror(errno) + ")");
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {

class SafetensorsReader : public CheckpointReader {
 public:
  explicit SafetensorsReader(const std::string& path) : file_(path) {
    path_ = path;
    mapping_ = &file_;
    const size_t size = file_.size();
    if (size < 8) throw std::runtime_error(path + ": not a safetensors file (only " + std::to_string(size) + " bytes)");
    uint64_t header_len;
    std::memcpy(&header_len, file_.data(), 8);
    if (header_len > limits::kMaxJsonHeaderBytes && header_len <= size - 8)
      throw std::runtime_error(path + ": safetensors header is " + std::to_string(header_len) +
                               " bytes, above the limit of " + std::to_string(limits::kMaxJsonHeaderBytes));
    if (header_len > size - 8)
      throw std::runtime_error(path + ": not a safetensors file or truncated (header length " +
                               std::to_string(header_len) + " exceeds file size " + std::to_string(size) + ")");
    const char* text = reinterpret_cast<const char*>(file_.data() + 8);
    const json header = parse_json_bounded(text, text + header_len, path, "safetensors header",
                                           limits::kMaxJsonHeaderBytes, limits::kMaxJsonDepth);
    if (!header.is_object()) throw std::runtime_error(path + ": safetensors header is not a JSON object");
    const uint8_t* base = file_.data() + 8 + header_len;
    const size_t data_size = size - 8 - header_len;
    for (auto& [name, v] : header.items()) {
      if (name == "__metadata__") {
        if (!v.is_object()) throw std::runtime_error(path + ": safetensors __metadata__ is not an object");
        for (auto& [k, mv] : v.items()) metadata_[k] = mv.is_string() ? mv.get<std::string>() : dump_json(mv);
        continue;
      }
      TensorInfo t;
      t.name = name;
      std::vector<uint64_t> off;
      try {
        if (!v.is_object()) throw std::runtime_error("entry is not an object");
        t.dtype = dtype_from_name(v.at("dtype").get<std::string>());
        t.shape = v.at("shape").get<std::vector<int64_t>>();
        off = v.at("data_offsets").get<std::vector<uint64_t>>();
        checked_numel(t.shape);
      } catch (const std::exception& e) {
        throw std::runtime_error(path + ": tensor '" + name + "': " + e.what());
      }
      if (off.size() != 2 || off[0] > off[1])
        throw std::runtime_error(path + ": tensor '" + name + "' has invalid data_offsets");
      if (off[1] > data_size)
        throw std::runtime_error(path + ": truncated file: tensor '" + name + "' ends at byte " +
                                 std::to_string(off[1]) + " of a " + std::to_string(data_size) +
                                 "-byte data section");
      t.data = base + off[0];
      t.nbytes = off[1] - off[0];
      if (t.nbytes != checked_bytes(t.numel(), dtype_size(t.dtype)))
        throw std::runtime_error(path + ": tensor '" + name + "' byte size " + std::to_string(t.nbytes) +
                                 " does not match shape " + shape_to_string(t.shape));
      tensors_.push_back(std::move(t));
    }
  }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }

 private:
  MappedFile file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace

std::unique_ptr<CheckpointReader> open_safetensors(const std::string& path) {
  return std::make_unique<SafetensorsReader>(path);
}

std::unique_ptr<CheckpointReader> CheckpointReader::open(const std::string& path) {
  const int fd = open_regular_file(path, "tensor file", nullptr);
  unsigned char magic[4] = {0, 0, 0, 0};
  const ssize_t got = ::pread(fd, magic, 4, 0);
  ::close(fd);
  const size_t n = got > 0 ? static_cast<size_t>(got) : 0;
  // Zip container (torch.save >= 1.6) or a legacy pickle stream (0x80 PROTO): the .pt reader
  // handles both, the latter with a clear "legacy format" message.
  // (Legacy files open with PROTO 2 and a LONG1 magic number: 80 02 8a 0a. A safetensors file
  // starts with a little-endian header length, whose fourth byte is 0 below 16 MiB.)
  const bool legacy = n == 4 && magic[0] == 0x80 && magic[1] >= 2 && magic[1] <= 5 && magic[2] == 0x8a && magic[3] != 0;
  if ((n == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) || legacy)
    return open_pt_checkpoint(path);
  return open_safetensors(path);
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void convert_to_f32(const TensorInfo& t, float* dst) {
  const int64_t n = t.numel();
  switch (t.dtype) {
    // Element reads go through memcpy: tensors in a file need not be aligned to their type.
    case DType::F32: if (n) std::memcpy(dst, t.data, n * 4); break;
    case DType::F64: {
      auto* s = static_cast<const uint8_t*>(t.data);
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, s + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
      break;
    }
    case DType::BF16: {
      auto* s = static_cast<const uint8_t*>(t.data);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        uint32_t b = static_cast<uint32_t>(h) << 16;
        std::memcpy(&dst[i], &b, 4);
      }
      break;
    }
    case DType::F16: {
      auto* s = static_cast<const uint8_t*>(t.data);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = half_to_float(h);
      }
      break;
    }
    default:
      throw std::runtime_error("tensor '" + t.name + "' has non-floating dtype " + dtype_name(t.dtype));
  }
}

TensorToWrite f32_entry(const std::string& name, const Tensor& t) {
  return {name, DType::F32, t.shape(), t.data(), static_cast<size_t>(t.numel()) * 4};
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (auto& t : tensors) {
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string h = dump_json(header);
  while ((h.size() + 8) % 8) h.push_back(' ');  // keep tensor data 8-byte aligned
  AtomicFileWriter w(path);
  uint64_t len = h.size();
  w.write(&len, 8);
  w.write(h.data(), h.size());
  for (auto& t : tensors) w.write(t.data, t.nbytes);
  w.commit();
}

}  // namespace vggt::io

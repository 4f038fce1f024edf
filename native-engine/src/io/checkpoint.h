// Read-only access to a tensor file (safetensors or PyTorch .pt), memory-mapped.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vggt::io {

enum class DType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL };

const char* dtype_name(DType t);
size_t dtype_size(DType t);
// Parses safetensors dtype names ("F32", "BF16", ...); throws on unknown names.
DType dtype_from_name(const std::string& name);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // points into the mapped file
  size_t nbytes = 0;
  int64_t numel() const;
};

class MappedFile;

class CheckpointReader {
 public:
  virtual ~CheckpointReader() = default;
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  virtual const std::map<std::string, std::string>& metadata() const = 0;
  const TensorInfo* find(const std::string& name) const;
  const std::string& path() const { return path_; }
  // Hands the pages wholly inside [p, p + n) back to the kernel when they lie in the read-only
  // file mapping (clean pages: a later read faults them in from the file again); bytes outside
  // it (inflated or byte-swapped .pt storage on the heap) are left alone. Returns the bytes released.
  size_t release_pages(const void* p, size_t n) const;

  // Chooses the format by content (zip magic -> .pt, otherwise safetensors).
  static std::unique_ptr<CheckpointReader> open(const std::string& path);

 protected:
  std::string path_;
  const MappedFile* mapping_ = nullptr;  // the file's mapping, set by the format readers
};

// Read-only mmap of a whole file; unmapped on destruction.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

std::unique_ptr<CheckpointReader> open_safetensors(const std::string& path);
// PyTorch zip checkpoint (torch.save of a state dict); see pt_checkpoint.cpp.
std::unique_ptr<CheckpointReader> open_pt_checkpoint(const std::string& path);

// Converts any floating tensor to float32 (dst must hold numel floats).
void convert_to_f32(const TensorInfo& t, float* dst);

}  // namespace vggt::io

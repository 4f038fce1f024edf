// Atomic file output: data goes to a temp file beside the target, renamed into place on commit.
#pragma once
#include <cstdio>
#include <string>

namespace vggt::io {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();  // removes the temp file unless committed
  void write(const void* data, size_t n);
  void commit();

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  bool committed_ = false;
};

}  // namespace vggt::io

// File access helpers: opening only regular files, and atomic file output (data goes to a
// temp file beside the target, renamed into place on commit).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace vggt::io {

// Opens `path` read-only and checks it is a regular file: a FIFO, a device (/dev/zero), a
// socket or a directory is refused at once, without blocking on open or reading without end.
// Returns the descriptor (the caller closes it) and the file size. `what` names the role in
// errors ("weights", "image", "config"): "<path>: <what> is a FIFO, not a regular file".
int open_regular_file(const std::string& path, const std::string& what, uint64_t* size_out);
// Reads a whole regular file of at most max_bytes.
std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes);

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

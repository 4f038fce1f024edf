#include "io/file_util.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vggt::io {

AtomicFileWriter::AtomicFileWriter(const std::string& path)
    : path_(path), tmp_(path + ".tmp-" + std::to_string(getpid())) {
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) throw std::runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t n) {
  if (n && std::fwrite(data, 1, n, f_) != n)
    throw std::runtime_error(path_ + ": write failed (" + std::strerror(errno) + ")");
}

void AtomicFileWriter::commit() {
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0)
    throw std::runtime_error(path_ + ": write failed (" + std::strerror(errno) + ")");
  std::fclose(f_);
  f_ = nullptr;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw std::runtime_error(path_ + ": cannot rename temp file (" + std::strerror(errno) + ")");
  committed_ = true;
}

}  // namespace vggt::io

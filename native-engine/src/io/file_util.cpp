#include "io/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vggt::io {

namespace {
const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}
}  // namespace

int open_regular_file(const std::string& path, const std::string& what, uint64_t* size_out) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise block forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(path + ": cannot stat " + what + " (" + std::strerror(err) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error(path + ": " + what + " is " + file_kind(st.st_mode) + ", not a regular file");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  if (size_out) *size_out = static_cast<uint64_t>(st.st_size);
  return fd;
}

std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, what, &size);
  if (size > max_bytes) {
    ::close(fd);
    throw std::runtime_error(path + ": " + what + " is " + std::to_string(size) + " bytes, above the limit of " +
                             std::to_string(max_bytes));
  }
  std::string out(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(path + ": cannot read " + what + (n < 0 ? std::string(" (") + std::strerror(err) + ")" : std::string(" (file shrank while reading)")));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

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

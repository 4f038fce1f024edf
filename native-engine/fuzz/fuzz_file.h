// The readers under test open files by path (they mmap them), so each input is written to a
// per-process scratch file first.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace vggt::fuzz {

inline const std::string& scratch_file(const char* suffix) {
  static const std::string path = "/tmp/vggt-fuzz-" + std::to_string(getpid()) + suffix;
  return path;
}

inline const std::string& write_input(const uint8_t* data, size_t size, const char* suffix) {
  const std::string& path = scratch_file(suffix);
  std::remove(path.c_str());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace vggt::fuzz

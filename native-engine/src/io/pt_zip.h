// Read-only zip archive over a memory-mapped file, as written by torch.save (miniz):
// stored entries are returned as pointers into the mapping (no copy), deflated ones are
// inflated with zlib into memory owned by the archive. Supports ZIP64 (files > 4 GB,
// more than 65535 entries). Not supported: encryption, multi-disk archives.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace vggt::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

struct ZipBytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class ZipArchive {
 public:
  // `path` is only used in error messages; `data` must outlive the archive.
  ZipArchive(std::string path, const uint8_t* data, size_t size);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  // Entry contents. Stored entries point into the mapping; deflated ones are inflated once
  // and cached. verify_crc forces a CRC-32 check of stored data (deflated data is always
  // checked); it is off for tensor storages so that multi-GB weights are not read twice.
  // Deflated entries above max_bytes (or whose claimed size deflate could not produce from
  // their compressed size) are refused before inflating.
  ZipBytes read(const ZipEntry& e, bool verify_crc, uint64_t max_bytes = UINT64_MAX);
  bool used_zip64() const { return zip64_; }

 private:
  void parse();
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  const uint8_t* data_;
  size_t size_;
  bool zip64_ = false;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
  std::unordered_map<std::string, ZipBytes> inflated_;
  std::deque<std::vector<uint8_t>> owned_;
};

}  // namespace vggt::io

#include "io/pt_zip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "core/limits.h"

namespace vggt::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50,
                   kZip64EocdSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr size_t kEocdSize = 22, kZip64LocatorSize = 20, kZip64EocdSize = 56, kCentralSize = 46,
                 kLocalSize = 30;

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t rd64(const uint8_t* p) { return rd32(p) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

// crc32() takes a uInt length; feed large buffers in chunks.
uint32_t crc_of(const uint8_t* p, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

ZipArchive::ZipArchive(std::string path, const uint8_t* data, size_t size)
    : path_(std::move(path)), data_(data), size_(size) {
  parse();
}

void ZipArchive::fail(const std::string& what) const { throw std::runtime_error(path_ + ": " + what); }

void ZipArchive::parse() {
  if (size_ < kEocdSize) fail("truncated: zip central directory not found (file is only " + std::to_string(size_) + " bytes)");
  // The end-of-central-directory record sits at the end, followed by a comment of at most 64 KiB.
  size_t eocd = std::string::npos;
  const size_t lowest = size_ > kEocdSize + 0xffff ? size_ - kEocdSize - 0xffff : 0;
  for (size_t pos = size_ - kEocdSize + 1; pos-- > lowest;) {
    if (rd32(data_ + pos) == kEocdSig && pos + kEocdSize + rd16(data_ + pos + 20) <= size_) {
      eocd = pos;
      break;
    }
  }
  if (eocd == std::string::npos) fail("truncated or not a zip file: zip central directory not found");

  const uint8_t* e = data_ + eocd;
  if (rd16(e + 4) != 0 || rd16(e + 6) != 0) fail("multi-disk zip archives are not supported");
  uint64_t count = rd16(e + 10), cd_size = rd32(e + 12), cd_offset = rd32(e + 16);

  if (eocd >= kZip64LocatorSize && rd32(data_ + eocd - kZip64LocatorSize) == kZip64LocatorSig) {
    zip64_ = true;
    const uint64_t rec = rd64(data_ + eocd - kZip64LocatorSize + 8);
    if (rec > eocd - kZip64LocatorSize || eocd - kZip64LocatorSize - rec < kZip64EocdSize)
      fail("truncated: ZIP64 end-of-central-directory record offset " + std::to_string(rec) +
           " lies past the end of the data before it (" + std::to_string(eocd - kZip64LocatorSize) + " bytes)");
    const uint8_t* z = data_ + rec;
    if (rd32(z) != kZip64EocdSig) fail("corrupt zip: ZIP64 end-of-central-directory record not found");
    count = rd64(z + 32);
    cd_size = rd64(z + 40);
    cd_offset = rd64(z + 48);
  } else if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    fail("truncated: ZIP64 end-of-central-directory locator not found");
  }

  if (cd_offset > size_ || cd_size > size_ - cd_offset)
    fail("truncated: zip central directory (offset " + std::to_string(cd_offset) + ", " + std::to_string(cd_size) +
         " bytes) extends past the end of the " + std::to_string(size_) + "-byte file");
  if (count > cd_size / kCentralSize) fail("corrupt zip: central directory too small for " + std::to_string(count) + " entries");

  entries_.reserve(count);
  const uint8_t* p = data_ + cd_offset;
  const uint8_t* end = p + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (end - p < static_cast<ptrdiff_t>(kCentralSize) || rd32(p) != kCentralSig)
      fail("corrupt zip: central directory entry " + std::to_string(i) + " is damaged");
    ZipEntry ent;
    ent.flags = rd16(p + 8);
    ent.method = rd16(p + 10);
    ent.crc32 = rd32(p + 16);
    ent.compressed_size = rd32(p + 20);
    ent.uncompressed_size = rd32(p + 24);
    const size_t name_len = rd16(p + 28), extra_len = rd16(p + 30), comment_len = rd16(p + 32);
    const uint16_t disk = rd16(p + 34);
    ent.local_header_offset = rd32(p + 42);
    if (static_cast<size_t>(end - p) < kCentralSize + name_len + extra_len + comment_len)
      fail("corrupt zip: central directory entry " + std::to_string(i) + " is damaged");
    ent.name.assign(reinterpret_cast<const char*>(p + kCentralSize), name_len);

    // ZIP64 extended information: only the fields saturated in the fixed header are present, in order.
    const uint8_t* x = p + kCentralSize + name_len;
    const uint8_t* xend = x + extra_len;
    while (xend - x >= 4) {
      const uint16_t id = rd16(x), len = rd16(x + 2);
      if (xend - x - 4 < len) break;
      if (id == 0x0001) {
        const uint8_t* f = x + 4;
        size_t left = len;
        auto take = [&](uint64_t& field) {
          if (left < 8) fail("corrupt zip: ZIP64 extra field of '" + ent.name + "' is too short");
          field = rd64(f);
          f += 8;
          left -= 8;
        };
        if (ent.uncompressed_size == 0xffffffffu) take(ent.uncompressed_size);
        if (ent.compressed_size == 0xffffffffu) take(ent.compressed_size);
        if (ent.local_header_offset == 0xffffffffu) take(ent.local_header_offset);
      }
      x += 4 + len;
    }
    if (disk != 0 && disk != 0xffff) fail("multi-disk zip archives are not supported");
    if (index_.count(ent.name)) fail("corrupt zip: duplicate entry '" + ent.name + "'");
    index_.emplace(ent.name, entries_.size());
    entries_.push_back(std::move(ent));
    p += kCentralSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

ZipBytes ZipArchive::read(const ZipEntry& e, bool verify_crc, uint64_t max_bytes) {
  if (auto it = inflated_.find(e.name); it != inflated_.end()) return it->second;
  if (e.flags & 1) fail("entry '" + e.name + "' is encrypted");
  const uint64_t lh = e.local_header_offset;
  if (lh > size_ || size_ - lh < kLocalSize)
    fail("truncated: local header of entry '" + e.name + "' lies past the end of the file");
  const uint8_t* h = data_ + lh;
  if (rd32(h) != kLocalSig) fail("corrupt zip: local header of entry '" + e.name + "' not found at offset " + std::to_string(lh));
  const size_t name_len = rd16(h + 26);
  if (name_len != e.name.size() || size_ - lh - kLocalSize < name_len ||
      std::memcmp(h + kLocalSize, e.name.data(), name_len) != 0)
    fail("corrupt zip: local header of entry '" + e.name + "' does not match the central directory");
  // The local extra field may differ from the central one (torch pads it to align the data).
  const uint64_t start = lh + kLocalSize + name_len + rd16(h + 28);
  if (start > size_ || e.compressed_size > size_ - start)
    fail("truncated: data of entry '" + e.name + "' (" + std::to_string(e.compressed_size) +
         " bytes at offset " + std::to_string(start) + ") extends past the end of the " + std::to_string(size_) +
         "-byte file");
  const uint8_t* src = data_ + start;

  if (e.method == 0) {
    if (e.compressed_size != e.uncompressed_size)
      fail("corrupt zip: stored entry '" + e.name + "' has differing compressed and uncompressed sizes");
    if (verify_crc && crc_of(src, e.compressed_size) != e.crc32)
      fail("corrupt: CRC-32 mismatch in entry '" + e.name + "'");
    return {src, static_cast<size_t>(e.compressed_size)};
  }
  if (e.method != 8)
    fail("entry '" + e.name + "' uses unsupported zip compression method " + std::to_string(e.method));

  // The claimed size is a hint, not a promise: it must be within what deflate can produce from
  // the compressed bytes (best ratio 1032:1) and the caller's limit, and the buffer grows with
  // the data actually inflated, so a lying header cannot make us allocate its claim.
  const uint64_t ratio_bound = e.compressed_size > (UINT64_MAX - 1024) / limits::kMaxDeflateRatio
                                   ? UINT64_MAX
                                   : e.compressed_size * limits::kMaxDeflateRatio + 1024;
  if (e.uncompressed_size > ratio_bound)
    fail("corrupt zip: entry '" + e.name + "' claims " + std::to_string(e.uncompressed_size) + " bytes from " +
         std::to_string(e.compressed_size) + " compressed bytes, more than deflate can produce");
  if (e.uncompressed_size > max_bytes)
    fail("entry '" + e.name + "' inflates to " + std::to_string(e.uncompressed_size) + " bytes, above the limit of " +
         std::to_string(max_bytes));
  std::vector<uint8_t>& out = owned_.emplace_back();
  out.reserve(static_cast<size_t>(std::min<uint64_t>(e.uncompressed_size, 1u << 20)));
  std::vector<uint8_t> window(1u << 18);
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail("zlib initialisation failed");
  const uint8_t* in = src;
  uint64_t in_left = e.compressed_size;
  int rc = Z_OK;
  bool overflow = false;
  while (rc == Z_OK) {
    const uInt in_chunk = static_cast<uInt>(std::min<uint64_t>(in_left, 1u << 30));
    zs.next_in = const_cast<Bytef*>(in);
    zs.avail_in = in_chunk;
    zs.next_out = window.data();
    zs.avail_out = static_cast<uInt>(window.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    const size_t used = in_chunk - zs.avail_in, made = window.size() - zs.avail_out;
    in += used;
    in_left -= used;
    if (made > e.uncompressed_size - out.size()) {
      overflow = true;
      break;
    }
    out.insert(out.end(), window.data(), window.data() + made);
    if (rc == Z_OK && used == 0 && made == 0) rc = Z_BUF_ERROR;  // no progress: input ran out
  }
  inflateEnd(&zs);
  if (overflow)
    fail("corrupt: entry '" + e.name + "' inflates to more than the " + std::to_string(e.uncompressed_size) +
         " bytes its header claims");
  const size_t produced = out.size();
  if (rc != Z_STREAM_END || produced != e.uncompressed_size)
    fail("corrupt: cannot inflate entry '" + e.name + "' (zlib status " + std::to_string(rc) + ", " +
         std::to_string(produced) + " of " + std::to_string(e.uncompressed_size) + " bytes)");
  if (crc_of(out.data(), out.size()) != e.crc32) fail("corrupt: CRC-32 mismatch in entry '" + e.name + "'");
  ZipBytes b{out.empty() ? src : out.data(), out.size()};  // never a null pointer, even when empty
  inflated_.emplace(e.name, b);
  return b;
}

}  // namespace vggt::io

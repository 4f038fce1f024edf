// Tests of the PyTorch checkpoint reader against real torch.save output (testdata/pt/, made
// by tools/make_pt_fixtures.py with torch 2.15). expected.safetensors holds every tensor's
// value as torch saw it, so comparisons are exact (bit-for-bit, tolerance 0: no arithmetic
// happens between the file and the reader). Damaged files are derived from the fixtures at
// run time in a temp dir.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/golden.h"
#include "testing/temp_dir.h"
#include "io/checkpoint.h"
#include "io/pt_pickle.h"
#include "io/pt_zip.h"

namespace fs = std::filesystem;
using namespace vggt::io;

namespace {

std::string fixture(const std::string& name) { return std::string(VGGT_SOURCE_DIR) + "/testdata/pt/" + name; }

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Replaces `path` by a new file rather than truncating it in place: ext4 flushes files that
// are truncated and rewritten (auto_da_alloc), which makes thousands of rewrites take seconds.
void write_all(const std::string& path, const std::vector<uint8_t>& b) {
  std::remove(path.c_str());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

using vggt::testing::TempDir;

// Message of the exception thrown while opening `path` ("" if it opened).
std::string open_error(const std::string& path) {
  try {
    open_pt_checkpoint(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void expect_same_tensors(const CheckpointReader& got, const CheckpointReader& expected, const std::string& stem,
                         const std::vector<std::string>& order) {
  ASSERT_EQ(got.tensors().size(), order.size()) << stem;
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorInfo& t = got.tensors()[i];
    EXPECT_EQ(t.name, order[i]) << stem << " tensor #" << i;
    const TensorInfo* e = expected.find(stem + "/" + order[i]);
    ASSERT_NE(e, nullptr) << stem << "/" << order[i];
    EXPECT_EQ(t.dtype, e->dtype) << stem << "/" << t.name;
    EXPECT_EQ(t.shape, e->shape) << stem << "/" << t.name;
    ASSERT_EQ(t.nbytes, e->nbytes) << stem << "/" << t.name;
    EXPECT_EQ(std::memcmp(t.data, e->data, t.nbytes), 0) << stem << "/" << t.name << " bytes differ";
    const bool floating = t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16 || t.dtype == DType::F64;
    if (floating && t.numel() > 0) {
      std::vector<float> a(t.numel()), b(t.numel());
      convert_to_f32(t, a.data());
      convert_to_f32(*e, b.data());
      for (int64_t k = 0; k < t.numel(); ++k) ASSERT_EQ(a[k], b[k]) << stem << "/" << t.name << "[" << k << "]";
    }
  }
}

std::vector<std::string> order_of(const CheckpointReader& expected, const std::string& stem) {
  return nlohmann::json::parse(expected.metadata().at(stem)).get<std::vector<std::string>>();
}

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void wr16(std::vector<uint8_t>& b, uint16_t v) { b.push_back(v & 0xff); b.push_back(v >> 8); }
void wr32(std::vector<uint8_t>& b, uint32_t v) { for (int k = 0; k < 4; ++k) b.push_back((v >> (8 * k)) & 0xff); }
void wr64(std::vector<uint8_t>& b, uint64_t v) { for (int k = 0; k < 8; ++k) b.push_back((v >> (8 * k)) & 0xff); }
void put32(uint8_t* p, uint32_t v) { for (int k = 0; k < 4; ++k) p[k] = (v >> (8 * k)) & 0xff; }

// Position of the first occurrence of `needle` in `hay` at or after `from` (npos if none).
size_t find_bytes(const std::vector<uint8_t>& hay, const std::string& needle, size_t from = 0) {
  auto it = std::search(hay.begin() + from, hay.end(), needle.begin(), needle.end());
  return it == hay.end() ? std::string::npos : static_cast<size_t>(it - hay.begin());
}

// Replaces the bytes of a stored entry in place (same length) and fixes its CRC in the local
// header and the central directory, so that only the content check under test can fail.
void patch_entry(std::vector<uint8_t>& file, const std::string& path, const std::string& entry,
                 const std::function<void(uint8_t*, size_t)>& edit) {
  ZipArchive zip(path, file.data(), file.size());
  const ZipEntry* e = zip.find(entry);
  ASSERT_NE(e, nullptr) << entry;
  uint8_t* lh = file.data() + e->local_header_offset;
  uint8_t* data = lh + 30 + rd16(lh + 26) + rd16(lh + 28);
  edit(data, e->compressed_size);
  const uint32_t crc = static_cast<uint32_t>(crc32(0, data, static_cast<uInt>(e->compressed_size)));
  put32(lh + 14, crc);
  const std::string sig("PK\x01\x02", 4);
  for (size_t pos = find_bytes(file, sig); pos != std::string::npos; pos = find_bytes(file, sig, pos + 4)) {
    if (rd16(&file[pos + 28]) == entry.size() && std::memcmp(&file[pos + 46], entry.data(), entry.size()) == 0) {
      put32(&file[pos + 16], crc);
      return;
    }
  }
  FAIL() << "central entry of " << entry << " not found";
}

TEST(PtCheckpoint, EveryFixtureLoadsWithExactValues) {
  auto expected = open_safetensors(fixture("expected.safetensors"));
  ASSERT_GE(expected->metadata().size(), 8u);
  for (auto& [stem, names] : expected->metadata()) {
    SCOPED_TRACE(stem);
    auto r = CheckpointReader::open(fixture(stem + ".pt"));
    EXPECT_EQ(r->metadata().at("format"), "pytorch-zip");
    expect_same_tensors(*r, *expected, stem, order_of(*expected, stem));
  }
}

TEST(PtCheckpoint, NamesMetadataAndWrappers) {
  auto m = open_pt_checkpoint(fixture("module_state.pt"));
  ASSERT_NE(m->find("aggregator.patch_embed.blocks.1.attn.qkv.weight"), nullptr);
  EXPECT_EQ(m->find("aggregator.patch_embed.blocks.1.attn.qkv.weight")->shape, (std::vector<int64_t>{12, 4}));
  EXPECT_EQ(m->find("aggregator.bn_count")->dtype, DType::I64);
  EXPECT_EQ(m->find("head.weight")->dtype, DType::F16);
  EXPECT_EQ(m->metadata().at("archive"), "module_state");
  EXPECT_EQ(m->metadata().at("version"), "3");

  auto n = open_pt_checkpoint(fixture("nested_model.pt"));
  EXPECT_EQ(n->metadata().at("state_dict_key"), "model");
  EXPECT_NE(n->find("aggregator.camera_token"), nullptr);  // "module." stripped
  for (auto& t : n->tensors()) EXPECT_NE(t.name.rfind("module.", 0), 0u) << t.name;
  EXPECT_EQ(n->tensors().size(), m->tensors().size());

  EXPECT_EQ(open_pt_checkpoint(fixture("from_buffer.pt"))->metadata().at("archive"), "archive");
}

TEST(PtCheckpoint, ContiguousTensorsPointIntoTheMappingAndShareStorage) {
  auto r = open_pt_checkpoint(fixture("views.pt"));
  const TensorInfo* base = r->find("base");
  const TensorInfo* reshaped = r->find("reshaped");
  const TensorInfo* rows = r->find("row_slice");
  const TensorInfo* transposed = r->find("transposed");
  ASSERT_TRUE(base && reshaped && rows && transposed);
  // Views of one storage are not copied: they alias the same mapped bytes.
  EXPECT_EQ(base->data, reshaped->data);
  EXPECT_EQ(static_cast<const char*>(rows->data), static_cast<const char*>(base->data) + 6 * 4);
  // torch.save aligns storages to 64 bytes, so the mapped data is directly usable.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(base->data) % 64, 0u);
  // A transpose cannot alias the storage; it gets its own contiguous copy.
  EXPECT_NE(transposed->data, base->data);
  const float* b = static_cast<const float*>(base->data);
  const float* t = static_cast<const float*>(transposed->data);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 6; ++j) ASSERT_EQ(t[j * 4 + i], b[i * 6 + j]);
}

TEST(PtCheckpoint, OpenChoosesFormatByContentNotExtension) {
  TempDir dir;
  fs::copy_file(fixture("basic.pt"), dir.file("weights.safetensors"));
  fs::copy_file(fixture("expected.safetensors"), dir.file("weights.pt"));
  auto pt = CheckpointReader::open(dir.file("weights.safetensors"));
  EXPECT_EQ(pt->metadata().at("format"), "pytorch-zip");
  EXPECT_NE(pt->find("f32"), nullptr);
  auto st = CheckpointReader::open(dir.file("weights.pt"));
  EXPECT_EQ(st->metadata().count("format"), 0u);
  EXPECT_NE(st->find("basic/f32"), nullptr);
}

TEST(PtCheckpoint, UnsupportedContentFailsWithoutExecutingAnything) {
  const std::string pwned = "/tmp/vggt-pt-fixture-pwned";  // what evil.pt's os.system call would create
  std::remove(pwned.c_str());
  const struct {
    const char* file;
    const char* message;
  } cases[] = {
      {"evil.pt", "unsupported pickle content: global 'posix.system'"},
      {"whole_module.pt", "unsupported pickle content: global 'torch.nn.modules.linear.Linear'"},
      {"uint16.pt", "unsupported tensor dtype torch.uint16"},
      {"bigendian.pt", "big-endian checkpoint"},
      {"legacy.pt", "legacy (pre-zip) torch.save format"},
      {"expected.safetensors", "not a PyTorch zip checkpoint"},
  };
  for (auto& c : cases) {
    const std::string msg = open_error(fixture(c.file));
    EXPECT_NE(msg.find(fixture(c.file)), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.message), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(pwned));
}

TEST(PtCheckpoint, TruncatedCopiesFailWithTheFileName) {
  TempDir dir;
  const auto full = read_all(fixture("basic.pt"));
  const std::string path = dir.file("cut.pt");
  // Every possible truncation: the central directory is at the end, so all of them lose it.
  for (size_t len = 0; len < full.size(); ++len) {
    write_all(path, std::vector<uint8_t>(full.begin(), full.begin() + len));
    const std::string msg = open_error(path);
    ASSERT_NE(msg.find(path), std::string::npos) << "length " << len << ": " << msg;
    if (len >= 4) {
      ASSERT_NE(msg.find("truncated"), std::string::npos) << "length " << len << ": " << msg;
    }
  }
  write_all(path, std::vector<uint8_t>(full.begin(), full.end() - 1));
  EXPECT_NE(open_error(path).find("zip central directory not found"), std::string::npos);

  // Data cut out of the middle while the central directory survives: its offsets then point
  // past the end (or at the wrong bytes).
  std::vector<uint8_t> hole(full.begin(), full.begin() + full.size() / 2);
  const size_t cd = find_bytes(full, std::string("PK\x01\x02", 4));
  hole.insert(hole.end(), full.begin() + cd, full.end());
  write_all(path, hole);
  const std::string msg = open_error(path);
  EXPECT_NE(msg.find("truncated: ZIP64 end-of-central-directory record offset"), std::string::npos) << msg;
}

TEST(PtCheckpoint, CorruptBytesFailWithAClearMessage) {
  TempDir dir;
  const auto full = read_all(fixture("basic.pt"));
  const std::string path = dir.file("bad.pt");

  {  // flipped byte inside data.pkl
    auto b = full;
    const size_t pos = find_bytes(b, "_rebuild_tensor_v2");
    ASSERT_NE(pos, std::string::npos);
    b[pos] ^= 0x20;
    write_all(path, b);
    EXPECT_NE(open_error(path).find("CRC-32 mismatch in entry 'basic/data.pkl'"), std::string::npos) << open_error(path);
  }
  {  // a storage entry renamed (local and central names)
    auto b = full;
    for (size_t pos = find_bytes(b, "basic/data/3"); pos != std::string::npos; pos = find_bytes(b, "basic/data/3", pos + 1))
      b[pos + 11] = 'x';
    write_all(path, b);
    EXPECT_NE(open_error(path).find("entry basic/data/3 missing"), std::string::npos) << open_error(path);
  }
  {  // central directory signature damaged
    auto b = full;
    b[find_bytes(b, std::string("PK\x01\x02", 4))] = 'Q';
    write_all(path, b);
    EXPECT_NE(open_error(path).find("central directory entry 0 is damaged"), std::string::npos) << open_error(path);
  }
  {  // valid pickle claiming a storage smaller than the tensor view (CRC fixed up)
    auto b = full;
    patch_entry(b, path, "basic/data.pkl", [](uint8_t* p, size_t n) {
      // f32 is the first tensor: ('storage', FloatStorage, '0', 'cpu', 24) -> numel BININT1 24 becomes 16
      const std::string cpu = "cpu";
      uint8_t* at = std::search(p, p + n, cpu.begin(), cpu.end());
      ASSERT_NE(at, p + n);
      ASSERT_EQ(at[3], 'q');  // BINPUT memo
      ASSERT_EQ(at[5], 'K');
      ASSERT_EQ(at[6], 24);
      at[6] = 16;
    });
    write_all(path, b);
    const std::string msg = open_error(path);
    EXPECT_NE(msg.find("tensor 'f32' (offset 0, shape [2,3,4]) exceeds its 64-byte storage basic/data/0"), std::string::npos) << msg;
  }
  {  // data.pkl cut short (same entry length, STOP opcode replaced)
    auto b = full;
    patch_entry(b, path, "basic/data.pkl", [](uint8_t* p, size_t n) { p[n - 1] = 0xff; });
    write_all(path, b);
    EXPECT_NE(open_error(path).find("unsupported pickle opcode 0xff"), std::string::npos) << open_error(path);
  }
  // Any single damaged byte either still loads (tensor bytes are not checksummed, to avoid
  // reading multi-GB weights twice) or fails with an exception naming the file; never a crash.
  for (size_t pos = 0; pos < full.size(); ++pos) {
    auto b = full;
    b[pos] ^= 0xa5;
    write_all(path, b);
    const std::string msg = open_error(path);
    if (!msg.empty()) {
      ASSERT_NE(msg.find(path), std::string::npos) << "byte " << pos << ": " << msg;
    }
  }
}

// Rewrites basic.pt's entries into a ZIP64 archive with more than 65535 entries: ZIP64
// end-of-central-directory record and locator, and 0xFFFFFFFF sizes/offsets with the values in
// ZIP64 extra fields, as writers do for archives over 4 GB (like VGGT-1B's model.pt). The
// container layout follows the zip specification (APPNOTE 4.3.9, 4.3.14-16, 4.5.3); a multi-GB
// real fixture is out of the question for a unit test.
TEST(PtCheckpoint, Zip64ArchiveWithManyEntries) {
  TempDir dir;
  auto src_bytes = read_all(fixture("basic.pt"));
  ZipArchive src(fixture("basic.pt"), src_bytes.data(), src_bytes.size());
  struct Item {
    std::string name;
    std::vector<uint8_t> data;
  };
  std::vector<Item> items;
  for (auto& e : src.entries()) {
    ZipBytes b = src.read(e, true);
    items.push_back({e.name, std::vector<uint8_t>(b.data, b.data + b.size)});
  }
  constexpr size_t kPadding = 70000;
  for (size_t i = 0; i < kPadding; ++i) items.push_back({"basic/pad/" + std::to_string(i), {}});

  std::vector<uint8_t> out, cd;
  for (auto& it : items) {
    const uint32_t crc = static_cast<uint32_t>(crc32(0, it.data.data(), static_cast<uInt>(it.data.size())));
    const uint64_t offset = out.size();
    wr32(out, 0x04034b50); wr16(out, 45); wr16(out, 0); wr16(out, 0); wr16(out, 0); wr16(out, 0);
    wr32(out, crc); wr32(out, 0xffffffffu); wr32(out, 0xffffffffu);
    wr16(out, static_cast<uint16_t>(it.name.size())); wr16(out, 20);
    out.insert(out.end(), it.name.begin(), it.name.end());
    wr16(out, 1); wr16(out, 16); wr64(out, it.data.size()); wr64(out, it.data.size());
    out.insert(out.end(), it.data.begin(), it.data.end());

    wr32(cd, 0x02014b50); wr16(cd, 45); wr16(cd, 45); wr16(cd, 0); wr16(cd, 0); wr16(cd, 0); wr16(cd, 0);
    wr32(cd, crc); wr32(cd, 0xffffffffu); wr32(cd, 0xffffffffu);
    wr16(cd, static_cast<uint16_t>(it.name.size())); wr16(cd, 28); wr16(cd, 0); wr16(cd, 0); wr16(cd, 0); wr32(cd, 0);
    wr32(cd, 0xffffffffu);
    cd.insert(cd.end(), it.name.begin(), it.name.end());
    wr16(cd, 1); wr16(cd, 24); wr64(cd, it.data.size()); wr64(cd, it.data.size()); wr64(cd, offset);
  }
  const uint64_t cd_offset = out.size(), zip64_eocd = cd_offset + cd.size();
  out.insert(out.end(), cd.begin(), cd.end());
  wr32(out, 0x06064b50); wr64(out, 44); wr16(out, 45); wr16(out, 45); wr32(out, 0); wr32(out, 0);
  wr64(out, items.size()); wr64(out, items.size()); wr64(out, cd.size()); wr64(out, cd_offset);
  wr32(out, 0x07064b50); wr32(out, 0); wr64(out, zip64_eocd); wr32(out, 1);
  wr32(out, 0x06054b50); wr16(out, 0); wr16(out, 0); wr16(out, 0xffff); wr16(out, 0xffff);
  wr32(out, 0xffffffffu); wr32(out, 0xffffffffu); wr16(out, 0);
  const std::string path = dir.file("zip64.pt");
  write_all(path, out);

  ZipArchive z(path, out.data(), out.size());
  EXPECT_TRUE(z.used_zip64());
  EXPECT_EQ(z.entries().size(), items.size());

  auto expected = open_safetensors(fixture("expected.safetensors"));
  auto r = open_pt_checkpoint(path);
  expect_same_tensors(*r, *expected, "basic", order_of(*expected, "basic"));

  // The same archive without its ZIP64 locator cannot be read, and says why.
  std::vector<uint8_t> no_locator(out.begin(), out.end() - 42);
  wr32(no_locator, 0x06054b50); wr16(no_locator, 0); wr16(no_locator, 0); wr16(no_locator, 0xffff);
  wr16(no_locator, 0xffff); wr32(no_locator, 0xffffffffu); wr32(no_locator, 0xffffffffu); wr16(no_locator, 0);
  write_all(path, no_locator);
  EXPECT_NE(open_error(path).find("ZIP64 end-of-central-directory locator not found"), std::string::npos) << open_error(path);
}

// Python's own pickle output (pickle.dumps(v, protocol=5) of a dict of plain values), to check
// opcodes torch state dicts rarely use.
TEST(PtPickle, PlainValuesFromPythonProtocol5) {
  const std::string hex =
      "800595ac000000000000007d94288c0161945d94284b014afeffffff47400c0000000000004e88898c0378c3a994430179944b"
      "014b028694294b018594284b014b024b034b047494658c03626967948a060000000000018c036e6567944ad4feffff8c026e31"
      "944affffffff8c026934944a701101008c016c948a08ffffffffffffff7f8c026c6e948a0800000000000000808c0173948f94"
      "284b01908c026673942891948c026261949601000000000000007a94752e";
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < hex.size(); i += 2) bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  const pickle::Unpickled program = pickle::unpickle(bytes.data(), bytes.size(), {});
  const pickle::Ref& v = program.root;
  ASSERT_EQ(v->kind, pickle::Kind::Dict);
  auto get = [&](const std::string& k) -> pickle::Ref {
    for (auto& [key, val] : v->dict)
      if (key->s == k) return val;
    ADD_FAILURE() << "missing key " << k;
    return pickle::Value::make(pickle::Kind::None);
  };
  // {'a': [1, -2, 3.5, None, True, False, 'xé', b'y', (1,2), (), (1,), (1,2,3,4)], 'big': 2**40, 'neg': -300,
  //  'n1': -1, 'i4': 70000, 'l': 2**63-1, 'ln': -2**63, 's': {1}, 'fs': frozenset(), 'ba': bytearray(b'z')}
  const auto& a = get("a")->items;
  ASSERT_EQ(a.size(), 12u);
  EXPECT_EQ(a[0]->i, 1);
  EXPECT_EQ(a[1]->i, -2);
  EXPECT_EQ(a[2]->f, 3.5);
  EXPECT_EQ(a[3]->kind, pickle::Kind::None);
  EXPECT_TRUE(a[4]->b);
  EXPECT_FALSE(a[5]->b);
  EXPECT_EQ(a[6]->s, "x\xc3\xa9");
  EXPECT_EQ(a[7]->kind, pickle::Kind::Bytes);
  EXPECT_EQ(a[8]->items.size(), 2u);
  EXPECT_EQ(a[9]->items.size(), 0u);
  EXPECT_EQ(a[10]->items.size(), 1u);
  EXPECT_EQ(a[11]->items[3]->i, 4);
  EXPECT_EQ(get("big")->i, int64_t{1} << 40);
  EXPECT_EQ(get("neg")->i, -300);
  EXPECT_EQ(get("n1")->i, -1);
  EXPECT_EQ(get("i4")->i, 70000);
  EXPECT_EQ(get("l")->i, INT64_MAX);
  EXPECT_EQ(get("ln")->i, INT64_MIN);
  EXPECT_EQ(get("s")->items.size(), 1u);
  EXPECT_EQ(get("fs")->kind, pickle::Kind::Set);
  EXPECT_EQ(get("ba")->s, "z");

  // Without hooks every global is refused, and truncation is reported.
  const uint8_t global[] = {0x80, 0x02, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', '.'};
  try {
    pickle::unpickle(global, sizeof global, {});
    ADD_FAILURE() << "global accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported pickle content: global 'os.system'"), std::string::npos) << e.what();
  }
  try {
    pickle::unpickle(bytes.data(), bytes.size() - 10, {});
    ADD_FAILURE() << "truncated pickle accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("truncated pickle data"), std::string::npos) << e.what();
  }
}

}  // namespace

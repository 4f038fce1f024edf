// Hostile tensor files: each case is a small crafted file that used to crash, hang or allocate
// gigabytes, and must now fail fast with a message naming the file and the limit.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "testing/golden.h"
#include "testing/temp_dir.h"
#include "core/checked_math.h"
#include "io/checkpoint.h"
#include "io/input_tensor.h"
#include "io/load_cancel.h"
#include "io/pt_pickle.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using namespace vggt::io;

namespace {

using Scratch = vggt::testing::TempDir;

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// safetensors file: 8-byte header length, JSON header, data.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

void le(std::string& b, uint64_t v, int n) {
  for (int k = 0; k < n; ++k) b.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

// A zip archive as torch.save writes it; entries are stored, or deflated when `deflate` is set
// (then `claimed` overrides the uncompressed size written in the headers, if non-zero).
struct Entry {
  std::string name, data;
  bool deflate = false;
  uint64_t claimed = 0;
};
std::string zip_bytes(const std::vector<Entry>& entries) {
  std::string out, cd;
  for (const Entry& e : entries) {
    std::string body = e.data;
    if (e.deflate) {
      z_stream zs{};
      deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
      body.assign(deflateBound(&zs, e.data.size()), '\0');
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(e.data.data()));
      zs.avail_in = static_cast<uInt>(e.data.size());
      zs.next_out = reinterpret_cast<Bytef*>(body.data());
      zs.avail_out = static_cast<uInt>(body.size());
      EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
      body.resize(zs.total_out);
      deflateEnd(&zs);
    }
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), e.data.size()));
    const uint64_t usize = e.claimed ? e.claimed : e.data.size();
    const uint64_t offset = out.size();
    le(out, 0x04034b50, 4); le(out, 20, 2); le(out, 0, 2); le(out, e.deflate ? 8 : 0, 2); le(out, 0, 4);
    le(out, crc, 4); le(out, body.size(), 4); le(out, usize, 4); le(out, e.name.size(), 2); le(out, 0, 2);
    out += e.name + body;
    le(cd, 0x02014b50, 4); le(cd, 20, 2); le(cd, 20, 2); le(cd, 0, 2); le(cd, e.deflate ? 8 : 0, 2); le(cd, 0, 4);
    le(cd, crc, 4); le(cd, body.size(), 4); le(cd, usize, 4); le(cd, e.name.size(), 2); le(cd, 0, 2); le(cd, 0, 2);
    le(cd, 0, 2); le(cd, 0, 2); le(cd, 0, 4); le(cd, offset, 4);
    cd += e.name;
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  le(out, 0x06054b50, 4); le(out, 0, 2); le(out, 0, 2); le(out, entries.size(), 2); le(out, entries.size(), 2);
  le(out, cd.size(), 4); le(out, cd_offset, 4); le(out, 0, 2);
  return out;
}

// Pickle program builder (protocol 2 opcodes).
struct Pickle {
  std::string b = std::string("\x80\x02", 2);
  Pickle& op(const std::string& s) { b += s; return *this; }
  Pickle& str(const std::string& s) { b += 'X'; le(b, s.size(), 4); b += s; return *this; }
  Pickle& i1(int v) { b += 'K'; b += static_cast<char>(v); return *this; }
  Pickle& i4(int64_t v) { b += 'J'; le(b, static_cast<uint64_t>(v), 4); return *this; }
  Pickle& put(uint32_t i) { b += 'r'; le(b, i, 4); return *this; }
  Pickle& get(uint32_t i) { b += 'j'; le(b, i, 4); return *this; }
  Pickle& global(const std::string& m, const std::string& n) { b += "c" + m + "\n" + n + "\n"; return *this; }
  // torch._utils._rebuild_tensor_v2(storage('0', FloatStorage, numel), 0, shape, stride, False, OrderedDict())
  Pickle& tensor(int64_t storage_numel, const std::vector<int64_t>& shape, const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op("(");
    op("(").str("storage").global("torch", "FloatStorage").str("0").str("cpu").i4(storage_numel).op("t").op("Q");
    i1(0).op("(");
    for (auto d : shape) i4(d);
    op("t(");
    for (auto s : stride) i4(s);
    op("t\x89").global("collections", "OrderedDict").op(")R").op("tR");
    return *this;
  }
  std::string done() { return b + "."; }
};

std::string pt_bytes(const std::string& pickle, const std::string& storage0 = std::string(4, '\0'),
                     bool deflate_pickle = false, uint64_t claimed = 0) {
  return zip_bytes({{"archive/data.pkl", pickle, deflate_pickle, claimed}, {"archive/data/0", storage0}});
}

std::string open_error(const std::string& path) { return error_of([&] { CheckpointReader::open(path); }); }

#define EXPECT_HAS(hay, needle) EXPECT_NE((hay).find(needle), std::string::npos) << (hay)

TEST(HostileSafetensors, ShapeWhoseElementCountWrapsIsRefused) {
  Scratch s;
  const std::string p = s.file("wrap.safetensors");
  // (2^62 + 1) * 3 * 14 * 14 elements wrap to 588: 2352 data bytes "matched" the shape.
  write_file(p, safetensors_bytes(R"({"images":{"dtype":"F32","shape":[4611686018427387905,3,14,14],"data_offsets":[0,2352]}})",
                                  std::string(2352, '\0')));
  const std::string m = open_error(p);
  EXPECT_HAS(m, p + ": tensor 'images': shape [4611686018427387905, 3, 14, 14] has more than 4294967296 elements");
  EXPECT_HAS(error_of([&] { read_images_tensor(p, "images", 14); }), "more than 4294967296 elements");
  write_file(p, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}})", std::string(16, '\0')));
  EXPECT_HAS(open_error(p), "negative dimension");
}

TEST(HostileSafetensors, HeaderTypeErrorsNameTheFileAndTensor) {
  Scratch s;
  const std::string p = s.file("types.safetensors");
  write_file(p, safetensors_bytes(R"({"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')));
  std::string m = open_error(p);
  EXPECT_HAS(m, p + ": tensor 'w': ");
  write_file(p, safetensors_bytes(R"({"w":{"dtype":"F32","shape":"big","data_offsets":[0,4]}})", std::string(4, '\0')));
  EXPECT_HAS(open_error(p), p + ": tensor 'w': ");
  write_file(p, safetensors_bytes(R"({"w":7})", ""));
  EXPECT_HAS(open_error(p), p + ": tensor 'w': entry is not an object");
  write_file(p, safetensors_bytes("[1,2]", ""));
  EXPECT_HAS(open_error(p), p + ": safetensors header is not a JSON object");
  write_file(p, safetensors_bytes("{\"w\xff\":{}}", ""));  // not UTF-8
  EXPECT_HAS(open_error(p), p + ": safetensors header is not valid JSON");
}

TEST(HostileSafetensors, DeeplyNestedHeaderIsRejectedBeforeParsing) {
  Scratch s;
  const std::string p = s.file("nested.safetensors");
  // 8 MB of '[' used to be parsed into millions of nested arrays (GBs) before being refused.
  write_file(p, safetensors_bytes(std::string(8 << 20, '['), ""));
  EXPECT_HAS(open_error(p), p + ": safetensors header nests deeper than the limit of 64 levels");
}

TEST(HostileFiles, FifosAndDevicesAreRefusedAtOnce) {
  Scratch s;
  const std::string fifo = s.file("weights.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO without a writer used to block forever.
  EXPECT_HAS(open_error(fifo), fifo + ": tensor file is a FIFO (named pipe), not a regular file");
  EXPECT_HAS(open_error("/dev/zero"), "/dev/zero: tensor file is a character device, not a regular file");
  EXPECT_HAS(error_of([] { read_images_tensor("/dev/zero", "images", 14); }), "character device");
  EXPECT_HAS(open_error(s.file("")), "a directory");
}

TEST(HostileInputTensor, NonFiniteValuesAndLimitsAreRefused) {
  Scratch s;
  const std::string p = s.file("in.safetensors");
  std::vector<float> px(3 * 14 * 14, 0.5f);
  px[7] = std::numeric_limits<float>::quiet_NaN();
  write_safetensors(p, {{"images", DType::F32, {1, 3, 14, 14}, px.data(), px.size() * 4}});
  EXPECT_HAS(error_of([&] { read_images_tensor(p, "images", 14); }), "holds a non-finite value at index 7");
  px[7] = std::numeric_limits<float>::infinity();
  write_safetensors(p, {{"images", DType::F32, {1, 3, 14, 14}, px.data(), px.size() * 4}});
  EXPECT_HAS(error_of([&] { read_images_tensor(p, "images", 14); }), "non-finite");
  px[7] = 0.5f;
  write_safetensors(p, {{"images", DType::F32, {1, 1, 14, 42}, px.data(), px.size() * 4}});
  EXPECT_HAS(error_of([&] { read_images_tensor(p, "images", 14); }), "expected [S, 3, H, W]");
  write_safetensors(p, {{"images", DType::F32, {1, 3, 14, 14}, px.data(), px.size() * 4}});
  const vggt::Tensor t = read_images_tensor(p, "images", 14);
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{1, 3, 14, 14}));
  EXPECT_EQ(t[0], 0.5f);
  // Frames wider than the side limit are refused before their data is read.
  write_file(p, safetensors_bytes(R"({"images":{"dtype":"F32","shape":[1,3,14,8204],"data_offsets":[0,1378272]}})",
                                  std::string(1378272, '\0')));
  EXPECT_HAS(error_of([&] { read_images_tensor(p, "images", 14); }), "above the limit of 8192 pixels a side");
}

// A state dict whose dicts share references: 30 levels of {a: D, b: D} describe 2^30 entries
// in a few hundred bytes. The walk used to revisit them without end.
std::string shared_dict_bomb(int levels) {
  Pickle pk;
  pk.op("}").put(0).op("0");
  for (int i = 1; i <= levels; ++i) pk.op("}(").str("a").get(i - 1).str("b").get(i - 1).op("u").put(i).op("0");
  pk.op("}(").str("w").tensor(1, {1}, {1}).str("nested").get(levels).op("u");
  return pk.done();
}

TEST(HostilePt, SharedDictReferencesHitTheVisitBudget) {
  Scratch s;
  const std::string p = s.file("bomb.pt");
  write_file(p, pt_bytes(shared_dict_bomb(30)));
  EXPECT_HAS(open_error(p), p + ": state dict has more than 1048576 entries counting shared ones each time (the limit)");
  // The same structure, small, loads (sharing itself is allowed).
  write_file(p, pt_bytes(shared_dict_bomb(2)));
  auto r = CheckpointReader::open(p);
  ASSERT_EQ(r->tensors().size(), 1u);
  EXPECT_EQ(r->tensors()[0].name, "w");
}

TEST(HostilePt, LoadStopsOnCancel) {
  Scratch s;
  const std::string p = s.file("bomb.pt");
  write_file(p, pt_bytes(shared_dict_bomb(30)));
  std::atomic<bool> cancel{true};
  const ScopedLoadCancel scope(&cancel);
  EXPECT_THROW(CheckpointReader::open(p), LoadCancelled);
}

TEST(HostilePt, MillionNestedTuplesDoNotOverflowTheStack) {
  // 500 k nested tuples: 1 MB of pickle that deflates to ~1 KB. Destroying them used to recurse
  // once per level (stack overflow).
  constexpr int kDepth = 500000;
  std::string prog = "\x80\x02";
  prog += std::string(kDepth, '(') + std::string(kDepth, 't') + ".";
  pickle::Unpickled u = pickle::unpickle(reinterpret_cast<const uint8_t*>(prog.data()), prog.size(), {});
  ASSERT_EQ(u.root->kind, pickle::Kind::Tuple);
  std::weak_ptr<pickle::Value> w = u.root;
  { pickle::Unpickled gone = std::move(u); }
  EXPECT_TRUE(w.expired());

  Scratch s;
  const std::string p = s.file("nested.pt");
  write_file(p, pt_bytes(prog, std::string(4, '\0'), /*deflate_pickle=*/true));
  EXPECT_LT(fs::file_size(p), 8000u);
  EXPECT_HAS(open_error(p), "data.pkl holds a tuple, not a state dict");
}

TEST(HostilePt, SelfReferencingContainersAreFreed) {
  // l = []; l.append(l): reference counting alone never frees it.
  const std::string prog = std::string("\x80\x02]", 3) + "r" + std::string(4, '\0') + "j" + std::string(4, '\0') + "a.";
  pickle::Unpickled u = pickle::unpickle(reinterpret_cast<const uint8_t*>(prog.data()), prog.size(), {});
  ASSERT_EQ(u.root->kind, pickle::Kind::List);
  ASSERT_EQ(u.root->items.size(), 1u);
  EXPECT_EQ(u.root->items[0].get(), u.root.get());
  std::weak_ptr<pickle::Value> w = u.root;
  { pickle::Unpickled gone = std::move(u); }
  EXPECT_TRUE(w.expired());
}

TEST(HostilePt, PickleOpAndValueBudgets) {
  // 3 M DUPs of one value: each op is cheap, the stack is not.
  std::string prog = std::string("\x80\x02N", 3) + std::string(3 << 20, '2') + ".";
  std::string m = error_of([&] { pickle::unpickle(reinterpret_cast<const uint8_t*>(prog.data()), prog.size(), {}); });
  EXPECT_HAS(m, "pickle stack deeper than 2097152 entries (the limit)");
  pickle::Budget small;
  small.max_ops = 1000;
  prog = std::string("\x80\x02", 2);
  for (int i = 0; i < 1000; ++i) prog += "N0";  // push, pop: 2000 opcodes on a stack of one
  prog += "N.";
  m = error_of([&] { pickle::unpickle(reinterpret_cast<const uint8_t*>(prog.data()), prog.size(), {}, small); });
  EXPECT_HAS(m, "pickle program runs more than 1000 opcodes (the limit)");
}

TEST(HostilePt, ZipEntriesNeverAllocateTheirClaimedSize) {
  Scratch s;
  const std::string p = s.file("claim.pt");
  Pickle pk;
  pk.op("}(").str("w").tensor(1, {1}, {1}).op("u");
  const std::string prog = pk.done();
  // Claims 1 GB uncompressed from ~100 compressed bytes: refused before inflating.
  write_file(p, pt_bytes(prog, std::string(4, '\0'), true, uint64_t{1} << 30));
  EXPECT_HAS(open_error(p), "claims 1073741824 bytes from");
  EXPECT_HAS(open_error(p), "more than deflate can produce");
  // Claims fewer bytes than it inflates to: stops at the claim.
  write_file(p, pt_bytes(prog, std::string(4, '\0'), true, 10));
  EXPECT_HAS(open_error(p), "inflates to more than the 10 bytes its header claims");
  // Honest deflated pickle loads.
  write_file(p, pt_bytes(prog, std::string(4, '\0'), true));
  auto r = CheckpointReader::open(p);
  ASSERT_EQ(r->tensors().size(), 1u);
  EXPECT_EQ(r->tensors()[0].name, "w");
}

TEST(HostilePt, BroadcastViewsAndHugeShapesAreBounded) {
  Scratch s;
  const std::string p = s.file("view.pt");
  // A stride-0 view of one float claiming 65536 x 65536 elements (16 GiB when copied out).
  Pickle a;
  a.op("}(").str("w").tensor(1, {65536, 65536}, {0, 0}).op("u");
  write_file(p, pt_bytes(a.done()));
  EXPECT_HAS(open_error(p), "is a view of 17179869184 bytes over a 4-byte storage; views may exceed their storage by at most");
  // Beyond the element limit.
  Pickle b;
  b.op("}(").str("w").tensor(1, {1 << 20, 1 << 20}, {0, 0}).op("u");
  write_file(p, pt_bytes(b.done()));
  EXPECT_HAS(open_error(p), "tensor 'w': shape [1048576, 1048576] has more than 4294967296 elements");
  // A small broadcast view is still copied out (torch.save keeps expand()ed tensors as views).
  Pickle c;
  c.op("}(").str("w").tensor(1, {3, 2}, {0, 0}).op("u");
  std::string one(4, '\0');
  const float v = 2.5f;
  std::memcpy(one.data(), &v, 4);
  write_file(p, pt_bytes(c.done(), one));
  auto r = CheckpointReader::open(p);
  ASSERT_EQ(r->tensors().size(), 1u);
  std::vector<float> got(6);
  convert_to_f32(r->tensors()[0], got.data());
  EXPECT_EQ(got, std::vector<float>(6, 2.5f));
}

}  // namespace

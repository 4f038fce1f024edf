// PyTorch zip checkpoints (torch.save of a state dict, the default format since torch 1.6):
// <archive>/data.pkl is a pickle whose tensors refer to storages by persistent id; each
// storage's bytes are the zip entry <archive>/data/<key>. The file is memory-mapped and
// tensors point straight into it; only non-contiguous views, misaligned data and deflated
// entries get owned copies. metadata(): format=pytorch-zip, archive (folder name), version
// (torch's serialization record) and, for wrapped training checkpoints, state_dict_key.
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/checked_math.h"
#include "core/limits.h"
#include "io/checkpoint.h"
#include "io/load_cancel.h"
#include "io/pt_pickle.h"
#include "io/pt_zip.h"

namespace vggt::io {

namespace {

using pickle::Kind;
using pickle::Ref;
using pickle::Value;

struct Storage : pickle::Extension {
  std::string key;
  DType dtype = DType::U8;
  int64_t numel = 0;  // elements of `dtype` (bytes for untyped storages)
  bool untyped = false;
};

struct TensorRecord : pickle::Extension {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::F32;
  int64_t offset = 0;  // in elements of dtype
  std::vector<int64_t> shape, stride;
};

// Marker values for whitelisted globals; `what` tells the call hook which one it is.
struct GlobalFn : pickle::Extension {
  enum What { OrderedDict, RebuildV2, RebuildV3, RebuildParameter, StorageType, DTypeValue } what;
  DType dtype = DType::U8;
  bool untyped = false;
  bool supported = true;  // false for known torch types we cannot represent (complex, quantized, ...)
  std::string name;
};

std::shared_ptr<GlobalFn> global_fn(const Ref& v) {
  return v && v->kind == Kind::Global ? std::dynamic_pointer_cast<GlobalFn>(v->ext) : nullptr;
}
std::shared_ptr<TensorRecord> tensor_of(const Ref& v) {
  return v && v->kind == Kind::Ext ? std::dynamic_pointer_cast<TensorRecord>(v->ext) : nullptr;
}

int64_t as_int(const Ref& v, const char* what) {
  if (!v || v->kind != Kind::Int) throw std::runtime_error(std::string(what) + " is not an int");
  return v->i;
}
std::vector<int64_t> as_int_seq(const Ref& v, const char* what) {
  if (!v || (v->kind != Kind::Tuple && v->kind != Kind::List)) throw std::runtime_error(std::string(what) + " is not a tuple");
  std::vector<int64_t> out;
  for (auto& x : v->items) {
    const int64_t n = as_int(x, what);
    if (n < 0) throw std::runtime_error(std::string(what) + " has a negative entry");
    out.push_back(n);
  }
  return out;
}

Ref resolve_global(const std::string& module, const std::string& name) {
  auto fn = std::make_shared<GlobalFn>();
  fn->name = module + "." + name;
  static const std::map<std::string, std::pair<DType, bool>> storages = {
      {"FloatStorage", {DType::F32, true}},   {"HalfStorage", {DType::F16, true}},
      {"BFloat16Storage", {DType::BF16, true}}, {"DoubleStorage", {DType::F64, true}},
      {"LongStorage", {DType::I64, true}},    {"IntStorage", {DType::I32, true}},
      {"ShortStorage", {DType::I16, true}},   {"ByteStorage", {DType::U8, true}},
      {"CharStorage", {DType::I8, true}},     {"BoolStorage", {DType::BOOL, true}},
      {"UntypedStorage", {DType::U8, true}},  {"ComplexFloatStorage", {DType::U8, false}},
      {"ComplexDoubleStorage", {DType::U8, false}}, {"QInt8Storage", {DType::U8, false}},
      {"QUInt8Storage", {DType::U8, false}},  {"QInt32Storage", {DType::U8, false}},
      {"QUInt4x2Storage", {DType::U8, false}}, {"QUInt2x4Storage", {DType::U8, false}}};
  static const std::map<std::string, std::pair<DType, bool>> dtypes = {
      {"float32", {DType::F32, true}}, {"float", {DType::F32, true}},   {"float16", {DType::F16, true}},
      {"half", {DType::F16, true}},    {"bfloat16", {DType::BF16, true}}, {"float64", {DType::F64, true}},
      {"double", {DType::F64, true}},  {"int64", {DType::I64, true}},   {"long", {DType::I64, true}},
      {"int32", {DType::I32, true}},   {"int", {DType::I32, true}},     {"int16", {DType::I16, true}},
      {"short", {DType::I16, true}},   {"int8", {DType::I8, true}},     {"uint8", {DType::U8, true}},
      {"bool", {DType::BOOL, true}},   {"uint16", {DType::U8, false}},  {"uint32", {DType::U8, false}},
      {"uint64", {DType::U8, false}},  {"float8_e4m3fn", {DType::U8, false}}, {"float8_e5m2", {DType::U8, false}},
      {"float8_e4m3fnuz", {DType::U8, false}}, {"float8_e5m2fnuz", {DType::U8, false}},
      {"complex64", {DType::U8, false}}, {"complex128", {DType::U8, false}}};
  if (module == "collections" && name == "OrderedDict") {
    fn->what = GlobalFn::OrderedDict;
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    fn->what = GlobalFn::RebuildV2;
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v3") {
    fn->what = GlobalFn::RebuildV3;
  } else if (module == "torch._utils" && (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state")) {
    fn->what = GlobalFn::RebuildParameter;
  } else if ((module == "torch" || module == "torch.storage") && storages.count(name)) {
    fn->what = GlobalFn::StorageType;
    std::tie(fn->dtype, fn->supported) = storages.at(name);
    fn->untyped = name == "UntypedStorage";
  } else if (module == "torch" && dtypes.count(name)) {
    fn->what = GlobalFn::DTypeValue;
    std::tie(fn->dtype, fn->supported) = dtypes.at(name);
  } else {
    throw std::runtime_error("unsupported pickle content: global '" + module + "." + name +
                             "' (only tensor state dicts can be loaded; nothing is executed)");
  }
  Ref r = Value::make(Kind::Global);
  r->s = fn->name;
  r->ext = fn;
  return r;
}

Ref rebuild_tensor(const GlobalFn& fn, const Ref& args) {
  const auto& a = args->items;
  const bool v3 = fn.what == GlobalFn::RebuildV3;
  const size_t min_args = v3 ? 7 : 6;
  if (a.size() < min_args || a.size() > min_args + 1)
    throw std::runtime_error(fn.name + " called with " + std::to_string(a.size()) + " arguments");
  auto st = a[0] && a[0]->kind == Kind::Ext ? std::dynamic_pointer_cast<Storage>(a[0]->ext) : nullptr;
  if (!st) throw std::runtime_error(fn.name + ": first argument is not a storage");
  auto t = std::make_shared<TensorRecord>();
  t->storage = st;
  t->offset = as_int(a[1], "tensor storage offset");
  if (t->offset < 0) throw std::runtime_error("negative tensor storage offset");
  t->shape = as_int_seq(a[2], "tensor size");
  t->stride = as_int_seq(a[3], "tensor stride");
  if (t->shape.size() != t->stride.size()) throw std::runtime_error("tensor size and stride differ in length");
  if (v3) {
    auto dt = global_fn(a[6]);
    if (!dt || dt->what != GlobalFn::DTypeValue) throw std::runtime_error(fn.name + ": dtype argument is not a torch dtype");
    if (!dt->supported) throw std::runtime_error("unsupported tensor dtype " + dt->name);
    t->dtype = dt->dtype;
  } else {
    if (st->untyped) throw std::runtime_error(fn.name + " with an untyped storage");
    t->dtype = st->dtype;
  }
  Ref r = Value::make(Kind::Ext);
  r->ext = t;
  return r;
}

Ref call_global(const Ref& callable, const Ref& args) {
  auto fn = global_fn(callable);
  if (!fn) throw std::runtime_error(std::string("unsupported pickle content: call of a ") + pickle::kind_name(callable->kind));
  switch (fn->what) {
    case GlobalFn::OrderedDict: {
      Ref d = Value::make(Kind::Dict);
      if (args->items.empty()) return d;
      // OrderedDict([(k, v), ...])
      const Ref& pairs = args->items[0];
      if (args->items.size() != 1 || (pairs->kind != Kind::List && pairs->kind != Kind::Tuple))
        throw std::runtime_error("unsupported OrderedDict construction");
      for (auto& kv : pairs->items) {
        if ((kv->kind != Kind::Tuple && kv->kind != Kind::List) || kv->items.size() != 2)
          throw std::runtime_error("unsupported OrderedDict construction");
        d->dict.emplace_back(kv->items[0], kv->items[1]);
      }
      return d;
    }
    case GlobalFn::RebuildV2:
    case GlobalFn::RebuildV3: return rebuild_tensor(*fn, args);
    case GlobalFn::RebuildParameter: {
      // nn.Parameter(data, requires_grad, hooks[, state]): the parameter is its data tensor.
      if (args->items.size() < 3 || !tensor_of(args->items[0]))
        throw std::runtime_error(fn->name + " without a tensor argument");
      return args->items[0];
    }
    case GlobalFn::StorageType:
      throw std::runtime_error("unsupported pickle content: storage constructed outside a persistent id");
    case GlobalFn::DTypeValue: break;
  }
  throw std::runtime_error("unsupported pickle content: call of " + fn->name);
}

// BUILD sets Python attributes (e.g. a state dict's `_metadata`); they carry no tensor data.
Ref build_object(const Ref& obj, const Ref& /*state*/) {
  if (obj->kind == Kind::Dict || tensor_of(obj)) return obj;
  throw std::runtime_error(std::string("unsupported pickle content: BUILD of a ") + pickle::kind_name(obj->kind));
}

Ref load_storage(const Ref& pid, std::unordered_map<std::string, std::shared_ptr<Storage>>& storages) {
  // ('storage', storage_type, key, location, numel)
  if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::Str || pid->items[0]->s != "storage")
    throw std::runtime_error("unsupported persistent id (expected ('storage', type, key, location, numel))");
  auto type = global_fn(pid->items[1]);
  if (!type || type->what != GlobalFn::StorageType) throw std::runtime_error("persistent id without a storage type");
  if (!type->supported) throw std::runtime_error("unsupported storage type " + type->name);
  if (pid->items[2]->kind != Kind::Str) throw std::runtime_error("storage key is not a string");
  const std::string& key = pid->items[2]->s;
  const int64_t numel = as_int(pid->items[4], "storage size");
  if (numel < 0) throw std::runtime_error("negative storage size");
  auto& st = storages[key];
  if (!st) {
    st = std::make_shared<Storage>();
    st->key = key;
    st->dtype = type->dtype;
    st->untyped = type->untyped;
    st->numel = numel;
  } else if (st->dtype != type->dtype || st->numel != numel) {
    throw std::runtime_error("storage '" + key + "' is referenced with different types or sizes");
  }
  Ref r = Value::make(Kind::Ext);
  r->ext = st;
  return r;
}

bool has_tensors(const Ref& d) {
  for (auto& [k, v] : d->dict)
    if (tensor_of(v)) return true;
  return false;
}

class PtCheckpointReader : public CheckpointReader {
 public:
  explicit PtCheckpointReader(const std::string& path) : file_(path) {
    path_ = path;
    mapping_ = &file_;
    const uint8_t* d = file_.data();
    const size_t n = file_.size();
    if (n >= 2 && d[0] == 0x80 && d[1] <= 5)
      fail("legacy (pre-zip) torch.save format is not supported; re-save it with torch >= 1.6 defaults");
    if (n < 4 || std::memcmp(d, "PK\x03\x04", 4) != 0) fail("not a PyTorch zip checkpoint (no zip signature)");
    zip_ = std::make_unique<ZipArchive>(path, d, n);
    find_archive_prefix();
    check_byteorder();

    const ZipBytes pkl = zip_->read(*zip_->find(prefix_ + "data.pkl"), /*verify_crc=*/true, limits::kMaxPickleBytes);
    std::unordered_map<std::string, std::shared_ptr<Storage>> storages;
    pickle::Hooks hooks;
    hooks.find_global = resolve_global;
    hooks.call = call_global;
    hooks.build = build_object;
    hooks.persistent_load = [&](const Ref& pid) { return load_storage(pid, storages); };
    pickle::Unpickled program;
    try {
      program = pickle::unpickle(pkl.data, pkl.size, hooks, pickle::Budget(), poll_load_cancel);
    } catch (const LoadCancelled&) {
      throw;
    } catch (const std::exception& e) {
      fail(prefix_ + "data.pkl: " + e.what());
    }
    const Ref& root = program.root;
    if (root->kind != Kind::Dict)
      fail(std::string("data.pkl holds a ") + pickle::kind_name(root->kind) + ", not a state dict");
    collect(select_state_dict(root), "", 0);
    if (tensors_.empty()) fail("no tensors found in the state dict");
    metadata_["format"] = "pytorch-zip";
    metadata_["archive"] = prefix_.substr(0, prefix_.empty() ? 0 : prefix_.size() - 1);
    if (const ZipEntry* v = zip_->find(prefix_ + "version")) {
      ZipBytes b = zip_->read(*v, true);
      std::string s(reinterpret_cast<const char*>(b.data), b.size);
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      metadata_["version"] = s;
    }
  }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }

 private:
  MappedFile file_;
  std::unique_ptr<ZipArchive> zip_;
  std::string prefix_;  // "<archive>/"
  std::vector<TensorInfo> tensors_;
  std::unordered_set<std::string> names_;
  std::map<std::string, std::string> metadata_;
  std::deque<std::vector<uint8_t>> owned_;

  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(path_ + ": " + what); }

  // torch names the archive folder after the file (any name is valid); data.pkl sits in it.
  void find_archive_prefix() {
    for (auto& e : zip_->entries()) {
      const std::string& nm = e.name;
      const size_t slash = nm.find('/');
      if (nm == "data.pkl" || (slash != std::string::npos && nm.compare(slash + 1, std::string::npos, "data.pkl") == 0)) {
        prefix_ = nm.substr(0, nm.size() - 8);
        return;
      }
    }
    fail("entry data.pkl missing (not a torch.save checkpoint?)");
  }

  void check_byteorder() {
    const ZipEntry* e = zip_->find(prefix_ + "byteorder");
    if (!e) return;  // written since torch 2.1; older files are little-endian
    ZipBytes b = zip_->read(*e, true);
    const std::string order(reinterpret_cast<const char*>(b.data), b.size);
    if (order == "little") return;
    if (order == "big") fail("big-endian checkpoint (byteorder 'big') is not supported");
    fail("unknown byteorder record '" + order + "'");
  }

  Ref select_state_dict(const Ref& root) {
    if (has_tensors(root)) return root;
    // Training checkpoints wrap the weights: {"model": state_dict, "optimizer": ..., "epoch": ...}.
    static const char* preferred[] = {"model", "state_dict", "model_state_dict", "module", "net", "weights"};
    for (const char* key : preferred)
      for (auto& [k, v] : root->dict)
        if (k->kind == Kind::Str && k->s == key && v->kind == Kind::Dict) {
          metadata_["state_dict_key"] = key;
          return v;
        }
    Ref found;
    std::string keys;
    for (auto& [k, v] : root->dict) {
      keys += (keys.empty() ? "" : ", ") + (k->kind == Kind::Str ? "'" + k->s + "'" : std::string(pickle::kind_name(k->kind)));
      if (v->kind == Kind::Dict && has_tensors(v)) {
        if (found) fail("ambiguous checkpoint: several top-level dicts hold tensors (" + keys + "...)");
        found = v;
        metadata_["state_dict_key"] = k->kind == Kind::Str ? k->s : "?";
      }
    }
    if (!found) fail("no tensors found (top-level keys: " + keys + ")");
    return found;
  }

  // Dicts may be shared (memo references), so a small file can describe an exponentially
  // large tree: every entry visited counts, shared ones each time they are reached.
  uint64_t visits_ = 0;

  void collect(const Ref& dict, const std::string& prefix, int depth) {
    if (depth > 32) fail("state dict nested too deeply");
    for (auto& [k, v] : dict->dict) {
      if (++visits_ > limits::kMaxStateDictVisits)
        fail("state dict has more than " + std::to_string(limits::kMaxStateDictVisits) +
             " entries counting shared ones each time (the limit)");
      if ((visits_ & 0xfff) == 0) poll_load_cancel();
      if (k->kind != Kind::Str) continue;  // not a parameter name
      const std::string name = prefix + k->s;
      if (auto t = tensor_of(v)) {
        add_tensor(name, *t);
      } else if (v->kind == Kind::Dict) {
        collect(v, name + ".", depth + 1);
      }
      // Other values (ints, strings, None) are bookkeeping, not weights.
    }
  }

  void add_tensor(std::string name, const TensorRecord& t) {
    if (name.rfind("module.", 0) == 0) name.erase(0, 7);  // DataParallel/DDP wrapper prefix
    if (!names_.insert(name).second) fail("duplicate tensor name '" + name + "'");
    const Storage& st = *t.storage;
    const std::string entry_name = prefix_ + "data/" + st.key;
    const ZipEntry* e = zip_->find(entry_name);
    if (!e) fail("entry " + entry_name + " missing (storage of tensor '" + name + "')");
    const ZipBytes bytes = zip_->read(*e, /*verify_crc=*/false);
    const size_t es = dtype_size(t.dtype);
    if (static_cast<uint64_t>(st.numel) > bytes.size / dtype_size(st.dtype))
      fail("entry " + entry_name + " holds " + std::to_string(bytes.size) + " bytes, too few for its storage of " +
           std::to_string(st.numel) + " " + dtype_name(st.dtype) + " elements");
    const uint64_t storage_bytes = checked_bytes(st.numel, dtype_size(st.dtype));  // <= the entry's size (checked above)

    TensorInfo info;
    info.name = name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    uint64_t numel = 0;
    try {
      numel = static_cast<uint64_t>(checked_numel(t.shape));
      info.nbytes = checked_bytes(static_cast<int64_t>(numel), es);
    } catch (const SizeError& e) {
      fail("tensor '" + name + "': " + e.what());
    }
    if (numel == 0) {
      info.data = bytes.data;
      tensors_.push_back(std::move(info));
      return;
    }
    // Byte extent of the view, with overflow checks so crafted sizes cannot wrap around the bounds check.
    uint64_t end_bytes = 0;
    bool overflow = false;
    try {
      uint64_t last = static_cast<uint64_t>(t.offset);
      for (size_t i = 0; i < t.shape.size(); ++i)
        last = checked_add(last, checked_mul(static_cast<uint64_t>(t.shape[i] - 1), static_cast<uint64_t>(t.stride[i]),
                                             "tensor view extent"),
                           "tensor view extent");
      end_bytes = checked_mul(checked_add(last, 1, "tensor view extent"), es, "tensor view extent");
    } catch (const SizeError&) {
      overflow = true;
    }
    if (overflow || end_bytes > storage_bytes)
      fail("tensor '" + name + "' (offset " + std::to_string(t.offset) + ", shape " + shape_str(t.shape) +
           ") exceeds its " + std::to_string(storage_bytes) + "-byte storage " + entry_name);

    bool contiguous = true;
    int64_t expect = 1;
    for (size_t i = t.shape.size(); i-- > 0;) {
      if (t.shape[i] != 1 && t.stride[i] != expect) contiguous = false;
      expect *= t.shape[i];
    }
    const uint8_t* base = bytes.data + static_cast<size_t>(t.offset) * es;
    const bool aligned = reinterpret_cast<uintptr_t>(base) % es == 0;
    if (contiguous && aligned) {
      info.data = base;
    } else {
      // A broadcast (stride-0) or overlapping view has more elements than its storage holds;
      // copying it out is bounded so that a few bytes cannot claim gigabytes.
      if (info.nbytes > storage_bytes && info.nbytes - storage_bytes > limits::kMaxViewExpansionBytes)
        fail("tensor '" + name + "' " + shape_str(t.shape) + " with strides " + shape_str(t.stride) + " is a view of " +
             std::to_string(info.nbytes) + " bytes over a " + std::to_string(storage_bytes) +
             "-byte storage; views may exceed their storage by at most " +
             std::to_string(limits::kMaxViewExpansionBytes) + " bytes");
      std::vector<uint8_t>* buf = nullptr;
      try {
        buf = &owned_.emplace_back(info.nbytes);
      } catch (const std::bad_alloc&) {
        fail("out of memory copying non-contiguous tensor '" + name + "' (" + std::to_string(info.nbytes) + " bytes)");
      }
      copy_strided(buf->data(), bytes.data, t, es);
      info.data = buf->data();
    }
    tensors_.push_back(std::move(info));
  }

  static void copy_strided(uint8_t* dst, const uint8_t* storage, const TensorRecord& t, size_t es) {
    const size_t nd = t.shape.size();
    std::vector<int64_t> idx(nd, 0);
    int64_t numel = 1;
    for (auto s : t.shape) numel *= s;
    for (int64_t n = 0; n < numel; ++n) {
      int64_t off = t.offset;
      for (size_t i = 0; i < nd; ++i) off += idx[i] * t.stride[i];
      std::memcpy(dst + static_cast<size_t>(n) * es, storage + static_cast<size_t>(off) * es, es);
      for (size_t i = nd; i-- > 0;) {
        if (++idx[i] < t.shape[i]) break;
        idx[i] = 0;
      }
    }
  }

  static std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
    return r + "]";
  }
};

}  // namespace

std::unique_ptr<CheckpointReader> open_pt_checkpoint(const std::string& path) {
  return std::make_unique<PtCheckpointReader>(path);
}

}  // namespace vggt::io

// A minimal, non-executing pickle VM (protocols 2-5) for torch state dicts. It only builds
// plain values (None, bool, int, float, str, bytes, tuple, list, dict, set); every global,
// call (REDUCE/NEWOBJ), BUILD and persistent id is handed to the caller's hooks, which
// decide what is allowed. Nothing from the pickle is ever imported or executed.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vggt::io::pickle {

// Base for objects the hooks create (tensors, storages, ...).
struct Extension {
  virtual ~Extension() = default;
};

enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Set, Global, Ext };

struct Value;
using Ref = std::shared_ptr<Value>;

struct Value {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str / Bytes; "module.qualname" for Global
  std::vector<Ref> items;  // Tuple / List / Set
  std::vector<std::pair<Ref, Ref>> dict;  // Dict, in insertion order
  std::shared_ptr<Extension> ext;  // Ext

  Value() = default;
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  // Releases children iteratively: a recursive destructor overflows the stack on a million
  // nested tuples (1.3 KB of pickle).
  ~Value();

  static Ref make(Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
  }
};

// The result of unpickling. Memo references can make a container hold itself (a list appended
// to itself), which reference counting alone never frees; the destructor empties every
// container the program built, so the whole graph is released.
struct Unpickled {
  Ref root;
  std::vector<std::weak_ptr<Value>> containers;
  Unpickled() = default;
  Unpickled(Unpickled&&) = default;
  Unpickled& operator=(Unpickled&&) = default;
  ~Unpickled();
};

// Bounds on one run, so that a small file cannot take unbounded time or memory (defaults from
// core/limits.h). Every opcode counts one op; every value built counts one value, and every
// element added to a container (including shared references added again) counts one value.
struct Budget {
  uint64_t max_ops;
  uint64_t max_values;
  Budget();
};

const char* kind_name(Kind k);

struct Hooks {
  // Resolve `module.name`; throw for anything not allowed.
  std::function<Ref(const std::string& module, const std::string& name)> find_global;
  // REDUCE (callable(*args)) and NEWOBJ (cls.__new__(cls, *args)); args is a Tuple.
  std::function<Ref(const Ref& callable, const Ref& args)> call;
  // BUILD (obj.__setstate__(state)); returns the object left on the stack.
  std::function<Ref(const Ref& obj, const Ref& state)> build;
  std::function<Ref(const Ref& pid)> persistent_load;
};

// Runs the pickle program and returns the value left by STOP. Throws std::runtime_error
// describing the problem and the byte offset of the failing opcode (also when a budget is
// exhausted). `poll`, when set, is called every few thousand opcodes (cancellation).
Unpickled unpickle(const uint8_t* data, size_t size, const Hooks& hooks, const Budget& budget = Budget(),
                   const std::function<void()>& poll = {});

}  // namespace vggt::io::pickle

#include "io/pt_pickle.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "core/limits.h"
#include "io/load_cancel.h"

namespace vggt::io::pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Ext: return "object";
  }
  return "?";
}

Value::~Value() {
  std::vector<Ref> pending;
  auto take = [&pending](Value& v) {
    for (auto& r : v.items)
      if (r) pending.push_back(std::move(r));
    v.items.clear();
    for (auto& [k, x] : v.dict) {
      if (k) pending.push_back(std::move(k));
      if (x) pending.push_back(std::move(x));
    }
    v.dict.clear();
  };
  take(*this);
  while (!pending.empty()) {
    Ref r = std::move(pending.back());
    pending.pop_back();
    if (r.use_count() == 1) take(*r);  // last owner: its children are released here, not recursively
  }
}

Unpickled::~Unpickled() {
  root.reset();
  for (auto& w : containers)
    if (Ref v = w.lock()) {
      std::vector<Ref> items = std::move(v->items);
      std::vector<std::pair<Ref, Ref>> dict = std::move(v->dict);
      v->items.clear();
      v->dict.clear();
    }
}

Budget::Budget() : max_ops(limits::kMaxPickleOps), max_values(limits::kMaxPickleValues) {}

namespace {

class Machine {
 public:
  Machine(const uint8_t* data, size_t size, const Hooks& hooks, const Budget& budget,
          const std::function<void()>& poll, Unpickled& out)
      : p_(data), end_(data + size), begin_(data), hooks_(hooks), budget_(budget), poll_(poll), out_(out) {}

  Ref run() {
    size_t op_pos = 0;
    uint64_t ops = 0;
    try {
      while (true) {
        op_pos = static_cast<size_t>(p_ - begin_);
        if (++ops > budget_.max_ops)
          throw std::runtime_error("pickle program runs more than " + std::to_string(budget_.max_ops) +
                                   " opcodes (the limit)");
        if (poll_ && (ops & 0xfff) == 0) poll_();
        const uint8_t op = u8();
        if (op == '.') {  // STOP
          if (stack_.size() != 1 || !marks_.empty()) throw std::runtime_error("STOP with an unbalanced stack");
          return stack_.back();
        }
        step(op);
      }
    } catch (const LoadCancelled&) {
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) + " (pickle opcode at byte " + std::to_string(op_pos) + ")");
    }
  }

 private:
  const Budget& budget_;
  const std::function<void()>& poll_;
  Unpickled& out_;
  uint64_t values_ = 0;

  void count_values(uint64_t n) {
    values_ += n;
    if (values_ > budget_.max_values)
      throw std::runtime_error("pickle builds more than " + std::to_string(budget_.max_values) +
                               " values and container entries (the limit)");
  }
  // Containers made by hooks (OrderedDict(...)) can be made to hold themselves too.
  void track(const Ref& r) {
    if (r->kind == Kind::Tuple || r->kind == Kind::List || r->kind == Kind::Dict || r->kind == Kind::Set) {
      count_values(1 + r->items.size() + r->dict.size());
      out_.containers.push_back(r);
    }
  }
  // Every value goes through here, so the value budget and the container registry see it.
  Ref make(Kind k) {
    count_values(1);
    Ref r = Value::make(k);
    if (k == Kind::Tuple || k == Kind::List || k == Kind::Dict || k == Kind::Set) out_.containers.push_back(r);
    return r;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* begin_;
  const Hooks& hooks_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;

  void need(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) throw std::runtime_error("truncated pickle data");
  }
  uint8_t u8() {
    need(1);
    return *p_++;
  }
  uint64_t le(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p_[k]) << (8 * k);
    p_ += n;
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) throw std::runtime_error("truncated pickle data");
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  std::string line() {
    const void* nl = std::memchr(p_, '\n', static_cast<size_t>(end_ - p_));
    if (!nl) throw std::runtime_error("truncated pickle data (missing newline)");
    std::string s(reinterpret_cast<const char*>(p_), static_cast<const uint8_t*>(nl) - p_);
    p_ = static_cast<const uint8_t*>(nl) + 1;
    return s;
  }

  void push(Ref v) {
    if (stack_.size() >= budget_.max_values)
      throw std::runtime_error("pickle stack deeper than " + std::to_string(budget_.max_values) + " entries (the limit)");
    stack_.push_back(std::move(v));
  }
  Ref pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
      throw std::runtime_error("pickle stack underflow");
    Ref v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Ref& top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
      throw std::runtime_error("pickle stack underflow");
    return stack_.back();
  }
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) throw std::runtime_error("pickle MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Ref> items(std::make_move_iterator(stack_.begin() + m), std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }

  Ref make_int(int64_t v) {
    Ref r = make(Kind::Int);
    r->i = v;
    return r;
  }
  Ref make_str(Kind k, std::string s) {
    Ref r = make(k);
    r->s = std::move(s);
    return r;
  }
  Ref make_tuple(std::vector<Ref> items) {
    count_values(items.size());
    Ref r = make(Kind::Tuple);
    r->items = std::move(items);
    return r;
  }
  // Python's arbitrary-precision ints: only values that fit in int64 are supported.
  Ref long_from_bytes(const std::string& b) {
    if (b.size() > 8) throw std::runtime_error("integer too large (" + std::to_string(b.size()) + " bytes)");
    uint64_t v = 0;
    for (size_t k = 0; k < b.size(); ++k) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[k])) << (8 * k);
    if (!b.empty() && b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80)) v |= ~uint64_t{0} << (8 * b.size());
    return make_int(static_cast<int64_t>(v));
  }
  static int64_t parse_int(std::string s) {
    if (!s.empty() && s.back() == 'L') s.pop_back();
    errno = 0;
    char* e = nullptr;
    const long long v = std::strtoll(s.c_str(), &e, 10);
    if (s.empty() || *e || errno) throw std::runtime_error("bad integer literal '" + s + "'");
    return v;
  }
  void put_memo(uint64_t idx) {
    count_values(1);
    memo_[idx] = top();
  }
  Ref get_memo(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) throw std::runtime_error("pickle memo key " + std::to_string(idx) + " missing");
    return it->second;
  }
  void set_items(const Ref& d, std::vector<Ref>& kv, size_t from) {
    count_values(kv.size() - from);
    if (d->kind != Kind::Dict) throw std::runtime_error(std::string("SETITEM(S) on a ") + kind_name(d->kind));
    if ((kv.size() - from) % 2) throw std::runtime_error("SETITEMS with an odd number of items");
    for (size_t k = from; k < kv.size(); k += 2) d->dict.emplace_back(kv[k], kv[k + 1]);
  }
  void append_items(const Ref& l, std::vector<Ref>& items) {
    count_values(items.size());
    if (l->kind != Kind::List && l->kind != Kind::Set)
      throw std::runtime_error(std::string("APPEND(S)/ADDITEMS on a ") + kind_name(l->kind));
    for (auto& v : items) l->items.push_back(v);
  }
  Ref call(const Ref& callable, const Ref& args) {
    if (args->kind != Kind::Tuple) throw std::runtime_error("call arguments are not a tuple");
    if (!hooks_.call) throw std::runtime_error("calls are not supported");
    Ref r = hooks_.call(callable, args);
    if (!r) throw std::runtime_error("call returned nothing");
    track(r);
    return r;
  }

  void step(uint8_t op) {
    switch (op) {
      case 0x80: {  // PROTO
        const uint8_t v = u8();
        if (v > 5) throw std::runtime_error("unsupported pickle protocol " + std::to_string(v));
        break;
      }
      case 0x95: le(8); break;  // FRAME: framing is irrelevant when the whole pickle is in memory
      case '(':
        count_values(1);
        marks_.push_back(stack_.size());
        break;
      case '0': pop(); break;
      case '1': pop_mark(); break;
      case '2': push(top()); break;
      case 'N': push(make(Kind::None)); break;
      case 0x88: case 0x89: {  // NEWTRUE / NEWFALSE
        Ref r = make(Kind::Bool);
        r->b = op == 0x88;
        push(r);
        break;
      }
      case 'J': push(make_int(static_cast<int32_t>(static_cast<uint32_t>(le(4))))); break;  // BININT
      case 'K': push(make_int(static_cast<int64_t>(le(1)))); break;  // BININT1
      case 'M': push(make_int(static_cast<int64_t>(le(2)))); break;  // BININT2
      case 0x8a: push(long_from_bytes(bytes(le(1)))); break;  // LONG1
      case 0x8b: push(long_from_bytes(bytes(le(4)))); break;  // LONG4
      case 'I': {  // INT (text); "I00"/"I01" are protocol-0 booleans
        const std::string s = line();
        if (s == "00" || s == "01") {
          Ref r = make(Kind::Bool);
          r->b = s == "01";
          push(r);
        } else {
          push(make_int(parse_int(s)));
        }
        break;
      }
      case 'L': push(make_int(parse_int(line()))); break;  // LONG (text)
      case 'G': {  // BINFLOAT, big-endian
        need(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[k];
        p_ += 8;
        Ref r = make(Kind::Float);
        std::memcpy(&r->f, &bits, 8);
        push(r);
        break;
      }
      case 'F': {  // FLOAT (text)
        const std::string s = line();
        char* e = nullptr;
        Ref r = make(Kind::Float);
        r->f = std::strtod(s.c_str(), &e);
        if (s.empty() || *e) throw std::runtime_error("bad float literal '" + s + "'");
        push(r);
        break;
      }
      case 'X': push(make_str(Kind::Str, bytes(le(4)))); break;  // BINUNICODE
      case 0x8c: push(make_str(Kind::Str, bytes(le(1)))); break;  // SHORT_BINUNICODE
      case 0x8d: push(make_str(Kind::Str, bytes(le(8)))); break;  // BINUNICODE8
      case 'T': push(make_str(Kind::Str, bytes(le(4)))); break;  // BINSTRING (py2 str)
      case 'U': push(make_str(Kind::Str, bytes(le(1)))); break;  // SHORT_BINSTRING
      case 'B': push(make_str(Kind::Bytes, bytes(le(4)))); break;  // BINBYTES
      case 'C': push(make_str(Kind::Bytes, bytes(le(1)))); break;  // SHORT_BINBYTES
      case 0x8e: case 0x96: push(make_str(Kind::Bytes, bytes(le(8)))); break;  // BINBYTES8 / BYTEARRAY8
      case ')': push(make_tuple({})); break;
      case 't': push(make_tuple(pop_mark())); break;
      case 0x85: { Ref a = pop(); push(make_tuple({a})); break; }
      case 0x86: { Ref b = pop(), a = pop(); push(make_tuple({a, b})); break; }
      case 0x87: { Ref c = pop(), b = pop(), a = pop(); push(make_tuple({a, b, c})); break; }
      case ']': push(make(Kind::List)); break;
      case 'l': { Ref r = make(Kind::List); r->items = pop_mark(); count_values(r->items.size()); push(r); break; }
      case '}': push(make(Kind::Dict)); break;
      case 'd': {
        std::vector<Ref> kv = pop_mark();
        Ref r = make(Kind::Dict);
        set_items(r, kv, 0);
        push(r);
        break;
      }
      case 0x8f: push(make(Kind::Set)); break;  // EMPTY_SET
      case 0x91: { Ref r = make(Kind::Set); r->items = pop_mark(); count_values(r->items.size()); push(r); break; }  // FROZENSET
      case 'a': { Ref v = pop(); std::vector<Ref> one{v}; append_items(top(), one); break; }
      case 'e': case 0x90: { std::vector<Ref> items = pop_mark(); append_items(top(), items); break; }  // APPENDS / ADDITEMS
      case 's': {
        Ref v = pop(), k = pop();
        std::vector<Ref> kv{k, v};
        set_items(top(), kv, 0);
        break;
      }
      case 'u': { std::vector<Ref> kv = pop_mark(); set_items(top(), kv, 0); break; }
      case 'q': put_memo(le(1)); break;  // BINPUT
      case 'r': put_memo(le(4)); break;  // LONG_BINPUT
      case 0x94: put_memo(memo_.size()); break;  // MEMOIZE
      case 'p': put_memo(static_cast<uint64_t>(parse_int(line()))); break;  // PUT
      case 'h': push(get_memo(le(1))); break;  // BINGET
      case 'j': push(get_memo(le(4))); break;  // LONG_BINGET
      case 'g': push(get_memo(static_cast<uint64_t>(parse_int(line())))); break;  // GET
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = line();
        std::string name = line();
        push(resolve(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Ref name = pop(), module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) throw std::runtime_error("STACK_GLOBAL needs two strings");
        push(resolve(module->s, name->s));
        break;
      }
      case 'R': { Ref args = pop(), fn = pop(); push(call(fn, args)); break; }  // REDUCE
      case 0x81: { Ref args = pop(), cls = pop(); push(call(cls, args)); break; }  // NEWOBJ
      case 'b': {  // BUILD
        Ref state = pop();
        Ref& obj = top();
        if (!hooks_.build) throw std::runtime_error("BUILD is not supported");
        obj = hooks_.build(obj, state);
        break;
      }
      case 'Q': {  // BINPERSID
        Ref pid = pop();
        if (!hooks_.persistent_load) throw std::runtime_error("persistent ids are not supported");
        push(hooks_.persistent_load(pid));
        break;
      }
      case 'P': {  // PERSID (text)
        Ref pid = make_str(Kind::Str, line());
        if (!hooks_.persistent_load) throw std::runtime_error("persistent ids are not supported");
        push(hooks_.persistent_load(pid));
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        throw std::runtime_error(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }

  Ref resolve(const std::string& module, const std::string& name) {
    if (!hooks_.find_global) throw std::runtime_error("unsupported pickle content: global '" + module + "." + name + "'");
    Ref r = hooks_.find_global(module, name);
    if (!r) throw std::runtime_error("unsupported pickle content: global '" + module + "." + name + "'");
    return r;
  }
};

}  // namespace

Unpickled unpickle(const uint8_t* data, size_t size, const Hooks& hooks, const Budget& budget,
                   const std::function<void()>& poll) {
  Unpickled out;
  out.root = Machine(data, size, hooks, budget, poll, out).run();
  return out;
}

}  // namespace vggt::io::pickle

// Minimal command-line parsing: --key value, --key v1 v2 ... (until the next --option), --flag.
#pragma once
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/limits.h"

namespace vggt::cli {

class Args {
 public:
  Args(int argc, char** argv, int first, const std::set<std::string>& flags) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) throw std::runtime_error("unexpected argument '" + a + "'");
      a = a.substr(2);
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        values_[a.substr(0, eq)].push_back(a.substr(eq + 1));
        continue;
      }
      auto& v = values_[a];
      if (flags.count(a)) continue;
      while (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) v.push_back(argv[++i]);
      if (v.empty()) throw std::runtime_error("--" + a + " needs a value");
    }
  }
  bool has(const std::string& k) const { return values_.count(k) > 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = values_.find(k);
    return it == values_.end() || it->second.empty() ? def : it->second.front();
  }
  std::string required(const std::string& k) const {
    if (!has(k)) throw std::runtime_error("missing required option --" + k);
    return get(k);
  }
  int get_int(const std::string& k, int def) const {
    if (!has(k)) return def;
    try {
      return std::stoi(get(k));
    } catch (...) {
      throw std::runtime_error("--" + k + " expects an integer, got '" + get(k) + "'");
    }
  }
  // --threads N: 0 (the default) = all cores, at most limits::kMaxThreads.
  int get_threads() const {
    const int n = get_int("threads", 0);
    if (n < 0 || n > limits::kMaxThreads)
      throw std::runtime_error("--threads must be between 0 (all cores) and " + std::to_string(limits::kMaxThreads) +
                               ", got " + get("threads"));
    return n;
  }
  std::vector<std::string> list(const std::string& k) const {
    auto it = values_.find(k);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  void check_known(const std::set<std::string>& known) const {
    for (auto& [k, v] : values_)
      if (!known.count(k)) throw std::runtime_error("unknown option --" + k);
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace vggt::cli

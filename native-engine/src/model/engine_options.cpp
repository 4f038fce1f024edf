#include "model/engine_options.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace vggt {

const std::vector<OptionInfo>& option_table() {
  // The optimization toggles in the write-up's order, then the many-frame global-attention
  // toggles. Layer indices are aggregator layers (0-based); ranges past the model's depth are
  // clamped to it at run time.
  static const std::vector<OptionInfo> table = {
      {"sincos-lowp", false, true, "DPT sin/cos position embedding in fp32 (not fp64)", {}},
      {"rope-fused", false, true, "RoPE applied in one pass over q and k", {}},
      {"rope-cache", false, true, "RoPE positions and per-token cos/sin built once per grid", {}},
      {"dpt-pos-cache", false, true, "DPT position embeddings cached per shape", {}},
      {"fused-add-ln", false, true, "residual add + LayerNorm in one pass", {}},
      {"bf16", true, true, "bf16 weights and activations in the big GEMMs and convs", {}},
      {"w8a8",
       true,
       false,
       "int8 weights and activations in the transformer Linears (docs/INT8.md)",
       {{"scope", 0, 1, 1, true, "which Linears run in int8: 0 = fc2 (the MLPs' K = 4096 Linears), 1 = all-linears",
         {"fc2", "all-linears"}},
        {"outliers", 0, 3, 1, true,
         "outlier handling: 0 = none, 1 = special (camera/register tokens quantised in two int8 levels), "
         "2 = hadamard (activations rotated by a Walsh-Hadamard transform, folded into the weights), "
         "3 = hadamard+special",
         {"none", "special", "hadamard", "hadamard+special"}}}},
      {"prepack", false, true, "weights prepacked for the GEMM kernels", {}},
      {"flash-attn", false, true, "tiled flash attention (online softmax)", {}},
      {"global-early-frame",
       true,
       false,
       "the first K global layers computed as frame attention (AVGGT step 1)",
       {{"k", 0, 64, 8, true, "number of leading global layers run as frame attention (0 = none)"}}},
      {"global-kv-subsample",
       true,
       false,
       "global layers in [first, last]: every query attends to its own frame in full and to the other "
       "frames' special tokens, a grid-strided subset of their patch tokens and one mean-fill token each "
       "(AVGGT step 2)",
       {{"stride", 1, 16, 4, true, "grid stride over patch rows and columns (1 = keep every patch)"},
        {"first", 0, 63, 8, true, "first global layer subsampled"},
        {"last", 0, 63, 21, true, "last global layer subsampled"}}},
      {"global-block-sparse",
       true,
       false,
       "global layers not otherwise replaced: per 64-query block, only the key tiles whose mean-pooled "
       "score is in the top `keep` fraction (or within the cumulative-probability threshold `cdf`) are "
       "computed; camera and register tokens always dense",
       {{"keep", 0.01, 1, 0.25, false, "fraction of key tiles kept per query block (1 = every tile)"},
        {"cdf", 0, 1, 0, false, "also keep the most probable tiles up to this cumulative probability (0 = off)"}}},
  };
  return table;
}

const OptionInfo* find_option(const std::string& name) {
  for (const auto& o : option_table())
    if (o.name == name) return &o;
  return nullptr;
}

namespace {
const OptionParam* find_param(const OptionInfo& o, const std::string& name) {
  for (const auto& p : o.params)
    if (p.name == name) return &p;
  return nullptr;
}

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string known_list() {
  std::string s;
  for (const auto& o : option_table()) s += (s.empty() ? "" : ", ") + o.name;
  return s;
}

const OptionInfo& require_option(const std::string& name) {
  const OptionInfo* o = find_option(name);
  if (!o) throw std::runtime_error("unknown engine option '" + name + "' (known: " + known_list() + ")");
  return *o;
}
}  // namespace

double EngineOptions::param(const std::string& option, const std::string& name) const {
  const OptionInfo& o = require_option(option);
  const OptionParam* p = find_param(o, name);
  if (!p) throw std::runtime_error("engine option '" + option + "' has no parameter '" + name + "'");
  auto it = params.find(option);
  if (it != params.end()) {
    auto jt = it->second.find(name);
    if (jt != it->second.end()) return jt->second;
  }
  return p->def;
}

double validate_param(const OptionInfo& opt, const std::string& param, double value, const std::string& text) {
  if (opt.params.empty()) throw std::runtime_error("engine option '" + opt.name + "' takes no value, got '" + text + "'");
  const OptionParam* p = find_param(opt, param);
  if (!p) {
    std::string names;
    for (const auto& q : opt.params) names += (names.empty() ? "" : ", ") + q.name;
    throw std::runtime_error("engine option '" + opt.name + "' has no parameter '" + param + "' (parameters: " + names +
                             ")");
  }
  std::string range = std::string(p->integer ? "an integer" : "a number") + " in [" + num(p->min) + ", " +
                      num(p->max) + "]";
  if (!p->choices.empty()) {
    range = "one of ";
    for (size_t i = 0; i < p->choices.size(); ++i) range += (i ? ", " : "") + p->choices[i] + " (" + std::to_string(i) + ")";
  }
  if (!std::isfinite(value) || value < p->min || value > p->max || (p->integer && value != std::floor(value)))
    throw std::runtime_error("engine option '" + opt.name + "': " + p->name + " must be " + range + ", got '" + text +
                             "'");
  return value;
}

void validate_option_params(const EngineOptions& o) {
  if (o.flag("global-kv-subsample") &&
      o.param("global-kv-subsample", "first") > o.param("global-kv-subsample", "last"))
    throw std::runtime_error("engine option 'global-kv-subsample': first (" + num(o.param("global-kv-subsample", "first")) +
                             ") must be <= last (" + num(o.param("global-kv-subsample", "last")) + ")");
}

EngineOptions parse_option_list(const std::string& list, int threads) {
  EngineOptions o;
  o.threads = threads;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    bool on = true;
    if (item[0] == '-') {
      on = false;
      item = item.substr(1);
    }
    if (item == "all") {
      for (const auto& opt : option_table())
        if (opt.in_all) o.flags[opt.name] = on;
      continue;
    }
    const size_t eq = item.find('=');
    std::string name = item.substr(0, eq), pname;
    const size_t dot = name.find('.');
    if (dot != std::string::npos) {
      pname = name.substr(dot + 1);
      name = name.substr(0, dot);
    }
    const OptionInfo& opt = require_option(name);
    if (eq == std::string::npos) {
      if (!pname.empty()) throw std::runtime_error("engine option '" + item + "': give a value (" + item + "=N)");
      o.flags[name] = on;
      continue;
    }
    const std::string text = item.substr(eq + 1);
    if (!on) throw std::runtime_error("engine option '-" + item + "': a switched-off option takes no value");
    if (opt.params.empty()) throw std::runtime_error("engine option '" + name + "' takes no value, got '" + text + "'");
    if (pname.empty()) pname = opt.params[0].name;
    if (const OptionParam* p = find_param(opt, pname); p && !p->choices.empty()) {
      bool named = false;
      for (size_t i = 0; i < p->choices.size(); ++i)
        if (p->choices[i] == text) {
          o.params[name][pname] = static_cast<double>(i);
          named = true;
        }
      if (named) {
        o.flags[name] = true;
        continue;
      }
    }
    char* end = nullptr;
    const double v = text.empty() ? std::nan("") : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) {
      // Reuse the range message: the value is not a number at all.
      validate_param(opt, pname, std::nan(""), text);
    }
    o.params[name][pname] = validate_param(opt, pname, v, text);
    o.flags[name] = true;
  }
  validate_option_params(o);
  return o;
}

nlohmann::json option_params_json(const EngineOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& opt : option_table()) {
    if (opt.params.empty() || !o.flag(opt.name)) continue;
    for (const auto& p : opt.params) {
      const double v = o.param(opt.name, p.name);
      if (p.integer)
        j[opt.name][p.name] = static_cast<int64_t>(v);
      else
        j[opt.name][p.name] = v;
    }
  }
  return j;
}

nlohmann::json option_table_json() {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& opt : option_table()) {
    nlohmann::json ps = nlohmann::json::array();
    for (const auto& p : opt.params) {
      nlohmann::json pj = {{"name", p.name}, {"min", p.min},         {"max", p.max},
                           {"default", p.def}, {"integer", p.integer}, {"help", p.help}};
      if (!p.choices.empty()) pj["choices"] = p.choices;
      ps.push_back(pj);
    }
    arr.push_back({{"name", opt.name}, {"kind", opt.lossy ? "lossy" : "exact"}, {"in_all", opt.in_all},
                   {"help", opt.help}, {"params", ps}});
  }
  return arr;
}

}  // namespace vggt

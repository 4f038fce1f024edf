#include "model/engine_options.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace vggt {

namespace {
// world_points rms(difference)/rms(points) of the candidates: `bench --sets none all all,w8a8`,
// 2026-11-30 (docs/PERFORMANCE.md, "The default set per machine"); int8 re-measured with its
// residual weights, the default since (rotation 0.171 deg; `all` 0.211).
constexpr double kAllPointsRel = 5.63e-4;
constexpr double kInt8PointsRel = 5.6e-4;  // with residual weights (w8a8.residual's default)
constexpr double kInt8F32PointsRel = 2.0e-6;
// Captureless accessors, so the table can set and read the typed parameters by name.
#define VGGT_PARAM(member, field, cast)                                          \
  [](const EngineOptions& o) { return static_cast<double>(o.member.field); }, \
      [](EngineOptions& o, double v) { o.member.field = static_cast<cast>(v); }
}  // namespace

const std::vector<OptionInfo>& option_table() {
  // The optimization toggles in the order they were added to the engine, then the many-frame
  // global-attention toggles. Layer indices are aggregator layers (0-based); ranges past the
  // model's depth are clamped to it at run time.
  using G = OptionGroup;
  static const std::vector<OptionInfo> table = [] {
    std::vector<OptionInfo> t = {
        {Opt::sincos_lowp, "sincos-lowp", false, true, G::optimizations, "DPT sin/cos position embedding in fp32 (not fp64)", {}},
        {Opt::rope_fused, "rope-fused", false, true, G::optimizations, "RoPE applied in one pass over q and k", {}},
        {Opt::rope_cache, "rope-cache", false, true, G::optimizations, "RoPE positions and per-token cos/sin built once per grid", {}},
        {Opt::dpt_pos_cache, "dpt-pos-cache", false, true, G::optimizations, "DPT position embeddings cached per shape", {}},
        {Opt::fused_add_ln, "fused-add-ln", false, true, G::optimizations, "residual add + LayerNorm in one pass", {}},
        {Opt::bf16, "bf16", true, true, G::optimizations, "bf16 weights and activations in the big GEMMs and convs", {}},
        {Opt::w8a8,
         "w8a8",
         true,
         false,
         G::optimizations,
         "int8 weights and activations in the transformer Linears (docs/INT8.md)",
         {{"scope", 0, 1, true, "which Linears run in int8: 0 = fc2 (the MLPs' K = 4096 Linears), 1 = all-linears",
           VGGT_PARAM(w8a8, scope, int), {"fc2", "all-linears"}},
          {"outliers", 0, 3, true,
           "outlier handling: 0 = none, 1 = special (camera/register tokens quantised in two int8 levels), "
           "2 = hadamard (activations rotated by a Walsh-Hadamard transform, folded into the weights), "
           "3 = hadamard+special",
           VGGT_PARAM(w8a8, outliers, int), {"none", "special", "hadamard", "hadamard+special"}},
          {"residual", 0, 1, true,
           "residual weights (the int8 weights' rounding error as a second int8 matrix): 0 = none, "
           "1 = special+mean (camera/register tokens get ~16-bit weights, the other tokens their mean's "
           "correction); doubles the int8 weight memory",
           VGGT_PARAM(w8a8, residual, int), {"none", "special+mean"}}}},
        {Opt::prepack, "prepack", false, true, G::optimizations, "weights prepacked for the GEMM kernels", {}},
        {Opt::flash_attn, "flash-attn", false, true, G::optimizations, "tiled flash attention (online softmax)", {}},
        {Opt::global_early_frame,
         "global-early-frame",
         true,
         false,
         G::many_frames,
         "the first K global layers computed as frame attention (AVGGT step 1)",
         {{"k", 0, 64, true, "number of leading global layers run as frame attention (0 = none)",
           VGGT_PARAM(early_frame, k, int)}}},
        {Opt::global_kv_subsample,
         "global-kv-subsample",
         true,
         false,
         G::many_frames,
         "global layers in [first, last]: every query attends to its own frame in full and to the other "
         "frames' special tokens, a grid-strided subset of their patch tokens and one mean-fill token each "
         "(AVGGT step 2)",
         {{"stride", 1, 16, true, "grid stride over patch rows and columns (1 = keep every patch)",
           VGGT_PARAM(kv_subsample, stride, int)},
          {"first", 0, 63, true, "first global layer subsampled", VGGT_PARAM(kv_subsample, first, int)},
          {"last", 0, 63, true, "last global layer subsampled", VGGT_PARAM(kv_subsample, last, int)}}},
        {Opt::global_block_sparse,
         "global-block-sparse",
         true,
         false,
         G::many_frames,
         "global layers not otherwise replaced: per 64-query block, only the key tiles whose mean-pooled "
         "score is in the top `keep` fraction (or within the cumulative-probability threshold `cdf`) are "
         "computed; camera and register tokens always dense",
         {{"keep", 0.01, 1, false, "fraction of key tiles kept per query block (1 = every tile)",
           VGGT_PARAM(block_sparse, keep, double)},
          {"cdf", 0, 1, false, "also keep the most probable tiles up to this cumulative probability (0 = off)",
           VGGT_PARAM(block_sparse, cdf, double)}}},
    };
    for (size_t i = 0; i < t.size(); ++i)
      if (static_cast<size_t>(t[i].id) != i) throw std::logic_error("option table out of Opt order at " + t[i].name);
    if (t.size() != kOptionCount) throw std::logic_error("option table does not list every Opt");
    return t;
  }();
  return table;
}
#undef VGGT_PARAM

const OptionInfo& option_info(Opt id) { return option_table().at(static_cast<size_t>(id)); }

const OptionInfo* find_option(const std::string& name) {
  for (const auto& o : option_table())
    if (o.name == name) return &o;
  return nullptr;
}

const char* option_group_name(OptionGroup g) {
  return g == OptionGroup::many_frames ? "many-frames" : "optimizations";
}

double OptionParam::def() const { return get(EngineOptions{}); }

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

std::string names_where(bool (*pred)(const OptionInfo&)) {
  std::string s;
  for (const auto& o : option_table())
    if (pred(o)) s += (s.empty() ? "" : ",") + o.name;
  return s;
}
}  // namespace

const std::vector<OptionPreset>& option_presets() {
  // The default candidates' accuracy: VGGT-1B random weights (seed 0), 2 kitchen frames of
  // 518x350, each set against the exact fp32 run of the same `vggt-engine bench --sets` process
  // (docs/PERFORMANCE.md, "int8 scope and outlier handling" and "The default set per machine").
  static const std::string kBasis =
      "VGGT-1B random weights, 2 kitchen frames 518x350, vs the exact fp32 run of the same process";
  static const std::vector<OptionPreset> presets = {
      {"reference", "", "Every optimization off: the exact fp32 reference path."},
      {"writeup", "sincos-lowp,rope-fused,rope-cache,dpt-pos-cache,fused-add-ln,bf16,prepack",
       "The rows of the write-up's latency table."},
      {"all", "all",
       "Every option but int8 (bf16 weights and attention, flash attention, fused passes). Lossy, yet on the same "
       "VGGT-1B weights its outputs are closer to the fp32 outputs than the official release's bf16 autocast "
       "(cameras 1.24 vs 1.42 deg, points 6.3e-3 vs 1.6e-2 of their RMS). Its speed depends on the CPU's bf16 "
       "kernels: 2.1x faster than the fp32 reference on AMD Zen 4, slower than the fastest exact set on an Intel "
       "Xeon without AMX; `vggt-engine calibrate` measures which set is fastest on this CPU.",
       true, {0.211, kAllPointsRel, kBasis}},
      {"fastest-exact", names_where([](const OptionInfo& o) { return !o.lossy; }),
       "Every option that keeps the fp32-exact tolerance.", true, {0, 0, "exact: within the fp32 golden tolerance"}},
      {"fastest-int8", names_where([](const OptionInfo& o) { return o.group == OptionGroup::optimizations; }),
       "Every optimization, int8 included (the many-frame toggles stay off): `all,w8a8`. Its speed depends on the "
       "CPU's int8 (VNNI) GEMMs; `vggt-engine calibrate` measures it against the others.",
       true, {0.171, kInt8PointsRel, kBasis}},
      {"int8-fp32",
       names_where([](const OptionInfo& o) { return o.group == OptionGroup::optimizations && o.id != Opt::bf16; }),
       "int8 Linears with everything else in fp32 (flash attention, packed convolutions): `all,-bf16,w8a8`. The "
       "fastest set where bf16 kernels are slow (an Intel Xeon without AMX: 10.2 s vs `all,w8a8` 13.9 s at 2 "
       "frames), and closer to exact than `all,w8a8`; `vggt-engine calibrate` measures it against the others.",
       true, {0.130, kInt8F32PointsRel, kBasis}},
      {"many-frames", "all," + names_where([](const OptionInfo& o) { return o.group == OptionGroup::many_frames; }),
       "`all` plus the many-frame global-attention toggles at their default parameters."},
  };
  return presets;
}

const AccuracyBound& official_bf16_bound() {
  static const AccuracyBound b{1.42, 1.6e-2,
                               "the official VGGT release under bf16 autocast vs its fp32 run, same VGGT-1B weights"};
  return b;
}

const OptionPreset* find_preset(const std::string& name) {
  for (const auto& p : option_presets())
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<Opt> cumulative_order() {
  std::vector<Opt> order;
  for (const auto& o : option_table())
    if (o.group == OptionGroup::optimizations && o.in_all) order.push_back(o.id);
  for (const auto& o : option_table())
    if (o.group == OptionGroup::optimizations && !o.in_all) order.push_back(o.id);
  return order;
}

double EngineOptions::param(const std::string& option, const std::string& name) const {
  const OptionInfo& o = require_option(option);
  const OptionParam* p = find_param(o, name);
  if (!p) throw std::runtime_error("engine option '" + option + "' has no parameter '" + name + "'");
  return p->get(*this);
}

bool EngineOptions::operator==(const EngineOptions& o) const {
  if (threads != o.threads || switches != o.switches) return false;
  for (const auto& opt : option_table())
    for (const auto& p : opt.params)
      if (p.get(*this) != p.get(o)) return false;
  return true;
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

void set_param(EngineOptions& o, const OptionInfo& opt, const std::string& param, double value, const std::string& text) {
  validate_param(opt, param, value, text);
  find_param(opt, param)->put(o, value);
}

void validate_option_params(const EngineOptions& o) {
  if (o.on(Opt::global_kv_subsample) && o.kv_subsample.first > o.kv_subsample.last)
    throw std::runtime_error("engine option 'global-kv-subsample': first (" + num(o.kv_subsample.first) +
                             ") must be <= last (" + num(o.kv_subsample.last) + ")");
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
        if (opt.in_all) o.set(opt.id, on);
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
      o.set(opt.id, on);
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
          p->put(o, static_cast<double>(i));
          named = true;
        }
      if (named) {
        o.set(opt.id);
        continue;
      }
    }
    char* end = nullptr;
    const double v = text.empty() ? std::nan("") : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) {
      // Reuse the range message: the value is not a number at all.
      validate_param(opt, pname, std::nan(""), text);
    }
    set_param(o, opt, pname, v, text);
    o.set(opt.id);
  }
  validate_option_params(o);
  return o;
}

std::string option_list(const EngineOptions& o) {
  std::string s;
  for (const auto& opt : option_table()) {
    if (!o.on(opt.id)) continue;
    s += (s.empty() ? "" : ",") + opt.name;
    for (const auto& p : opt.params)
      if (p.get(o) != p.def()) s += "," + opt.name + "." + p.name + "=" + num(p.get(o));
  }
  return s;
}

nlohmann::json option_params_json(const EngineOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& opt : option_table()) {
    if (opt.params.empty() || !o.on(opt.id)) continue;
    for (const auto& p : opt.params) {
      const double v = p.get(o);
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
      nlohmann::json pj = {{"name", p.name}, {"min", p.min},           {"max", p.max},
                           {"default", p.def()}, {"integer", p.integer}, {"help", p.help}};
      if (!p.choices.empty()) pj["choices"] = p.choices;
      ps.push_back(pj);
    }
    arr.push_back({{"name", opt.name}, {"kind", opt.lossy ? "lossy" : "exact"}, {"group", option_group_name(opt.group)},
                   {"in_all", opt.in_all}, {"help", opt.help}, {"params", ps}});
  }
  return arr;
}

nlohmann::json option_presets_json() {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& p : option_presets()) {
    nlohmann::json j = {{"name", p.name}, {"options", p.options}, {"help", p.help}};
    if (p.default_candidate) {
      j["default_candidate"] = true;
      j["accuracy"] = {{"rotation_deg", p.accuracy.rotation_deg},
                       {"points_rel_rms", p.accuracy.points_rel_rms},
                       {"basis", p.accuracy.basis}};
    }
    arr.push_back(j);
  }
  return arr;
}

nlohmann::json default_bound_json() {
  const AccuracyBound& b = official_bf16_bound();
  return {{"rotation_deg", b.rotation_deg}, {"points_rel_rms", b.points_rel_rms}, {"basis", b.basis}};
}

}  // namespace vggt

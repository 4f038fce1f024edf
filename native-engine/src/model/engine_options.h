// The engine's run-time options: one table (name, kind, group, parameters with ranges and
// defaults, presets) that the `--options` parser, the protocol validator, `hello` and
// `describe --json` all read, and the typed option set the model reads.
#pragma once
#include <array>
#include <bitset>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vggt {

// Every option, in the order the UI lists them (the option table has one row per id, same order).
enum class Opt : int {
  sincos_lowp,
  rope_fused,
  rope_cache,
  dpt_pos_cache,
  fused_add_ln,
  bf16,
  w8a8,
  prepack,
  flash_attn,
  global_early_frame,
  global_kv_subsample,
  global_block_sparse,
};
constexpr int kOptionCount = 12;

// Typed parameters of the options that take them. The member initialisers are the defaults the
// option table reports (the table reads them from a default-constructed EngineOptions).
struct EarlyFrameParams {
  int k = 8;  // leading global layers run as frame attention
};
struct KvSubsampleParams {
  int stride = 4, first = 8, last = 21;
};
struct BlockSparseParams {
  double keep = 0.25, cdf = 0;
};
// Which Linears run in int8 and how activation outliers are handled (docs/INT8.md).
enum class Int8Scope : int { fc2 = 0, all_linears = 1 };
enum class Int8Outliers : int { none = 0, special = 1, hadamard = 2, hadamard_special = 3 };
// Residual weights (the int8 weights' rounding error as a second int8 matrix): used for the
// special rows and, through the rows' mean, for every other row.
enum class Int8Residual : int { none = 0, special_mean = 1 };
struct W8a8Params {
  int scope = static_cast<int>(Int8Scope::all_linears);
  int outliers = static_cast<int>(Int8Outliers::special);
  int residual = static_cast<int>(Int8Residual::special_mean);
};

// Run-time switches; all off = the exact fp32 reference path.
struct EngineOptions {
  int threads = 0;  // 0 = all cores
  std::bitset<kOptionCount> switches;
  EarlyFrameParams early_frame;
  KvSubsampleParams kv_subsample;
  BlockSparseParams block_sparse;
  W8a8Params w8a8;

  bool on(Opt o) const { return switches.test(static_cast<size_t>(o)); }
  void set(Opt o, bool v = true) { switches.set(static_cast<size_t>(o), v); }
  // A parameter by its table names (effective value). Throws for an unknown option or parameter.
  double param(const std::string& option, const std::string& name) const;
  bool operator==(const EngineOptions& o) const;
  bool operator!=(const EngineOptions& o) const { return !(*this == o); }
};

struct OptionParam {
  std::string name;
  double min = 0, max = 0;
  bool integer = true;
  std::string help;
  double (*get)(const EngineOptions&) = nullptr;
  void (*put)(EngineOptions&, double) = nullptr;
  // Enum-like parameter: value i (an integer in [0, size-1]) means choices[i]; `--options`
  // accepts the name as well as the number.
  std::vector<std::string> choices = {};
  double def() const;  // the value in a default-constructed EngineOptions
};

enum class OptionGroup { optimizations, many_frames };

struct OptionInfo {
  Opt id;
  std::string name;
  bool lossy = false;   // outputs differ from the exact path beyond fp32 rounding
  bool in_all = false;  // switched on by `all`
  OptionGroup group = OptionGroup::optimizations;
  std::string help;
  std::vector<OptionParam> params;  // params[0] is the one `name=value` sets
};

// Every option, in Opt order.
const std::vector<OptionInfo>& option_table();
const OptionInfo& option_info(Opt id);
const OptionInfo* find_option(const std::string& name);  // nullptr when unknown
const char* option_group_name(OptionGroup g);

// How far a preset's outputs are from the exact fp32 path, as measured (docs/PERFORMANCE.md), in
// the metrics of the bound the default is chosen within (official_bf16_bound()).
struct PresetAccuracy {
  double rotation_deg = 0;    // camera rotation angle, max over frames
  double points_rel_rms = 0;  // world_points: rms of the difference / rms of the points
  std::string basis;          // what was measured, where
};

// Named option sets for the UI, the CLI and the benchmarks: `options` is an `--options` list.
// A default candidate is one the per-machine default may be (see model/default_choice.h); it
// carries its measured accuracy.
struct OptionPreset {
  std::string name, options, help;
  bool default_candidate = false;
  PresetAccuracy accuracy = {};
};
const std::vector<OptionPreset>& option_presets();

// The accuracy bound the per-machine default stays inside: how far the official release's bf16
// autocast run is from its fp32 run on the same weights (same metrics as PresetAccuracy).
struct AccuracyBound {
  double rotation_deg, points_rel_rms;
  std::string basis;
};
const AccuracyBound& official_bf16_bound();
const OptionPreset* find_preset(const std::string& name);
// The benchmark's cumulative order: the optimizations `all` switches on, in table order, then
// the rest of the optimizations group (w8a8).
std::vector<Opt> cumulative_order();

// Checks one parameter value; throws std::runtime_error naming the option, the parameter and
// the range. `text` is what the user wrote (for the message).
double validate_param(const OptionInfo& opt, const std::string& param, double value, const std::string& text);
// Sets a parameter by name after validate_param (throws like it).
void set_param(EngineOptions& o, const OptionInfo& opt, const std::string& param, double value, const std::string& text);
// Cross-parameter rules (e.g. a layer range's first <= last); throws naming the option.
void validate_option_params(const EngineOptions& o);

// `--options` syntax: comma-separated items `name`, `-name`, `name=value` (sets params[0]),
// `name.param=value` (sets that parameter and switches the option on), `all`, `-all`.
EngineOptions parse_option_list(const std::string& list, int threads);
// The inverse: an `--options` list that parses back to `o`'s switches and parameters.
std::string option_list(const EngineOptions& o);

// {"<option>": {"<param>": value}} for every option that is on and has parameters (effective
// values), so a record says exactly what ran.
nlohmann::json option_params_json(const EngineOptions& o);
// The table as JSON for `hello` and `describe --json`:
// [{name, kind: "exact"|"lossy", group, in_all, help, params: [{name, min, max, default, integer, help (, choices)}]}].
nlohmann::json option_table_json();
// [{name, options, help (, default_candidate: true, accuracy: {rotation_deg, points_rel_rms, basis})}]
nlohmann::json option_presets_json();
// {rotation_deg, points_rel_rms, basis} of official_bf16_bound().
nlohmann::json default_bound_json();

}  // namespace vggt

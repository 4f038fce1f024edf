// The engine's run-time options: one table (name, kind, parameters with ranges and defaults)
// that the CLI parser, the protocol validator, `hello` and `version --json` all read.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vggt {

struct OptionParam {
  std::string name;
  double min = 0, max = 0, def = 0;
  bool integer = true;
  std::string help;
  // Enum-like parameter: value i (an integer in [0, size-1]) means choices[i]; `--options`
  // accepts the name as well as the number.
  std::vector<std::string> choices = {};
};

struct OptionInfo {
  std::string name;
  bool lossy = false;   // outputs differ from the exact path beyond fp32 rounding
  bool in_all = false;  // switched on by `all`
  std::string help;
  std::vector<OptionParam> params;  // params[0] is the one `name=value` sets
};

// Every option, in the order the UI lists them.
const std::vector<OptionInfo>& option_table();
const OptionInfo* find_option(const std::string& name);  // nullptr when unknown

// Run-time switches; all off = the exact fp32 reference path.
struct EngineOptions {
  int threads = 0;  // 0 = all cores
  std::map<std::string, bool> flags;
  // Parameter values given explicitly: option -> parameter -> value (validated).
  std::map<std::string, std::map<std::string, double>> params;
  bool flag(const std::string& name) const {
    auto it = flags.find(name);
    return it != flags.end() && it->second;
  }
  // The given value, else the table's default. Throws for an unknown option or parameter.
  double param(const std::string& option, const std::string& name) const;
  int param_int(const std::string& option, const std::string& name) const {
    return static_cast<int>(param(option, name));
  }
  bool operator==(const EngineOptions& o) const {
    return threads == o.threads && flags == o.flags && params == o.params;
  }
  bool operator!=(const EngineOptions& o) const { return !(*this == o); }
};

// Checks one parameter value; throws std::runtime_error naming the option, the parameter and
// the range. `text` is what the user wrote (for the message).
double validate_param(const OptionInfo& opt, const std::string& param, double value, const std::string& text);
// Cross-parameter rules (e.g. a layer range's first <= last); throws naming the option.
void validate_option_params(const EngineOptions& o);

// `--options` syntax: comma-separated items `name`, `-name`, `name=value` (sets params[0]),
// `name.param=value` (sets that parameter and switches the option on), `all`, `-all`.
EngineOptions parse_option_list(const std::string& list, int threads);

// {"<option>": {"<param>": value}} for every option that is on and has parameters (effective
// values: given or default), so a record says exactly what ran.
nlohmann::json option_params_json(const EngineOptions& o);
// The table as JSON for `hello` and `version --json`:
// [{name, kind: "exact"|"lossy", in_all, help, params: [{name, min, max, default, integer, help
// (, choices)}]}].
nlohmann::json option_table_json();

}  // namespace vggt

#include "runtime/options_json.h"

#include <stdexcept>

namespace vggt::runtime {

using nlohmann::json;

json option_flags_json(const EngineOptions& o) {
  json flags = json::object();
  for (const auto& opt : option_table()) flags[opt.name] = o.on(opt.id);
  return flags;
}

json options_json(const EngineOptions& o) {
  return {{"threads", o.threads}, {"flags", option_flags_json(o)}, {"params", option_params_json(o)}};
}

EngineOptions options_from_json(const json& j) {
  auto known = [](const std::string& name) -> const OptionInfo& {
    const OptionInfo* opt = find_option(name);
    if (!opt) throw std::runtime_error("unknown engine option '" + name + "'");
    return *opt;
  };
  EngineOptions o;
  o.threads = j.value("threads", 0);
  if (auto f = j.find("flags"); f != j.end())
    for (const auto& [name, v] : f->items()) o.set(known(name).id, v.get<bool>());
  if (auto p = j.find("params"); p != j.end())
    for (const auto& [name, ps] : p->items())
      for (const auto& [pname, v] : ps.items()) set_param(o, known(name), pname, v.get<double>(), v.dump());
  validate_option_params(o);
  return o;
}

}  // namespace vggt::runtime

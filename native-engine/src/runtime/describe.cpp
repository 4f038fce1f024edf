#include "runtime/describe.h"

#include "model/config.h"
#include "model/engine_options.h"
#include "model/weights.h"
#include "core/version.h"

namespace vggt::runtime {

using nlohmann::json;

namespace {

// The tensors the engine reads for `cfg` (the parameter table, model/param_table.h: loading
// checks checkpoints against it, random weights are made from it, the modules read through it).
json parameter_table(const ModelConfig& cfg) {
  json tensors = json::array();
  int64_t count = 0;
  for (const ParamSpec& p : expected_params(cfg)) {
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    count += n;
    tensors.push_back({{"name", p.name}, {"shape", p.shape}});
  }
  return {{"count", count}, {"tensors", tensors}};
}

}  // namespace

json describe_json() {
  const ModelConfig with_track = ModelConfig::vggt_1b();
  ModelConfig without_track = with_track;
  without_track.track_enabled = false;
  return {{"schema", kDescribeSchema},
          {"engine_version", engine_version()},
          {"options", option_table_json()},
          {"presets", option_presets_json()},
          {"default_bound", default_bound_json()},
          {"configs", {{"vggt-1b", json::parse(with_track.to_json())}}},
          {"parameters", {{"vggt-1b", parameter_table(without_track)}, {"vggt-1b-track", parameter_table(with_track)}}}};
}

}  // namespace vggt::runtime

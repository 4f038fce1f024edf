// EngineOptions as JSON, one form for every record and message that carries them: the serve
// protocol's status/result `options`, the commands rank 0 sends to the other MPI ranks, and
// (its `flags` part) the `options` entry of output metadata and benchmark rows.
#pragma once
#include <nlohmann/json.hpp>

#include "model/engine_options.h"

namespace vggt::runtime {

// {"threads": N, "flags": {<every option>: bool}, "params": {<option that is on>: {<param>: value}}}
nlohmann::json options_json(const EngineOptions& o);
// {<every option>: bool}: the `options` entry of output metadata and benchmark rows.
nlohmann::json option_flags_json(const EngineOptions& o);
// The inverse of options_json; unknown names and out-of-range values throw std::runtime_error.
EngineOptions options_from_json(const nlohmann::json& j);

}  // namespace vggt::runtime

// The engine's vocabulary as one JSON document (`vggt-engine describe --json`): options,
// presets, the built-in config and its parameter table. docs/ENGINE-VOCABULARY.md documents it;
// the app generates its option catalog and parameter table from it.
#pragma once
#include <nlohmann/json.hpp>

namespace vggt::runtime {

constexpr int kDescribeSchema = 1;

// {"schema", "engine_version", "options", "presets", "configs", "parameters"}
nlohmann::json describe_json();

}  // namespace vggt::runtime

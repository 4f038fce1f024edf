// Parsing JSON from outside (safetensors headers, config files, protocol lines) with its cost
// bounded before the parser runs: a size cap and a nesting-depth cap checked by one linear scan,
// and every parse or type error reported with the source's name instead of a raw json.exception.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace vggt::io {

// Throws std::runtime_error "<source>: <what> ..." when the text is larger than max_bytes,
// nests deeper than max_depth or is not valid JSON (including ill-formed UTF-8).
nlohmann::json parse_json_bounded(const char* begin, const char* end, const std::string& source,
                                  const std::string& what, size_t max_bytes, int max_depth);

// Deepest nesting of arrays/objects (brackets inside strings ignored); stops counting past `limit`.
int json_nesting_depth(const char* begin, const char* end, int limit);

// Serialises with invalid UTF-8 replaced by U+FFFD (file names need not be UTF-8).
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace vggt::io

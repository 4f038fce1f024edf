#include "io/json_guard.h"

#include <stdexcept>

#include "core/limits.h"

namespace vggt::io {

int json_nesting_depth(const char* p, const char* end, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (; p < end; ++p) {
    const char c = *p;
    if (in_string) {
      if (c == '\\') ++p;  // skip the escaped character (an escaped quote does not end the string)
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

nlohmann::json parse_json_bounded(const char* begin, const char* end, const std::string& source,
                                  const std::string& what, size_t max_bytes, int max_depth) {
  const size_t n = static_cast<size_t>(end - begin);
  if (n > max_bytes)
    throw std::runtime_error(source + ": " + what + " is " + std::to_string(n) + " bytes, above the limit of " +
                             std::to_string(max_bytes));
  if (json_nesting_depth(begin, end, max_depth) > max_depth)
    throw std::runtime_error(source + ": " + what + " nests deeper than the limit of " + std::to_string(max_depth) +
                             " levels");
  try {
    return nlohmann::json::parse(begin, end);
  } catch (const std::exception& e) {
    throw std::runtime_error(source + ": " + what + " is not valid JSON (" + e.what() + ")");
  }
}

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vggt::io

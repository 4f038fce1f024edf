#include "server/protocol.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <algorithm>
#include <cstring>

#include "core/limits.h"
#include "io/json_guard.h"
#include "model/engine_options.h"

namespace vggt::server {

using nlohmann::json;

const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::BadRequest: return "bad_request";
    case ErrorCode::UnknownType: return "unknown_type";
    case ErrorCode::NoModel: return "no_model";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::BadInput: return "bad_input";
    case ErrorCode::BadCheckpoint: return "bad_checkpoint";
    case ErrorCode::IoError: return "io_error";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::OutOfMemory: return "out_of_memory";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::NoTrackCache: return "no_track_cache";
    case ErrorCode::Internal: return "internal";
  }
  return "internal";
}

namespace {

[[noreturn]] void bad(const std::string& msg) { throw ProtocolError(ErrorCode::BadRequest, msg); }

const char* json_kind(const json& v) { return v.type_name(); }

std::string req_string(const json& o, const char* key, const std::string& type) {
  auto it = o.find(key);
  if (it == o.end()) bad(type + ": missing field '" + key + "'");
  if (!it->is_string()) bad(type + ": field '" + key + "' must be a string, got " + json_kind(*it));
  if (it->get_ref<const std::string&>().empty()) bad(type + ": field '" + key + "' must not be empty");
  return it->get<std::string>();
}

std::optional<std::string> opt_string(const json& o, const char* key, const std::string& type) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) bad(type + ": field '" + key + "' must be a string, got " + json_kind(*it));
  return it->get<std::string>();
}

bool opt_bool(const json& o, const char* key, bool dflt, const std::string& type) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) bad(type + ": field '" + key + "' must be a boolean, got " + json_kind(*it));
  return it->get<bool>();
}

OptionsSpec parse_options(const json& o, const std::string& type) {
  OptionsSpec spec;
  auto it = o.find("options");
  if (it == o.end() || it->is_null()) return spec;
  if (!it->is_object()) bad(type + ": 'options' must be an object");
  if (auto t = it->find("threads"); t != it->end() && !t->is_null()) {
    if (!t->is_number_integer() || t->get<int64_t>() < 0 || t->get<int64_t>() > limits::kMaxThreads)
      bad(type + ": 'options.threads' must be an integer in [0, " + std::to_string(limits::kMaxThreads) +
          "] (0 = all cores)");
    spec.threads = t->get<int>();
  }
  if (auto f = it->find("flags"); f != it->end() && !f->is_null()) {
    if (!f->is_object()) bad(type + ": 'options.flags' must be an object of booleans");
    for (auto& [name, v] : f->items()) {
      if (!v.is_boolean()) bad(type + ": 'options.flags." + name + "' must be a boolean");
      if (!find_option(name)) {
        std::string list;
        for (const auto& k : option_table()) list += (list.empty() ? "" : ", ") + k.name;
        bad(type + ": unknown option flag '" + name + "' (known: " + list + ")");
      }
      spec.flags[name] = v.get<bool>();
    }
  }
  if (auto ps = it->find("params"); ps != it->end() && !ps->is_null()) {
    if (!ps->is_object()) bad(type + ": 'options.params' must be an object like {\"global-kv-subsample\": {\"stride\": 3}}");
    for (auto& [name, obj] : ps->items()) {
      const OptionInfo* opt = find_option(name);
      if (!opt) bad(type + ": unknown option '" + name + "' in 'options.params'");
      if (!obj.is_object()) bad(type + ": 'options.params." + name + "' must be an object of numbers");
      for (auto& [pname, v] : obj.items()) {
        if (!v.is_number()) bad(type + ": 'options.params." + name + "." + pname + "' must be a number");
        try {
          spec.params[name][pname] = validate_param(*opt, pname, v.get<double>(), v.dump());
        } catch (const std::runtime_error& e) {
          bad(type + ": " + e.what());
        }
      }
    }
  }
  return spec;
}

LoadRequest parse_load(const json& o) {
  LoadRequest r;
  auto w = opt_string(o, "weights", "load");
  auto rnd = o.find("random");
  bool has_random = rnd != o.end() && !rnd->is_null();
  if (w.has_value() == has_random) bad("load: give exactly one of 'weights' (a path) or 'random' ({\"seed\": N})");
  if (w) {
    if (w->empty()) bad("load: field 'weights' must not be empty");
    r.weights = *w;
  } else {
    if (!rnd->is_object()) bad("load: 'random' must be an object like {\"seed\": 0}");
    r.random = true;
    if (auto s = rnd->find("seed"); s != rnd->end() && !s->is_null()) {
      if (!s->is_number_unsigned() && !(s->is_number_integer() && s->get<int64_t>() >= 0))
        bad("load: 'random.seed' must be a non-negative integer");
      r.seed = s->get<uint64_t>();
    }
  }
  if (auto c = opt_string(o, "config", "load")) {
    if (c->empty()) bad("load: field 'config' must not be empty");
    r.config = *c;
  }
  r.options = parse_options(o, "load");
  return r;
}

InferRequest parse_infer(const json& o) {
  InferRequest r;
  auto imgs = o.find("images");
  bool has_images = imgs != o.end() && !imgs->is_null();
  auto tensor = opt_string(o, "input_tensor", "infer");
  if (has_images == tensor.has_value())
    bad("infer: give exactly one of 'images' (array of paths) or 'input_tensor' (a safetensors path)");
  if (has_images) {
    if (!imgs->is_array() || imgs->empty()) bad("infer: 'images' must be a non-empty array of paths");
    for (const auto& p : *imgs) {
      if (!p.is_string() || p.get_ref<const std::string&>().empty())
        bad("infer: every entry of 'images' must be a non-empty string");
      r.images.push_back(p.get<std::string>());
    }
    if (auto m = opt_string(o, "preprocess", "infer")) {
      if (*m != "crop" && *m != "pad") bad("infer: 'preprocess' must be \"crop\" or \"pad\", got \"" + *m + "\"");
      r.preprocess = *m;
    }
    r.exif_orientation = opt_bool(o, "exif_orientation", false, "infer");
  } else {
    if (tensor->empty()) bad("infer: field 'input_tensor' must not be empty");
    r.input_tensor = *tensor;
    if (auto n = opt_string(o, "input_tensor_name", "infer")) r.input_tensor_name = *n;
    r.preprocess = "tensor";
  }
  r.output = req_string(o, "output", "infer");
  r.options = parse_options(o, "infer");
  r.keep_debug = opt_bool(o, "keep_debug", false, "infer");
  r.track_cache = opt_bool(o, "track_cache", false, "infer");
  return r;
}

TrackRequest parse_track(const json& o) {
  TrackRequest r;
  r.run = req_string(o, "run", "track");
  auto pts = o.find("query_points");
  const bool has_points = pts != o.end() && !pts->is_null();
  auto grid = o.find("grid");
  const bool has_grid = grid != o.end() && !grid->is_null();
  if (has_points == has_grid) bad("track: give exactly one of 'query_points' ([[x, y], ...]) or 'grid' (N)");
  if (has_points) {
    if (!pts->is_array() || pts->empty() || pts->size() > 4096)
      bad("track: 'query_points' must be an array of 1 to 4096 [x, y] pairs");
    for (size_t i = 0; i < pts->size(); ++i) {
      const json& p = (*pts)[i];
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
        bad("track: 'query_points[" + std::to_string(i) + "]' must be an [x, y] pair of numbers");
      const double x = p[0].get<double>(), y = p[1].get<double>();
      if (!std::isfinite(x) || !std::isfinite(y)) bad("track: 'query_points[" + std::to_string(i) + "]' is not finite");
      r.points.push_back(static_cast<float>(x));
      r.points.push_back(static_cast<float>(y));
    }
  } else {
    if (!grid->is_number_integer() || grid->get<int64_t>() < 1 || grid->get<int64_t>() > 64)
      bad("track: 'grid' must be an integer from 1 to 64");
    r.grid = grid->get<int>();
  }
  if (auto q = opt_string(o, "query_space", "track")) {
    if (*q != "model" && *q != "original") bad("track: 'query_space' must be \"model\" or \"original\", got \"" + *q + "\"");
    r.query_space = *q;
  }
  if (has_grid && r.query_space != "model") bad("track: 'query_space' applies to 'query_points' only");
  if (auto out = opt_string(o, "output", "track")) {
    if (out->empty()) bad("track: field 'output' must not be empty");
    r.output = *out;
  }
  return r;
}

bool is_regular_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Request parse_request(const std::string& line, std::string* id_out) {
  json o;
  if (io::json_nesting_depth(line.data(), line.data() + line.size(), limits::kMaxJsonDepth) > limits::kMaxJsonDepth)
    bad("request nests deeper than the limit of " + std::to_string(limits::kMaxJsonDepth) + " levels");
  try {
    o = json::parse(line);
  } catch (const json::parse_error& e) {
    bad(std::string("malformed JSON: ") + e.what());
  }
  if (!o.is_object()) bad(std::string("a request must be a JSON object, got ") + json_kind(o));
  Request r;
  auto id = o.find("id");
  if (id == o.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
    bad("missing or empty string field 'id'");
  r.id = id->get<std::string>();
  if (id_out) *id_out = r.id;
  auto type = o.find("type");
  if (type == o.end() || !type->is_string()) bad("missing string field 'type'");
  r.type = type->get<std::string>();
  if (r.type == "load") {
    r.load = parse_load(o);
  } else if (r.type == "infer") {
    r.infer = parse_infer(o);
  } else if (r.type == "cancel") {
    r.cancel.job = req_string(o, "job", "cancel");
  } else if (r.type == "track") {
    r.track = parse_track(o);
  } else if (r.type == "status" || r.type == "unload" || r.type == "shutdown" || r.type == "ping" ||
             r.type == "release_track_cache") {
    // no fields
  } else if (r.type == "benchmark") {
    throw ProtocolError(ErrorCode::Unsupported, "request type 'benchmark' is reserved and not implemented by this engine");
  } else {
    throw ProtocolError(ErrorCode::UnknownType, "unknown request type '" + r.type + "'");
  }
  return r;
}

void check_infer_paths(const InferRequest& r) {
  for (const auto& p : r.images)
    if (!is_regular_file(p)) throw ProtocolError(ErrorCode::NotFound, p + ": image file not found");
  if (!r.input_tensor.empty() && !is_regular_file(r.input_tensor))
    throw ProtocolError(ErrorCode::NotFound, r.input_tensor + ": input tensor file not found");
  // Fail before a long run, not after it, when the output cannot be written.
  check_output_path(r.output);
}

void check_output_path(const std::string& output) {
  auto slash = output.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : output.substr(0, slash));
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw ProtocolError(ErrorCode::IoError, output + ": output directory " + dir + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw ProtocolError(ErrorCode::IoError, output + ": output directory " + dir + " is not writable");
  if (::stat(output.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw ProtocolError(ErrorCode::IoError, output + ": output path is a directory");
}

void apply_options_spec(EngineOptions& o, const OptionsSpec& spec) {
  if (spec.threads) o.threads = *spec.threads;
  // parse_options checked every name and value against the option table.
  for (const auto& [name, on] : spec.flags) o.set(find_option(name)->id, on);
  for (const auto& [name, ps] : spec.params)
    for (const auto& [pname, v] : ps) set_param(o, *find_option(name), pname, v, std::to_string(v));
  validate_option_params(o);
}

static json id_json(const std::string& id) { return id.empty() ? json(nullptr) : json(id); }

json make_error(const std::string& id, ErrorCode code, const std::string& message) {
  return {{"type", "error"}, {"id", id_json(id)}, {"code", error_code_name(code)}, {"message", message}};
}

json make_progress(const std::string& id, const std::string& stage, int step, int total, double elapsed_ms) {
  return {{"type", "progress"}, {"id", id}, {"stage", stage}, {"step", step}, {"total", total},
          {"elapsed_ms", elapsed_ms}};
}

json make_log(const std::string& level, const std::string& message, const std::string& id) {
  return {{"type", "log"}, {"id", id_json(id)}, {"level", level}, {"message", message}};
}

json make_result(const std::string& id, const std::string& request) {
  return {{"type", "result"}, {"id", id}, {"request", request}};
}

std::string to_line(const json& event) {
  // Paths need not be valid UTF-8; replace rather than throw.
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace vggt::server

// Messages of the serve protocol: request parsing/validation and event construction.
// docs/ENGINE-PROTOCOL.md is the reference for every type and field.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/engine_options.h"

namespace vggt::server {

constexpr int kProtocolVersion = 1;

// Stable machine-readable error codes (the client switches on them).
enum class ErrorCode {
  BadRequest,     // malformed JSON, missing/ill-typed field, duplicate id
  UnknownType,    // "type" not understood by this engine
  NoModel,        // infer before a successful load
  NotFound,       // a named input file does not exist
  BadInput,       // an image or input tensor cannot be used
  BadCheckpoint,  // weights/config cannot be loaded
  IoError,        // the output cannot be written
  Cancelled,      // cancelled by request or by shutdown
  OutOfMemory,
  Unsupported,    // valid request for a feature this build does not have
  NoTrackCache,   // track: the named run has no track cache (never asked for, or released)
  Internal,
};
const char* error_code_name(ErrorCode c);

class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(ErrorCode code, const std::string& msg) : std::runtime_error(msg), code(code) {}
  ErrorCode code;
};

// Per-load defaults and per-job overrides (EngineOptions on the model side).
struct OptionsSpec {
  std::optional<int> threads;
  std::map<std::string, bool> flags;
  // option -> parameter -> value, each checked against the option table (model/engine_options.h).
  std::map<std::string, std::map<std::string, double>> params;
};

struct LoadRequest {
  std::string weights;          // empty when random
  bool random = false;
  uint64_t seed = 0;
  std::string config = "vggt-1b";  // preset name or path to a config JSON
  OptionsSpec options;
};

struct InferRequest {
  std::vector<std::string> images;   // image files, or
  std::string input_tensor;          // a safetensors file holding [S,3,H,W] in [0,1]
  std::string input_tensor_name = "images";
  std::string preprocess = "crop";   // "crop" | "pad" (images only)
  bool exif_orientation = false;
  std::string output;                // .safetensors written atomically
  OptionsSpec options;               // merged over the load options for this job only
  bool keep_debug = false;
  bool track_cache = false;          // keep the track head's features for later track requests
};

// Tracks on a finished run's cached track features (see docs/ENGINE-PROTOCOL.md, track).
struct TrackRequest {
  std::string run;                   // the infer job id whose track cache to use
  std::vector<float> points;         // x0, y0, x1, y1, ... (empty when grid is set)
  int grid = 0;                      // n: an n x n grid on frame 0 instead of points
  std::string query_space = "model";  // "model" | "original"
  std::string output;                // optional .safetensors
};

struct CancelRequest {
  std::string job;
};

struct Request {
  std::string type;  // load | infer | track | release_track_cache | cancel | status | unload | shutdown | ping
  std::string id;
  LoadRequest load;
  InferRequest infer;
  TrackRequest track;
  CancelRequest cancel;
};

// Parses and validates one request line. Throws ProtocolError; `id_out` receives the request
// id whenever it could be read, so the error can still be correlated.
Request parse_request(const std::string& line, std::string* id_out);

// Field validation that needs the file system (existence, output directory) and so is not
// part of parsing; throws ProtocolError(NotFound / IoError / BadRequest).
void check_infer_paths(const InferRequest& r);
// The output directory exists and is writable and the output is not a directory (IoError).
void check_output_path(const std::string& output);

// Applies a request's options over `o` (threads, switches, parameters); throws std::runtime_error
// when the result breaks a cross-parameter rule.
void apply_options_spec(EngineOptions& o, const OptionsSpec& spec);

// Event builders. `id` may be empty when a request could not be identified (JSON null).
nlohmann::json make_error(const std::string& id, ErrorCode code, const std::string& message);
nlohmann::json make_progress(const std::string& id, const std::string& stage, int step, int total,
                             double elapsed_ms);
nlohmann::json make_log(const std::string& level, const std::string& message, const std::string& id = {});
nlohmann::json make_result(const std::string& id, const std::string& request);

// Serialises one event as a single line (no raw newlines: JSON escapes them).
std::string to_line(const nlohmann::json& event);

}  // namespace vggt::server

#include "runtime/run_io.h"

#include <omp.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/input_tensor.h"
#include "io/json_guard.h"
#include "runtime/options_json.h"

namespace vggt::runtime {

RunInput read_images(const std::vector<std::string>& paths, const std::string& mode, bool exif_orientation) {
  preprocess::Batch batch = preprocess::load_and_preprocess(paths, preprocess::mode_from_string(mode), exif_orientation);
  return {std::move(batch.images), std::move(batch.frames), mode};
}

RunInput read_input_tensor(const std::string& path, const std::string& name, int patch) {
  try {
    return {io::read_images_tensor(path, name, patch), {}, "tensor"};
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    // Library messages do not always name the file.
    const std::string msg = e.what();
    if (msg.find(path) != std::string::npos) throw;
    throw std::runtime_error(path + ": " + msg);
  }
}

std::string frames_json(const std::vector<preprocess::FrameInfo>& frames) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : frames)
    a.push_back({{"path", f.path}, {"orig_width", f.orig_width}, {"orig_height", f.orig_height},
                 {"scale_x", f.scale_x}, {"scale_y", f.scale_y}, {"offset_x", f.offset_x}, {"offset_y", f.offset_y},
                 {"content_x0", f.content_x0}, {"content_y0", f.content_y0}, {"content_width", f.content_width},
                 {"content_height", f.content_height}});
  return io::dump_json(a);
}

std::map<std::string, std::string> output_metadata(const std::string& model_source, const VggtModel& model,
                                                   const EngineOptions& opts, const RunInput& input) {
  std::map<std::string, std::string> meta = {
      {"model", model_source},
      {"random_weights", model.random_weights() ? "true" : "false"},
      {"options", option_flags_json(opts).dump()},
      {"option_params", option_params_json(opts).dump()},
      {"config", model.config().to_json()},
      {"preprocess", input.preprocess},
  };
  if (!input.frames.empty()) meta["frames"] = frames_json(input.frames);
  return meta;
}

void set_thread_count(int threads) { omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs()); }

}  // namespace vggt::runtime

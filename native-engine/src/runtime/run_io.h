// What `vggt-engine infer` and the serve protocol's infer job share around a forward pass:
// reading the input (images or an input tensor), the output file's metadata, and the thread
// count of the calling thread.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/engine_options.h"
#include "model/vggt_model.h"
#include "preprocess/preprocess.h"

namespace vggt::runtime {

struct RunInput {
  Tensor images;                             // [S, 3, H, W] in [0, 1]
  std::vector<preprocess::FrameInfo> frames;  // empty for an input tensor
  std::string preprocess;                    // "crop" | "pad" | "tensor"
};

// Images preprocessed as the official load_and_preprocess_images (mode "crop" | "pad").
RunInput read_images(const std::vector<std::string>& paths, const std::string& mode, bool exif_orientation);
// An [S, 3, H, W] float tensor in [0, 1] named `name` from a safetensors/.pt file; errors name the file.
RunInput read_input_tensor(const std::string& path, const std::string& name, int patch);

// The frames metadata entry: each frame's original size and its mapping to model-input pixels.
std::string frames_json(const std::vector<preprocess::FrameInfo>& frames);

// The output file's metadata (docs/ENGINE-PROTOCOL.md, output): model, random_weights, options,
// option_params, config, preprocess and frames; write_predictions adds format and engine_version.
std::map<std::string, std::string> output_metadata(const std::string& model_source, const VggtModel& model,
                                                   const EngineOptions& opts, const RunInput& input);

// OpenMP's thread count is per thread and sticky: 0 ("all cores") is set explicitly, so that a
// previous job's count does not remain in force.
void set_thread_count(int threads);

}  // namespace vggt::runtime

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_setup.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/predictions_io.h"
#include "preprocess/preprocess.h"

namespace vggt::cli {

Tensor load_input_tensor(const std::string& path) {
  auto r = io::CheckpointReader::open(path);
  const io::TensorInfo* t = r->find("images");
  if (!t) throw std::runtime_error(path + ": no tensor named 'images'");
  if (t->shape.size() != 4 || t->shape[1] != 3)
    throw std::runtime_error(path + ": 'images' must be [S, 3, H, W], got " + shape_to_string(t->shape));
  Tensor images = Tensor::uninitialized(t->shape);
  io::convert_to_f32(*t, images.data());
  return images;
}

std::string frames_to_json(const std::vector<preprocess::FrameInfo>& frames) {
  nlohmann::json a = nlohmann::json::array();
  for (auto& f : frames)
    a.push_back({{"path", f.path}, {"orig_width", f.orig_width}, {"orig_height", f.orig_height},
                 {"scale_x", f.scale_x}, {"scale_y", f.scale_y}, {"offset_x", f.offset_x}, {"offset_y", f.offset_y},
                 {"content_x0", f.content_x0}, {"content_y0", f.content_y0}, {"content_width", f.content_width},
                 {"content_height", f.content_height}});
  return a.dump();
}

int infer_main(int argc, char** argv) {
  Args a(argc, argv, 2, {"debug", "exif", "random-weights", "quiet"});
  a.check_known({"weights", "config", "input-tensor", "images", "preprocess", "out", "threads", "options", "debug",
                 "exif", "random-weights", "seed", "quiet"});
  const std::string out = a.required("out");
  if (!a.has("weights") && !a.has("random-weights"))
    throw std::runtime_error("give --weights W (a .safetensors or .pt checkpoint) or --random-weights");
  if (a.has("input-tensor") == a.has("images")) throw std::runtime_error("give exactly one of --input-tensor or --images");

  std::map<std::string, std::string> meta;
  Tensor images;
  if (a.has("input-tensor")) {
    images = load_input_tensor(a.get("input-tensor"));
    meta["preprocess"] = "tensor";
  } else {
    const std::string mode = a.get("preprocess", "crop");
    auto batch = preprocess::load_and_preprocess(a.list("images"), preprocess::mode_from_string(mode), a.has("exif"));
    images = batch.images;
    meta["preprocess"] = mode;
    meta["frames"] = frames_to_json(batch.frames);
  }
  EngineOptions opts = parse_options(a.get("options"), a.get_int("threads", 0));
  const uint64_t seed = static_cast<uint64_t>(a.get_int("seed", 0));
  auto model = make_model(a.get("weights"), a.get("config", "vggt-1b"), opts, seed);
  meta["model"] = model->random_weights() ? "random:" + std::to_string(seed) : a.get("weights");
  meta["random_weights"] = model->random_weights() ? "true" : "false";
  meta["options"] = options_to_json(opts);
  meta["config"] = model->config().to_json();

  RunContext ctx;
  ctx.keep_debug = a.has("debug");
  if (!a.has("quiet"))
    ctx.on_progress = [](const ProgressEvent& e) {
      std::fprintf(stderr, "[%8.0f ms] %s %d/%d\n", e.elapsed_ms, e.stage.c_str(), e.step, e.total);
    };
  Predictions pred = model->forward(images, ctx);
  write_predictions(out, pred, images, meta, ctx.keep_debug);
  if (model->random_weights())
    std::fprintf(stderr, "note: random weights (benchmark mode): the geometry is meaningless\n");
  double total = 0;
  for (auto& t : pred.timings)
    if (t.stage.find('.') == std::string::npos) total += t.ms;
  std::fprintf(stderr, "wrote %s (%lld frames, %lldx%lld) in %.0f ms, peak RSS %.0f MiB\n", out.c_str(),
               static_cast<long long>(images.dim(0)), static_cast<long long>(images.dim(2)),
               static_cast<long long>(images.dim(3)), total, peak_rss_bytes() / 1048576.0);
  return 0;
}

int preprocess_main(int argc, char** argv) {
  Args a(argc, argv, 2, {"exif"});
  a.check_known({"images", "mode", "out", "exif"});
  auto batch = preprocess::load_and_preprocess(a.list("images"), preprocess::mode_from_string(a.get("mode", "crop")),
                                               a.has("exif"));
  if (a.list("images").empty()) throw std::runtime_error("give --images F...");
  io::write_safetensors(a.required("out"), {io::f32_entry("images", batch.images)},
                        {{"frames", frames_to_json(batch.frames)}, {"preprocess", a.get("mode", "crop")}});
  std::fprintf(stderr, "wrote %s: images %s\n", a.get("out").c_str(), batch.images.shape_str().c_str());
  return 0;
}

}  // namespace vggt::cli

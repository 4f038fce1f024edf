#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "core/version.h"
#include "cli/commands.h"
#include "io/checkpoint.h"
#include "io/json_guard.h"
#include "runtime/model_setup.h"
#include "model/weights.h"

namespace vggt::cli {

// Checks a checkpoint's names, shapes and dtypes against a config without loading it; prints JSON.
int validate_main(int argc, char** argv) {
  Args a(argc, argv, 2, {});
  a.check_known({"weights", "config"});
  const std::string path = a.required("weights");
  ModelConfig cfg = ModelConfig::resolve(a.get("config", "vggt-1b"));
  auto reader = io::CheckpointReader::open(path);
  CheckpointReport rep = check_checkpoint(*reader, cfg);
  nlohmann::json j = {{"path", path},
                      {"ok", rep.ok()},
                      {"tensors", reader->tensors().size()},
                      {"missing", rep.missing},
                      {"unexpected", rep.unexpected},
                      {"mis_shaped", rep.mis_shaped},
                      {"ignored", rep.ignored.size()},
                      {"track_head", !rep.track_head_absent && cfg.track_enabled}};
  std::printf("%s\n", io::dump_json(j, 1).c_str());
  if (!rep.ok()) std::fprintf(stderr, "%s\n", rep.describe(path).c_str());
  return rep.ok() ? 0 : 3;
}

}  // namespace vggt::cli

namespace vggt::cli {

// Converted-weights cache: bf16 or int8 Linear weights written once, loaded as stored.
int convert_main(int argc, char** argv) {
  Args a(argc, argv, 2, {"random-weights"});
  a.check_known({"weights", "config", "to", "out", "random-weights", "seed", "options"});
  const std::string to = a.required("to"), out = a.required("out");
  if (to != "f32" && to != "bf16" && to != "int8") throw std::runtime_error("--to must be f32, bf16 or int8, got '" + to + "'");
  if (a.has("weights") == a.has("random-weights")) throw std::runtime_error("give --weights W or --random-weights");
  ModelConfig cfg = ModelConfig::resolve(a.get("config", "vggt-1b"));
  // --random-weights writes the benchmark model, e.g. to measure checkpoint sizes on disk.
  auto ws = a.has("random-weights") ? WeightStore::random(cfg, static_cast<uint64_t>(a.get_int("seed", 0)))
                                    : WeightStore::load(a.get("weights"), cfg);
  const std::string path = ws->source();
  // int8: the w8a8 option's scope and rotation decide what is stored (e.g. --options
  // w8a8=fc2,w8a8.outliers=hadamard); `special` is a run-time choice and needs nothing stored.
  // Without --options: the option table's defaults.
  const EngineOptions o = parse_option_list(a.has("options") ? a.get("options") : "w8a8", 0);
  const auto outliers = static_cast<Int8Outliers>(o.w8a8.outliers);
  Int8Format int8;
  int8.fc2_only = static_cast<Int8Scope>(o.w8a8.scope) == Int8Scope::fc2;
  int8.hadamard = outliers == Int8Outliers::hadamard || outliers == Int8Outliers::hadamard_special;
  int8.residual = static_cast<Int8Residual>(o.w8a8.residual) == Int8Residual::special_mean;
  write_converted(*ws, effective_config(cfg, *ws), to, out, {{"source", path}, {"engine_version", engine_version()}, {"config", cfg.to_json()}}, int8);
  std::fprintf(stderr, "wrote %s (%s)\n", out.c_str(), to.c_str());
  return 0;
}

}  // namespace vggt::cli

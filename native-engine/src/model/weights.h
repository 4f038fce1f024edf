// The model's parameters by official name: validated against the config, viewed in place from
// a memory-mapped fp32 checkpoint (never copied) or converted once from bf16/fp16.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "model/config.h"

namespace vggt {

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// Every parameter the engine reads for this config, official names, in state-dict order.
std::vector<ParamSpec> expected_params(const ModelConfig& cfg);

// Result of comparing a checkpoint with the config; empty lists mean it fits.
struct CheckpointReport {
  std::vector<std::string> missing, unexpected, mis_shaped;  // mis_shaped: "name: got [..], expected [..]"
  std::vector<std::string> ignored;                           // e.g. track head weights (not run)
  bool ok() const { return missing.empty() && unexpected.empty() && mis_shaped.empty(); }
  std::string describe(const std::string& path) const;
};
CheckpointReport check_checkpoint(const io::CheckpointReader& r, const ModelConfig& cfg);

class WeightStore {
 public:
  // Throws with the full CheckpointReport when the checkpoint does not fit.
  static std::unique_ptr<WeightStore> load(const std::string& path, const ModelConfig& cfg);
  static std::unique_ptr<WeightStore> random(const ModelConfig& cfg, uint64_t seed);

  const Tensor& get(const std::string& name) const;
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  size_t bytes() const { return bytes_; }
  const std::string& source() const { return source_; }
  bool is_random() const { return random_; }

 private:
  std::unique_ptr<io::CheckpointReader> reader_;  // keeps the mapping alive for views
  std::map<std::string, Tensor> tensors_;
  size_t bytes_ = 0;
  std::string source_;
  bool random_ = false;
};

}  // namespace vggt

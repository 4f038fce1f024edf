// The model's parameters by official name (the parameter table, model/param_table.h):
// validated against the config, viewed in place from a memory-mapped fp32 checkpoint (never
// copied) or converted once from bf16/fp16.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "model/config.h"
#include "model/param_table.h"

namespace vggt {

class WeightStore;

// How an int8 cache's weights were made (the w8a8 option's scope and rotation). Recorded in
// the cache's metadata as vggt_int8_scope = fc2|all-linears and vggt_int8_rotation =
// hadamard|none; an int8 cache without them predates both and holds all-linears, unrotated.
struct Int8Format {
  bool fc2_only = false;  // only the MLPs' fc2 in int8, the other convertible Linears in bf16
  bool hadamard = false;  // weights stored as W H / K (K a power of two; others unrotated)
  // Residual weights stored with every int8 weight ("<name>_residual" int8 [N,K] and
  // "<name>_residual_scale" float32 [N]; vggt_int8_residual = special+mean|none, absent = none).
  bool residual = false;
};

// Writes a converted-weights cache (safetensors): bf16 or int8 ("int8": per-output-channel
// symmetric weights + "<name>_scale" float32 [N]) for the convertible Linears (ParamSpec::convertible), float32 for the rest.
void write_converted(const WeightStore& ws, const ModelConfig& cfg, const std::string& to, const std::string& out,
                     const std::map<std::string, std::string>& metadata, const Int8Format& int8 = {});

// Result of comparing a checkpoint with the config; empty lists mean it fits.
struct CheckpointReport {
  std::vector<std::string> missing, unexpected, mis_shaped;  // mis_shaped: "name: got [..], expected [..]"
  std::vector<std::string> ignored;                           // unused: every official tensor is read (kept for validate's JSON)
  // The config has a track head but the checkpoint holds none of its tensors: the model loads
  // without it (point tracking unavailable, reconstruction unaffected). A partial track head is
  // reported as missing tensors instead.
  bool track_head_absent = false;
  bool ok() const { return missing.empty() && unexpected.empty() && mis_shaped.empty(); }
  std::string describe(const std::string& path) const;
};
CheckpointReport check_checkpoint(const io::CheckpointReader& r, const ModelConfig& cfg);

class WeightStore {
 public:
  // Throws with the full CheckpointReport when the checkpoint does not fit.
  // A checkpoint without any track-head tensor loads without the track head (has_track_head()).
  static std::unique_ptr<WeightStore> load(const std::string& path, const ModelConfig& cfg);
  static std::unique_ptr<WeightStore> random(const ModelConfig& cfg, uint64_t seed);

  // float32 of a parameter, made when first asked for: a view of a mapped float32 checkpoint,
  // converted from another dtype, dequantised (converted caches' bf16/int8 Linear weights), or
  // generated (random weights, deterministic per seed and name).
  Tensor get(const std::string& name) const;
  // The modules read their tensors by their parameter-table entry: the shape is checked
  // against the table and the name recorded (asked()).
  Tensor get(const ParamSpec& p) const;
  const std::vector<int64_t>& shape(const ParamSpec& p) const;
  bool has(const std::string& name) const { return shapes_.count(name) > 0; }
  const std::vector<int64_t>& shape(const std::string& name) const;
  // The caller has made its own copy (bf16, int8, packed float32) and needs the float32 no
  // longer: mapped pages go back to the kernel (a later get() faults them in from the file),
  // owned copies are dropped (a later get() makes them again). Memory is freed once the caller's
  // Tensor copies are gone too.
  void release_f32(const std::string& name) const;
  // Bytes of float32 weights the store owns now (converted, dequantised or generated; mapped
  // views excluded: their residency is the kernel's).
  size_t owned_f32_bytes() const;
  // A Linear weight stored converted (converted-weights cache): its raw bf16 or int8 data and,
  // for int8, its per-output-channel scales; null when the checkpoint holds it as float.
  const io::TensorInfo* converted(const std::string& name) const;
  const io::TensorInfo* converted(const ParamSpec& p) const;  // recorded as get(ParamSpec) is
  // The table entries the modules asked for (get/converted by ParamSpec) since loading.
  std::set<std::string> asked() const;
  const float* converted_scale(const std::string& name) const;
  // An int8 weight's stored residual (null when the cache has none) and its per-row scales.
  const io::TensorInfo* converted_residual(const std::string& name) const;
  const float* converted_residual_scale(const std::string& name) const;
  // An int8-stored weight holds W H / K (Hadamard-rotated) rather than W.
  bool int8_rotated(const std::string& name) const;
  const Int8Format& int8_format() const { return int8_; }
  // Tells the kernel the mapped pages of a converted weight are no longer needed once a kernel
  // has packed its own copy (they are re-read from the file if ever touched again).
  void release_converted(const std::string& name) const;
  size_t bytes() const { return bytes_; }
  const std::string& source() const { return source_; }
  bool is_random() const { return random_; }
  bool has_track_head() const { return track_head_; }

 private:
  // How a random parameter is made (WeightStore::random): values depend on the seed chain and
  // the index only, so a dropped tensor is generated again bit for bit.
  struct RandomInit {
    uint64_t base = 0;
    float amp = 0;
    enum Fill { uniform, ones, gamma } fill = uniform;
    bool pose_bias = false;  // the camera head's pose-branch output bias
  };
  Tensor make(const std::string& name) const;  // mu_ held

  std::unique_ptr<io::CheckpointReader> reader_;  // keeps the mapping alive for views
  mutable std::map<std::string, Tensor> tensors_;  // float32 made so far (views and owned)
  std::map<std::string, std::vector<int64_t>> shapes_;  // every parameter
  std::map<std::string, const io::TensorInfo*> views_;  // aligned float32 in the mapping
  std::map<std::string, const io::TensorInfo*> to_f32_;  // other dtypes (or unaligned): converted
  std::map<std::string, const io::TensorInfo*> lazy_;  // bf16/int8 Linear weights, used as stored
  std::map<std::string, RandomInit> random_init_;
  mutable std::mutex mu_;
  mutable std::set<std::string> asked_;
  void note_asked(const ParamSpec& p) const;
  size_t bytes_ = 0;
  std::string source_;
  bool random_ = false;
  bool track_head_ = false;
  Int8Format int8_;
};

// `cfg` as the store holds it: the track head off when the checkpoint has none.
ModelConfig effective_config(const ModelConfig& cfg, const WeightStore& ws);

}  // namespace vggt

// The VGGT model: weights + forward pass. Used by the CLI, the bench and the engine server.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"
#include "model/engine_options.h"

namespace vggt {


struct ProgressEvent {
  std::string stage;  // "encoder", "aggregator", "camera_head", "depth_head", "point_head", "geometry"
  int step = 0;       // 1-based step within the stage
  int total = 0;
  double elapsed_ms = 0;  // since the start of forward()
};

class CancelledError : public std::runtime_error {
 public:
  CancelledError() : std::runtime_error("cancelled") {}
};

class SequenceParallel;  // model/sequence_parallel.h
struct TrackFeatures;    // model/track_head.h
struct TrackOutputs;
class WeightStore;       // model/weights.h

struct RunContext {
  std::function<void(const ProgressEvent&)> on_progress;  // may be empty
  const std::atomic<bool>* cancel = nullptr;              // checked between layers
  bool keep_debug = false;                                // fill Predictions::debug
  // Set: this process is one rank of a sequence-parallel run. Every rank passes the same full
  // `images`; each computes its share of the frames, and only rank 0 gets Predictions (the
  // others get empty tensors). A cancel seen by any rank stops all of them.
  const SequenceParallel* parallel = nullptr;
  // Track head: query points [N, 2] on frame 0 (model-input pixels) -> Predictions track/vis/conf;
  // keep_track_features -> Predictions::track_features (the track cache of this run).
  const Tensor* track_queries = nullptr;
  bool keep_track_features = false;
};

struct StageTiming {
  std::string stage;
  double ms = 0;
  double gflop = 0;
};

struct Predictions {
  Tensor pose_enc;                 // [S, 9]
  Tensor depth;                    // [S, H, W, 1]
  Tensor depth_conf;               // [S, H, W]
  Tensor world_points;             // [S, H, W, 3]
  Tensor world_points_conf;        // [S, H, W]
  Tensor extrinsic;                // [S, 3, 4]
  Tensor intrinsic;                // [S, 3, 3]
  Tensor world_points_from_depth;  // [S, H, W, 3]
  Tensor track, vis, conf;         // [S, N, 2], [S, N], [S, N]: only with RunContext::track_queries
  std::shared_ptr<const TrackFeatures> track_features;  // only with keep_track_features
  std::map<std::string, Tensor> debug;
  std::vector<StageTiming> timings;
};

class VggtModel {
 public:
  // Loads a .safetensors or .pt state dict with the official names; validates names and
  // shapes against the config and throws listing every missing/unexpected/mis-shaped tensor.
  static std::unique_ptr<VggtModel> load(const std::string& weights_path, const ModelConfig& cfg,
                                         const EngineOptions& opts);
  // Full architecture with seeded random weights (benchmarks; speed does not depend on values).
  static std::unique_ptr<VggtModel> random(const ModelConfig& cfg, uint64_t seed, const EngineOptions& opts);
  ~VggtModel();

  // images: [S, 3, H, W] in [0, 1], H and W multiples of the patch size.
  Predictions forward(const Tensor& images, const RunContext& ctx = {});

  // The tracker on a run's cached features (no encoder, aggregator or DPT): queries [N, 2] on
  // frame 0 in model-input pixels, checked with check_query_points. Progress stage "track".
  TrackOutputs track(const TrackFeatures& features, const Tensor& queries, const RunContext& ctx = {});
  bool has_track_head() const;

  const ModelConfig& config() const;
  const EngineOptions& options() const;
  void set_options(const EngineOptions& opts);  // re-applies threads/flags for later runs
  size_t weight_bytes() const;
  bool random_weights() const;
  const WeightStore& weight_store() const;

  struct Impl;

 private:
  Predictions forward_parallel(const Tensor& images, const RunContext& ctx);
  explicit VggtModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vggt

#include "model/vggt_model.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "core/cpu_features.h"
#include "model/parts.h"
#include "model/sequence_parallel.h"
#include "model/track_head.h"

namespace vggt {

struct VggtModel::Impl {
  ModelConfig cfg;
  EngineOptions opts;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<Aggregator> aggregator;
  std::unique_ptr<CameraHead> camera;
  std::unique_ptr<DptHead> depth_head, point_head;
  std::unique_ptr<TrackHead> track_head;  // only when the config has a track section

  void build() {
    // Each module reads its tensors through its record of the parameter table.
    const params::Model p = params::table(cfg);
    encoder = std::make_unique<Encoder>(*weights, cfg, p.aggregator.patch_embed);
    aggregator = std::make_unique<Aggregator>(*weights, cfg, p.aggregator);
    camera = std::make_unique<CameraHead>(*weights, cfg, p.camera_head);
    depth_head = std::make_unique<DptHead>(*weights, cfg, p.depth_head, true);
    point_head = std::make_unique<DptHead>(*weights, cfg, p.point_head, false);
    if (p.track_head) track_head = std::make_unique<TrackHead>(*weights, cfg, *p.track_head);
    apply_options();
  }
  void apply_options() {
    if (opts.threads > 0) omp_set_num_threads(opts.threads);
    for (DptHead* h : {depth_head.get(), point_head.get()}) {
      // The 3x3 convolutions follow the bf16 switch; the output convs' results stay fp32.
      h->set_conv_modes(opts.on(Opt::prepack), opts.on(Opt::bf16));
      h->sincos_lowp = opts.on(Opt::sincos_lowp);
      h->pos_cache = opts.on(Opt::dpt_pos_cache);
    }
    // Transformer Linears of the encoder and aggregator (98% of the FLOPs): int8 when w8a8 is
    // on (all of them, or only the MLPs' fc2 by its scope), else bf16, else fp32 prepacked or
    // plain. The camera head stays fp32 (tiny, and its output is the pose the user sees).
    const LinearMode wide = opts.on(Opt::bf16)     ? LinearMode::BF16
                            : opts.on(Opt::prepack) ? LinearMode::F32Packed
                                                   : LinearMode::F32;
    const bool int8 = opts.on(Opt::w8a8);
    const bool fc2_only = int8 && static_cast<Int8Scope>(opts.w8a8.scope) == Int8Scope::fc2;
    const Int8Outliers outliers = int8 ? static_cast<Int8Outliers>(opts.w8a8.outliers) : Int8Outliers::none;
    const bool hadamard = outliers == Int8Outliers::hadamard || outliers == Int8Outliers::hadamard_special;
    const LinearMode fc2_mode = int8 ? LinearMode::W8A8 : wide;
    const LinearMode rest = int8 && !fc2_only ? LinearMode::W8A8 : wide;
    const bool residual = int8 && static_cast<Int8Residual>(opts.w8a8.residual) == Int8Residual::special_mean;
    for (auto* blocks : {&encoder->blocks, &aggregator->frame_blocks, &aggregator->global_blocks})
      for (auto& b : *blocks) b.set_linear_modes(fc2_mode, rest, hadamard, residual);
    const LinearMode small = opts.on(Opt::prepack) ? LinearMode::F32Packed : LinearMode::F32;
    for (auto& b : camera->trunk) b.set_linear_mode(small);
    if (track_head) {
      track_head->extractor.set_conv_modes(opts.on(Opt::prepack), opts.on(Opt::bf16));
      // The tracker's Linears: plain int8 with scope all-linears (its tokens have no camera or
      // register layout), else as the other wide Linears.
      track_head->set_linear_mode(rest);
    }
    // Conversion released float32 weights (or the previous mode's copies): dead blocks that the
    // tensor cache (up to 1 GiB) or the allocator would otherwise keep in the RSS all run long.
    release_unused_memory();
  }
  ExecFlags flags() const {
    ExecFlags f;
    f.rope_fused = opts.on(Opt::rope_fused);
    f.rope_cache = opts.on(Opt::rope_cache);
    f.fused_add_ln = opts.on(Opt::fused_add_ln);
    // The flash kernel pays only on its AVX-512 path; elsewhere the exact kernel is faster.
    const bool flash = opts.on(Opt::flash_attn) && isa_level() == IsaLevel::avx512;
    // With bf16 on, attention's two GEMM-like products take bf16 inputs too (fp32 softmax).
    const auto kernel = !flash                ? ops::AttentionKernel::exact
                        : opts.on(Opt::bf16)   ? ops::AttentionKernel::flash_bf16
                                              : ops::AttentionKernel::flash;
    f.global_attn = kernel;
    f.frame_attn = kernel;
    if (opts.on(Opt::w8a8)) {
      const Int8Outliers outliers = static_cast<Int8Outliers>(opts.w8a8.outliers);
      if (outliers == Int8Outliers::special || outliers == Int8Outliers::hadamard_special) f.int8_special = 1 + cfg.num_register_tokens;
    }
    if (opts.on(Opt::global_early_frame)) f.global_early_frame = opts.early_frame.k;
    if (opts.on(Opt::global_kv_subsample)) {
      f.kv_stride = opts.kv_subsample.stride;
      f.kv_first = opts.kv_subsample.first;
      f.kv_last = opts.kv_subsample.last;
    }
    if (opts.on(Opt::global_block_sparse)) {
      f.block_keep = opts.block_sparse.keep;
      f.block_cdf = opts.block_sparse.cdf;
    }
    return f;
  }
  size_t weight_bytes() const {
    // Converted-cache weights count as stored; convert them to float32 size first.
    size_t n = weights->bytes();
    auto adjust = [&](const std::vector<TransformerBlock>& blocks) {
      for (auto& b : blocks) {
        size_t f32 = 0;
        for (const Linear* l : {&b.qkv, &b.proj, &b.fc1, &b.fc2}) f32 += (l->weight_numel() + l->b.numel()) * sizeof(float);
        n = n - f32 + (b.qkv.weight_bytes() + b.proj.weight_bytes() + b.fc1.weight_bytes() + b.fc2.weight_bytes());
      }
    };
    adjust(encoder->blocks);
    adjust(aggregator->frame_blocks);
    adjust(aggregator->global_blocks);
    adjust(camera->trunk);
    return n;
  }
};

VggtModel::VggtModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VggtModel::~VggtModel() = default;

std::unique_ptr<VggtModel> VggtModel::load(const std::string& path, const ModelConfig& cfg, const EngineOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->opts = opts;
  impl->weights = WeightStore::load(path, cfg);
  impl->cfg = effective_config(cfg, *impl->weights);  // no track head when the checkpoint has none
  impl->build();
  return std::unique_ptr<VggtModel>(new VggtModel(std::move(impl)));
}

std::unique_ptr<VggtModel> VggtModel::random(const ModelConfig& cfg, uint64_t seed, const EngineOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->opts = opts;
  if (opts.threads > 0) omp_set_num_threads(opts.threads);
  impl->weights = WeightStore::random(cfg, seed);
  impl->build();
  return std::unique_ptr<VggtModel>(new VggtModel(std::move(impl)));
}

const ModelConfig& VggtModel::config() const { return impl_->cfg; }
const EngineOptions& VggtModel::options() const { return impl_->opts; }
void VggtModel::set_options(const EngineOptions& opts) {
  impl_->opts = opts;
  impl_->apply_options();
}
size_t VggtModel::weight_bytes() const { return impl_->weight_bytes(); }
bool VggtModel::random_weights() const { return impl_->weights->is_random(); }
const WeightStore& VggtModel::weight_store() const { return *impl_->weights; }
bool VggtModel::has_track_head() const { return impl_->track_head != nullptr; }

namespace {
void require_track_head(const VggtModel::Impl& m) {
  if (!m.track_head) throw std::runtime_error("this model has no track head (its config has no 'track' section)");
}
}  // namespace

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Cameras from the pose encoding and the depth branch's world points (the same on every path).
void add_geometry(Predictions& pred, int64_t H, int64_t W) {
  pose_encoding_to_extri_intri(pred.pose_enc, H, W, pred.extrinsic, pred.intrinsic);
  pred.world_points_from_depth = unproject_depth(pred.depth, pred.extrinsic, pred.intrinsic);
}

// Frames per chunk of the DPT heads, as the official code: the kept layers of a chunk are
// materialised in float32 (from bfloat16 in bf16 runs) while its frames run.
constexpr int64_t kDptChunk = 8;

// A DPT head over frames [0, n), frame by frame within chunks of kDptChunk frames: memory stays
// bounded and results do not depend on chunking. preds [n, H, W, out_dim-1], conf [n, H, W].
void run_dpt_head(const DptHead& head, const KeptLayers& layers, int64_t n, int64_t H, int64_t W, const char* stage,
                  const StepFn& step, Tensor& preds, Tensor& conf) {
  preds = Tensor::uninitialized({n, H, W, head.out_dim - 1});
  conf = Tensor::uninitialized({n, H, W});
  for (int64_t s0 = 0; s0 < n; s0 += kDptChunk) {
    const int64_t s1 = std::min(n, s0 + kDptChunk);
    const std::map<int, Tensor> chunk = layers.frames(s0, s1);
    for (int64_t s = s0; s < s1; ++s) {
      head.forward(chunk, s - s0, s - s0 + 1, H, W, preds, conf, s);
      step(stage, static_cast<int>(s + 1), static_cast<int>(n));
    }
  }
}

// The aggregator layers a run keeps: the DPT heads' (and, for debug output, the first and last).
std::vector<int> kept_layer_indices(const ModelConfig& cfg, bool debug) {
  std::vector<int> keep(cfg.dpt_layers.begin(), cfg.dpt_layers.end());
  if (debug) keep.push_back(cfg.depth - 1), keep.push_back(0);
  return keep;
}
}  // namespace

Predictions VggtModel::forward(const Tensor& images, const RunContext& ctx) {
  Impl& m = *impl_;
  const ModelConfig& cfg = m.cfg;
  if (images.ndim() != 4 || images.dim(1) != 3)
    throw std::runtime_error("images must be [S, 3, H, W], got " + images.shape_str());
  const int64_t S = images.dim(0), H = images.dim(2), W = images.dim(3), p = cfg.patch_size;
  if (S < 1) throw std::runtime_error("images: need at least one frame");
  if (H % p || W % p || H < p || W < p)
    throw std::runtime_error("images: height and width must be positive multiples of " + std::to_string(p) +
                             ", got " + std::to_string(H) + "x" + std::to_string(W));
  const int64_t hp = H / p, wp = W / p;
  if (ctx.parallel) return forward_parallel(images, ctx);

  const double t_start = now_ms();
  auto step = [&](const std::string& stage, int i, int total) {
    if (ctx.cancel && ctx.cancel->load()) throw CancelledError();
    if (ctx.on_progress) ctx.on_progress({stage, i, total, now_ms() - t_start});
  };
  Predictions pred;
  auto timed = [&](const std::string& stage, double t0, double gflop) { pred.timings.push_back({stage, now_ms() - t0, gflop}); };

  const ExecFlags flags = m.flags();
  double t0 = now_ms();
  BlockTimes enc_times;
  Tensor patches = m.encoder->forward(images, step, &enc_times, flags);
  timed("encoder", t0, enc_times.linear_gflop + enc_times.attn_gflop);
  if (ctx.keep_debug) pred.debug["debug.encoder_patch_tokens"] = patches;

  const bool track = ctx.track_queries || ctx.keep_track_features;
  // bf16 runs keep the heads' layers in bfloat16; the debug outputs and the track head read float32.
  const bool keep_bf16 = m.opts.on(Opt::bf16) && !ctx.keep_debug && !track;
  t0 = now_ms();
  BlockTimes frame_times, global_times;
  KeptLayers layers = m.aggregator->forward(std::move(patches), hp, wp, kept_layer_indices(cfg, ctx.keep_debug),
                                            keep_bf16, step, &frame_times, &global_times, flags);
  timed("aggregator", t0, frame_times.linear_gflop + frame_times.attn_gflop + global_times.linear_gflop + global_times.attn_gflop);
  pred.timings.push_back({"aggregator.frame_attention", frame_times.attn_ms, frame_times.attn_gflop});
  pred.timings.push_back({"aggregator.global_attention", global_times.attn_ms, global_times.attn_gflop});
  pred.timings.push_back({"aggregator.mlp", frame_times.mlp_ms + global_times.mlp_ms, 0});
  if (ctx.keep_debug)
    for (auto& [i, t] : layers.f32) pred.debug["debug.aggregated_tokens." + std::to_string(i)] = t;

  t0 = now_ms();
  auto poses = m.camera->forward(layers.camera, step, flags);
  timed("camera_head", t0, 0);
  pred.pose_enc = poses.back();
  if (ctx.keep_debug)
    for (size_t i = 0; i < poses.size(); ++i) pred.debug["debug.pose_enc_iter" + std::to_string(i)] = poses[i];

  t0 = now_ms();
  run_dpt_head(*m.depth_head, layers, S, H, W, "depth_head", step, pred.depth, pred.depth_conf);
  timed("depth_head", t0, 0);
  t0 = now_ms();
  run_dpt_head(*m.point_head, layers, S, H, W, "point_head", step, pred.world_points, pred.world_points_conf);
  timed("point_head", t0, 0);

  if (!track) layers.clear();  // nothing reads them any more
  if (track) {
    require_track_head(m);
    if (ctx.track_queries) check_query_points(*ctx.track_queries, H, W, "query points");
    t0 = now_ms();
    Tensor raw;
    auto feats = std::make_shared<TrackFeatures>(m.track_head->features(layers.f32, S, H, W, step, ctx.keep_debug ? &raw : nullptr));
    timed("track_features", t0, 0);
    if (ctx.keep_debug) pred.debug["debug.track_feature_maps"] = raw;
    layers.clear();
    if (ctx.track_queries) {
      t0 = now_ms();
      TrackOutputs to = m.track_head->track(*feats, *ctx.track_queries, step);
      timed("track", t0, 0);
      pred.track = to.track, pred.vis = to.vis, pred.conf = to.conf;
      if (ctx.keep_debug) {
        pred.debug["debug.track_query_feats"] = to.query_feats;
        pred.debug["debug.track_corr.0"] = to.corr0;
        for (size_t i = 0; i < to.iterations.size(); ++i)
          pred.debug["debug.track_iter." + std::to_string(i)] = to.iterations[i];
      }
    }
    if (ctx.keep_track_features) pred.track_features = feats;
  }

  t0 = now_ms();
  add_geometry(pred, H, W);
  timed("geometry", t0, 0);
  step("geometry", 1, 1);
  return pred;
}

TrackOutputs VggtModel::track(const TrackFeatures& features, const Tensor& queries, const RunContext& ctx) {
  Impl& m = *impl_;
  require_track_head(m);
  check_query_points(queries, features.height, features.width, "query points");
  const double t_start = now_ms();
  auto step = [&](const std::string& stage, int i, int total) {
    if (ctx.cancel && ctx.cancel->load()) throw CancelledError();
    if (ctx.on_progress) ctx.on_progress({stage, i, total, now_ms() - t_start});
  };
  return m.track_head->track(features, queries, step);
}

// Sequence-parallel forward: this rank runs the encoder, the aggregator's frame blocks and MLPs
// and the DPT heads on its own frames; global attention goes through ctx.parallel. The camera
// head needs every frame's camera token: rank 0 gathers them and runs it (while the others run
// their DPT heads), then gathers the per-frame outputs and computes the geometry.
Predictions VggtModel::forward_parallel(const Tensor& images, const RunContext& ctx) {
  Impl& m = *impl_;
  const ModelConfig& cfg = m.cfg;
  const SequenceParallel& sp = *ctx.parallel;
  if (ctx.track_queries || ctx.keep_track_features)
    throw std::runtime_error("the track head does not run with sequence parallelism (run without --sp / --parallel)");
  const int64_t S = images.dim(0), H = images.dim(2), W = images.dim(3), hp = H / cfg.patch_size,
                wp = W / cfg.patch_size;
  // Checked identically on every rank before any collective.
  sp.check_heads(cfg.num_heads);
  sp.check_frames(S);
  const FramePartition part = partition_frames(S, sp.size());
  const int64_t s0 = part.first[sp.rank()], sl = part.count[sp.rank()];
  const bool root = sp.rank() == 0;

  const double t_start = now_ms();
  // Encoder and aggregator steps come in the same order on every rank: there the ranks agree on
  // cancellation. The other stages differ per rank, so they only report progress.
  auto step = [&](const std::string& stage, int i, int total) {
    if ((stage == "encoder" || stage == "aggregator") && sp.any(ctx.cancel && ctx.cancel->load()))
      throw CancelledError();
    if (ctx.on_progress) ctx.on_progress({stage, i, total, now_ms() - t_start});
  };
  Predictions pred;
  auto timed = [&](const std::string& stage, double t0, double gflop) { pred.timings.push_back({stage, now_ms() - t0, gflop}); };

  const ExecFlags local_flags = m.flags();
  ExecFlags agg_flags = local_flags;
  agg_flags.distributed = &sp;
  sp.reset_stats();

  const int64_t frame = 3 * H * W;
  Tensor mine = Tensor::uninitialized({sl, 3, H, W});
  std::copy_n(images.data() + s0 * frame, sl * frame, mine.data());

  double t0 = now_ms();
  BlockTimes enc_times;
  Tensor patches = m.encoder->forward(mine, step, &enc_times, local_flags);
  mine = Tensor();
  timed("encoder", t0, enc_times.linear_gflop + enc_times.attn_gflop);
  Tensor debug_patches = ctx.keep_debug ? patches : Tensor();

  t0 = now_ms();
  BlockTimes frame_times, global_times;
  KeptLayers layers = m.aggregator->forward(std::move(patches), hp, wp, kept_layer_indices(cfg, ctx.keep_debug),
                                            m.opts.on(Opt::bf16) && !ctx.keep_debug, step, &frame_times,
                                            &global_times, agg_flags, s0);
  timed("aggregator", t0, frame_times.linear_gflop + frame_times.attn_gflop + global_times.linear_gflop);
  pred.timings.push_back({"aggregator.frame_attention", frame_times.attn_ms, frame_times.attn_gflop});
  pred.timings.push_back({"aggregator.global_attention", global_times.attn_ms, 0});
  pred.timings.push_back({"aggregator.mlp", frame_times.mlp_ms + global_times.mlp_ms, 0});
  const parallel::TransferStats st = sp.stats();
  pred.timings.push_back({"sp.comm", st.comm_ms, 0});
  pred.timings.push_back({"sp.attention_compute", st.compute_ms, 0});
  pred.timings.push_back({"sp.pack", st.pack_ms, 0});

  // Camera tokens of the last layer, [S, 1, 2E] on rank 0.
  t0 = now_ms();
  Tensor cams = sp.gather_frames(layers.camera, part);
  std::vector<Tensor> poses;
  if (root) {
    poses = m.camera->forward(cams, step, local_flags);
    pred.pose_enc = poses.back();
  }
  timed("camera_head", t0, 0);

  t0 = now_ms();
  Tensor depth, depth_conf, points, points_conf;
  run_dpt_head(*m.depth_head, layers, sl, H, W, "depth_head", step, depth, depth_conf);
  timed("depth_head", t0, 0);
  t0 = now_ms();
  run_dpt_head(*m.point_head, layers, sl, H, W, "point_head", step, points, points_conf);
  timed("point_head", t0, 0);
  if (!ctx.keep_debug) layers.clear();
  if (sp.any(ctx.cancel && ctx.cancel->load())) throw CancelledError();

  t0 = now_ms();
  pred.depth = sp.gather_frames(depth, part);
  pred.depth_conf = sp.gather_frames(depth_conf, part);
  pred.world_points = sp.gather_frames(points, part);
  pred.world_points_conf = sp.gather_frames(points_conf, part);
  if (ctx.keep_debug) {
    Tensor enc = sp.gather_frames(debug_patches, part);
    std::map<std::string, Tensor> dbg;
    for (auto& [i, t] : layers.f32) dbg["debug.aggregated_tokens." + std::to_string(i)] = sp.gather_frames(t, part);
    if (root) {
      pred.debug = std::move(dbg);
      pred.debug["debug.encoder_patch_tokens"] = enc;
      for (size_t i = 0; i < poses.size(); ++i) pred.debug["debug.pose_enc_iter" + std::to_string(i)] = poses[i];
    }
  }
  timed("gather", t0, 0);

  if (root) {
    t0 = now_ms();
    add_geometry(pred, H, W);
    timed("geometry", t0, 0);
    step("geometry", 1, 1);
  }
  return pred;
}

}  // namespace vggt

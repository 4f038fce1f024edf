#include <cstdio>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/args.h"
#include "cli/commands.h"
#include "runtime/model_setup.h"
#include "runtime/query_points.h"
#include "io/checkpoint.h"
#include "io/input_tensor.h"
#include "io/json_guard.h"
#include "runtime/options_json.h"
#include "runtime/run_io.h"
#include "io/safetensors.h"
#include "runtime/predictions_io.h"
#include "model/sequence_parallel.h"
#include "model/track_head.h"
#include "parallel/mpi_comm.h"
#include "preprocess/preprocess.h"

namespace vggt::cli {

namespace {

const std::set<std::string> kInferFlags = {"debug", "exif", "random-weights", "quiet"};
const std::set<std::string> kInferOptions = {"weights", "config", "input-tensor", "images", "preprocess", "out",
                                             "threads", "options", "debug", "exif", "random-weights", "seed",
                                             "quiet", "sp", "query-points", "query-space", "track-grid"};

void check_infer_args(const Args& a) {
  a.check_known(kInferOptions);
  a.required("out");
  if (!a.has("weights") && !a.has("random-weights"))
    throw std::runtime_error("give --weights W (a .safetensors or .pt checkpoint) or --random-weights");
  if (a.has("input-tensor") == a.has("images")) throw std::runtime_error("give exactly one of --input-tensor or --images");
  if (a.has("query-points") && a.has("track-grid")) throw std::runtime_error("give at most one of --query-points or --track-grid");
  const std::string space = a.get("query-space", "model");
  if (space != "model" && space != "original")
    throw std::runtime_error("--query-space must be 'model' or 'original', got '" + space + "'");
  if (space == "original" && !a.has("images"))
    throw std::runtime_error("--query-space original needs --images (the original image of frame 0)");
  if (a.has("query-space") && !a.has("query-points"))
    throw std::runtime_error("--query-space applies to --query-points only");
  a.get_threads();  // checked before any input is read
}

// The track head's query points of `infer`, in model-input pixels of frame 0; empty when the run
// does not track.
Tensor load_infer_queries(const Args& a, const Tensor& images, const std::vector<preprocess::FrameInfo>& frames) {
  const int64_t H = images.dim(2), W = images.dim(3);
  Tensor q;
  std::string what;
  if (a.has("track-grid")) {
    q = query_grid(a.get_int("track-grid", 0), H, W);
    what = "--track-grid";
  } else if (a.has("query-points")) {
    what = a.get("query-points");
    q = runtime::load_query_points(what);
    if (a.get("query-space", "model") == "original") q = runtime::queries_from_original(q, frames.at(0), what);
  } else {
    return q;
  }
  check_query_points(q, H, W, what);
  return q;
}

runtime::RunInput load_infer_input(const Args& a) {
  if (a.has("input-tensor"))
    return runtime::read_input_tensor(a.get("input-tensor"), "images",
                                      ModelConfig::resolve(a.get("config", "vggt-1b")).patch_size);
  return runtime::read_images(a.list("images"), a.get("preprocess", "crop"), a.has("exif"));
}

std::map<std::string, std::string> model_meta(const Args& a, const VggtModel& model, const EngineOptions& opts,
                                              uint64_t seed, const runtime::RunInput& input) {
  const std::string source = model.random_weights() ? "random:" + std::to_string(seed) : a.get("weights");
  return runtime::output_metadata(source, model, opts, input);
}

void print_summary(const std::string& out, const Predictions& pred, const Tensor& images, bool random) {
  if (random) std::fprintf(stderr, "note: random weights (benchmark mode): the geometry is meaningless\n");
  double total = 0;
  for (auto& t : pred.timings)
    if (t.stage.find('.') == std::string::npos) total += t.ms;
  std::fprintf(stderr, "wrote %s (%lld frames, %lldx%lld) in %.0f ms, peak RSS %.0f MiB\n", out.c_str(),
               static_cast<long long>(images.dim(0)), static_cast<long long>(images.dim(2)),
               static_cast<long long>(images.dim(3)), total, runtime::peak_rss_bytes() / 1048576.0);
}

int infer_local(const Args& a) {
  check_infer_args(a);
  const std::string out = a.get("out");
  const runtime::RunInput input = load_infer_input(a);
  const Tensor& images = input.images;
  const std::vector<preprocess::FrameInfo>& frames = input.frames;
  const Tensor queries = load_infer_queries(a, images, frames);
  EngineOptions opts = parse_option_list(a.get("options"), a.get_threads());
  const uint64_t seed = static_cast<uint64_t>(a.get_int("seed", 0));
  auto model = runtime::make_model(a.get("weights"), a.get("config", "vggt-1b"), opts, seed);
  const std::map<std::string, std::string> meta = model_meta(a, *model, opts, seed, input);
  if (!queries.empty() && !model->has_track_head())
    throw std::runtime_error("--query-points/--track-grid: this model has no track head (its config has no 'track' section)");

  RunContext ctx;
  ctx.keep_debug = a.has("debug");
  if (!queries.empty()) ctx.track_queries = &queries;
  if (!a.has("quiet"))
    ctx.on_progress = [](const ProgressEvent& e) {
      std::fprintf(stderr, "[%8.0f ms] %s %d/%d\n", e.elapsed_ms, e.stage.c_str(), e.step, e.total);
    };
  Predictions pred = model->forward(images, ctx);
  std::vector<std::pair<std::string, Tensor>> extra;
  if (!queries.empty()) {
    extra.emplace_back("query_points", queries);
    if (!frames.empty()) extra.emplace_back("track_original", preprocess::tracks_to_original(pred.track, frames));
  }
  write_predictions(out, pred, images, meta, ctx.keep_debug, extra);
  print_summary(out, pred, images, model->random_weights());
  return 0;
}

struct MpiSession {
  MpiSession() { parallel::mpi_init(); }
  ~MpiSession() { parallel::mpi_finalize(); }
};

// `mpirun -np N vggt-engine infer --sp ulysses|ring ...`: rank 0 reads the input and writes the
// output; every rank loads the model and computes its share of the frames. Errors are agreed on
// at each phase so they are reported once (by rank 0, naming the failing rank) and every rank
// exits non-zero; a failure inside the forward pass, where the others may be waiting in a
// collective, ends the launch with MPI_Abort.
int infer_parallel(int argc, char** argv) {
  MpiSession mpi;
  const parallel::Comm comm = parallel::Comm::world();
  const std::vector<std::string> hosts = parallel::host_names(comm);
  const bool root = comm.rank() == 0;
  // Rank 0 prints the agreed error before any rank exits: mpirun kills the whole job as soon
  // as one rank ends non-zero, which could otherwise cut rank 0 off before it reports.
  auto fail_if = [&](const std::string& mine) {
    const std::string err = parallel::agree_error(comm, mine);
    if (err.empty()) return false;
    if (root) {
      std::fprintf(stderr, "vggt-engine infer: error: %s\n", err.c_str());
      std::fflush(stderr);
    }
    comm.barrier();
    return true;
  };

  std::string err;
  std::unique_ptr<Args> args;
  std::unique_ptr<SequenceParallel> sp;
  runtime::RunInput input;
  Tensor& images = input.images;
  int64_t shape[4] = {0, 0, 0, 0};
  try {
    args = std::make_unique<Args>(argc, argv, 2, kInferFlags);
    check_infer_args(*args);
    if (!args->has("sp") && comm.size() == 1) return infer_local(*args);  // `mpirun -np 1` without --sp
    if (args->has("query-points") || args->has("track-grid"))
      throw std::runtime_error("--query-points/--track-grid: the track head does not run with --sp");
    if (!args->has("sp"))
      throw std::runtime_error("running under mpirun with " + std::to_string(comm.size()) +
                               " ranks needs --sp ulysses|ring (otherwise every rank would run the whole model)");
    sp = std::make_unique<SequenceParallel>(parse_sp_mode(args->get("sp")), comm);
    sp->check_heads(ModelConfig::resolve(args->get("config", "vggt-1b")).num_heads);
    if (root) {
      input = load_infer_input(*args);
      for (int i = 0; i < 4; ++i) shape[i] = images.dim(i);
    }
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (fail_if(err)) return 1;

  comm.bcast(shape, sizeof shape, 0);
  if (!root) images = Tensor::uninitialized({shape[0], shape[1], shape[2], shape[3]});
  comm.bcast(images.data(), images.numel() * sizeof(float), 0);

  std::unique_ptr<VggtModel> model;
  EngineOptions opts;
  const uint64_t seed = static_cast<uint64_t>(args->get_int("seed", 0));
  try {
    sp->check_frames(images.dim(0));
    opts = parse_option_list(args->get("options"), args->get_threads());
    model = runtime::make_model(args->get("weights"), args->get("config", "vggt-1b"), opts, seed);
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (fail_if(err)) return 1;

  RunContext ctx;
  ctx.parallel = sp.get();
  ctx.keep_debug = args->has("debug");
  if (root && !args->has("quiet"))
    ctx.on_progress = [](const ProgressEvent& e) {
      std::fprintf(stderr, "[%8.0f ms] %s %d/%d (rank 0)\n", e.elapsed_ms, e.stage.c_str(), e.step, e.total);
    };
  Predictions pred;
  try {
    pred = model->forward(images, ctx);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vggt-engine infer: error on rank %d of %d: %s\n", comm.rank(), comm.size(), e.what());
    std::fflush(stderr);
    comm.abort(1);
  }

  const parallel::TransferStats st = sp->stats();
  const std::string out = args->get("out");
  try {
    if (root) {
      std::map<std::string, std::string> meta = model_meta(*args, *model, opts, seed, input);
      meta["sequence_parallel"] = "{\"mode\":\"" + std::string(sp_mode_name(sp->mode())) +
                                  "\",\"ranks\":" + std::to_string(comm.size()) + "}";
      write_predictions(out, pred, images, meta, ctx.keep_debug);
    }
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (fail_if(err)) return 1;
  if (root) {
    std::string host_list;
    for (const std::string& h : hosts) host_list += (host_list.empty() ? "" : ", ") + h;
    print_summary(out, pred, images, model->random_weights());
    std::fprintf(stderr,
                 "sequence parallel: %s over %d ranks on hosts %s; rank 0 per global layer: %.3f MB sent, %.1f ms in "
                 "MPI, %.1f ms attention, %.1f ms packing\n",
                 sp_mode_name(sp->mode()), comm.size(), host_list.c_str(), st.calls ? st.bytes_sent / st.calls / 1e6 : 0.0,
                 st.calls ? st.comm_ms / st.calls : 0.0, st.calls ? st.compute_ms / st.calls : 0.0,
                 st.calls ? st.pack_ms / st.calls : 0.0);
  }
  return 0;
}

bool argv_has(int argc, char** argv, const std::string& opt) {
  for (int i = 2; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == opt || s.rfind(opt + "=", 0) == 0) return true;
  }
  return false;
}

}  // namespace

// MPI starts only for --sp or under mpirun: a plain single-process run never touches it.
int infer_main(int argc, char** argv) {
  if (argv_has(argc, argv, "--sp") || (parallel::launched_by_mpirun() && parallel::mpi_compiled()))
    return infer_parallel(argc, argv);
  return infer_local(Args(argc, argv, 2, kInferFlags));
}

int preprocess_main(int argc, char** argv) {
  Args a(argc, argv, 2, {"exif"});
  a.check_known({"images", "mode", "out", "exif"});
  auto batch = preprocess::load_and_preprocess(a.list("images"), preprocess::mode_from_string(a.get("mode", "crop")),
                                               a.has("exif"));
  if (a.list("images").empty()) throw std::runtime_error("give --images F...");
  io::write_safetensors(a.required("out"), {io::f32_entry("images", batch.images)},
                        {{"frames", runtime::frames_json(batch.frames)}, {"preprocess", a.get("mode", "crop")}});
  std::fprintf(stderr, "wrote %s: images %s\n", a.get("out").c_str(), batch.images.shape_str().c_str());
  return 0;
}

}  // namespace vggt::cli

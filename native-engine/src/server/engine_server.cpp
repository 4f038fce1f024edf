#include "server/engine_server.h"
#include "core/version.h"

#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#endif

#include <cmath>
#include <new>

#include "runtime/model_setup.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/input_tensor.h"
#include "io/load_cancel.h"
#include "model/config.h"
#include "runtime/query_points.h"
#include "io/safetensors.h"
#include "runtime/predictions_io.h"
#include "preprocess/preprocess.h"
#include "runtime/memory_usage.h"
#include "server/parallel_serve.h"
#include "runtime/options_json.h"
#include "runtime/run_io.h"
#include "parallel/mpi_comm.h"


namespace vggt::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Library messages do not always name the file; the client must always see which one.
std::string with_path(const std::string& path, const std::string& msg) {
  return msg.find(path) != std::string::npos ? msg : path + ": " + msg;
}

EngineOptions merge_options(const EngineOptions& base, const OptionsSpec& over) {
  EngineOptions o = base;
  if (over.threads) o.threads = *over.threads;
  try {
    apply_options_spec(o, over);
  } catch (const std::runtime_error& e) {
    throw ProtocolError(ErrorCode::BadRequest, e.what());
  }
  return o;
}

using runtime::set_thread_count;

bool same_options(const EngineOptions& a, const EngineOptions& b) {
  return a == b;
}

json memory_json(bool job_scope) {
  runtime::MemoryUsage m = runtime::memory_usage();
  return {{"rss_bytes", m.rss_bytes}, {"peak_rss_bytes", m.peak_rss_bytes},
          {"peak_rss_scope", job_scope ? "job" : "process"}};
}

json option_names() {
  json names = json::array();
  for (const auto& o : option_table()) names.push_back(o.name);
  return names;
}

}  // namespace

Server::Server(LineWriter& out, ServerOptions opts) : out_(out), opts_(std::move(opts)) {
  worker_ = std::thread([this] { worker_loop(); });
}

Server::~Server() { shutdown(); }

void Server::emit(const json& event) { out_.write_line(to_line(event)); }

void Server::fail(const std::string& id, ErrorCode code, const std::string& message) {
  emit(make_error(id, code, message));
}

void Server::send_hello() {
  json hello = {{"type", "hello"},
                {"protocol", kProtocolVersion},
                {"engine_version", engine_version()},
                {"pid", static_cast<int64_t>(getpid())},
                {"isa", runtime::isa_summary()},
                {"threads", opts_.threads > 0 ? opts_.threads : omp_get_max_threads()},
                {"hardware_threads", std::thread::hardware_concurrency()},
                {"parallel", opts_.parallel},
                {"requests",
                 {"load", "infer", "track", "release_track_cache", "cancel", "status", "unload", "shutdown", "ping"}},
                {"flags", option_names()},
                {"options", option_table_json()},
                {"presets", option_presets_json()},
                {"max_request_bytes", opts_.max_line_bytes},
                {"memory", memory_json(false)}};
  emit(hello);
}

bool Server::handle(const LineDecoder::Line& line) {
  if (line.oversized) {
    fail({}, ErrorCode::BadRequest,
         "request line exceeds " + std::to_string(opts_.max_line_bytes) + " bytes; starts with: " + line.text.substr(0, 80));
    return true;
  }
  std::string id;
  Request req;
  try {
    req = parse_request(line.text, &id);
    if (req.type == "infer") check_infer_paths(req.infer);
    if (req.type == "track" && !req.track.output.empty()) check_output_path(req.track.output);
  } catch (const ProtocolError& e) {
    fail(id, e.code, e.what());
    return true;
  } catch (const std::exception& e) {
    fail(id, ErrorCode::BadRequest, e.what());
    return true;
  }

  if (req.type == "ping") {
    emit(make_result(req.id, "ping"));
  } else if (req.type == "status") {
    emit(status_result(req.id));
  } else if (req.type == "cancel") {
    handle_cancel(req);
  } else if (req.type == "shutdown") {
    shutdown(req.id);
    return false;
  } else {  // load, infer, track, release_track_cache, unload: model work, serialised on the worker
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      fail(req.id, ErrorCode::Cancelled, "engine is shutting down");
    } else if (!active_ids_.insert(req.id).second) {
      fail(req.id, ErrorCode::BadRequest, "duplicate id '" + req.id + "': a request with this id is still queued or running");
    } else {
      queue_.push_back(Job{std::move(req)});
      cv_.notify_all();
    }
  }
  return true;
}

void Server::handle_cancel(const Request& req) {
  const std::string& job = req.cancel.job;
  std::string state = "unknown";
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_id_ == job && running_cancel_) {
      running_cancel_->store(true);
      state = "running";  // the worker reports the job's own `cancelled` error when it stops
    } else {
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->req.id == job) {
          queue_.erase(it);
          active_ids_.erase(job);
          state = "queued";
          dropped = true;
          break;
        }
      }
    }
  }
  if (dropped) fail(job, ErrorCode::Cancelled, "cancelled before it started");
  json r = make_result(req.id, "cancel");
  r["job"] = job;
  r["state"] = state;
  emit(r);
}

json Server::status_result(const std::string& id) {
  json r = make_result(id, "status");
  std::lock_guard<std::mutex> lock(mu_);
  r["state"] = stopping_ ? "stopping" : (running_id_.empty() ? "idle" : "busy");
  r["running"] = running_id_.empty() ? json(nullptr) : json(running_id_);
  json q = json::array();
  for (const auto& j : queue_) q.push_back(j.req.id);
  r["queued"] = q;
  r["model"] = model_summary_;
  r["jobs_completed"] = jobs_done_;
  r["uptime_ms"] = ms_since(started_);
  r["memory"] = memory_json(false);
  r["track_cache"] = track_cache_summary_;
  return r;
}

void Server::shutdown(const std::string& request_id) {
  std::deque<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (running_cancel_) running_cancel_->store(true);
    dropped.swap(queue_);
    for (const auto& j : dropped) active_ids_.erase(j.req.id);
    cv_.notify_all();
  }
  for (const auto& j : dropped) fail(j.req.id, ErrorCode::Cancelled, "engine is shutting down");
  if (worker_.joinable()) worker_.join();
  track_cache_.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    model_summary_ = nullptr;
    track_cache_summary_ = nullptr;
  }
  model_.reset();
  if (!request_id.empty()) emit(make_result(request_id, "shutdown"));
}

void Server::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && running_id_.empty(); });
}

void Server::worker_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_id_ = job.req.id;
      running_cancel_ = job.cancel;
    }
    json final_event = run_job(job);
    // An idle engine keeps no cached activation blocks (the app may sit idle for hours), and
    // the allocator hands its freed pages back, so that the resident size the engine reports
    // between jobs is what it holds (weights, track cache), not what the last job used.
    release_unused_memory();
    // The job counts as finished before its answer goes out, so a status request sent on
    // receipt of the answer already sees the engine idle.
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_id_.clear();
      running_cancel_.reset();
      active_ids_.erase(job.req.id);
      ++jobs_done_;
      cv_.notify_all();
    }
    emit(final_event);
  }
}

json Server::run_job(Job& job) {
  const std::string& id = job.req.id;
  // Nothing thrown by a job may end the process: every failure becomes an error event.
  try {
    if (job.req.type == "load") return do_load(job);
    if (job.req.type == "infer") return do_infer(job);
    if (job.req.type == "unload") return do_unload(job);
    if (job.req.type == "track") return do_track(job);
    if (job.req.type == "release_track_cache") return do_release_track_cache(job);
    return make_error(id, ErrorCode::Internal, "no handler for queued request type '" + job.req.type + "'");
  } catch (const ProtocolError& e) {
    return make_error(id, e.code, e.what());
  } catch (const CancelledError&) {
    return make_error(id, ErrorCode::Cancelled, "cancelled");
  } catch (const std::bad_alloc&) {
    return make_error(id, ErrorCode::OutOfMemory, job.req.type + ": out of memory");
  } catch (const std::exception& e) {
    return make_error(id, ErrorCode::Internal, job.req.type + " failed: " + e.what());
  } catch (...) {
    return make_error(id, ErrorCode::Internal, job.req.type + " failed with an unknown exception");
  }
}

json Server::do_load(Job& job) {
  const LoadRequest& r = job.req.load;
  const auto t0 = Clock::now();
  // A load replaces the model; the old one goes first so two never share memory.
  drop_track_cache();
  model_.reset();
  if (opts_.sp) send_command(*opts_.sp, {{"cmd", "unload"}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    model_summary_ = nullptr;
  }
  const bool config_is_path = r.config.find('/') != std::string::npos ||
                              (r.config.size() > 5 && r.config.compare(r.config.size() - 5, 5, ".json") == 0);
  if (config_is_path && !file_exists(r.config))
    throw ProtocolError(ErrorCode::NotFound, r.config + ": model config file not found");
  ModelConfig cfg;
  try {
    cfg = ModelConfig::resolve(r.config);
  } catch (const std::exception& e) {
    throw ProtocolError(ErrorCode::BadCheckpoint, with_path(r.config, e.what()));
  }
  EngineOptions opts;
  opts.threads = r.options.threads.value_or(opts_.threads);
  try {
    apply_options_spec(opts, r.options);
  } catch (const std::runtime_error& e) {
    throw ProtocolError(ErrorCode::BadRequest, e.what());
  }
  set_thread_count(opts.threads);

  if (!r.random && !file_exists(r.weights))
    throw ProtocolError(ErrorCode::NotFound, r.weights + ": weights file not found");
  if (opts_.sp) {
    try {
      opts_.sp->check_heads(cfg.num_heads);
    } catch (const std::exception& e) {
      throw ProtocolError(ErrorCode::Unsupported, e.what());
    }
    send_command(*opts_.sp, {{"cmd", "load"}, {"weights", r.weights}, {"random", r.random}, {"seed", r.seed},
                             {"config", r.config}, {"options", runtime::options_json(opts)}});
  }

  std::unique_ptr<VggtModel> m;
  std::exception_ptr failure;
  try {
    if (r.random) {
      m = VggtModel::random(cfg, r.seed, opts);
    } else {
      try {
        const io::ScopedLoadCancel cancellable(job.cancel.get());  // a long checkpoint parse polls it
        m = VggtModel::load(r.weights, cfg, opts);
      } catch (const io::LoadCancelled&) {
        throw CancelledError();
      } catch (const std::bad_alloc&) {
        throw;
      } catch (const std::exception& e) {
        throw ProtocolError(ErrorCode::BadCheckpoint, with_path(r.weights, e.what()));
      }
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (opts_.sp) {  // every rank has a model, or none keeps one
    std::string mine;
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        mine = e.what();
      }
    }
    const std::string agreed = parallel::agree_error(opts_.sp->comm(), mine);
    if (!failure && !agreed.empty()) throw ProtocolError(ErrorCode::BadCheckpoint, agreed);
  }
  if (failure) std::rethrow_exception(failure);
  // Reading the checkpoint polls the cancel flag; a cancel that arrived after it still wins.
  if (job.cancel->load()) {
    if (opts_.sp) send_command(*opts_.sp, {{"cmd", "unload"}});
    throw CancelledError();
  }

  const double load_ms = ms_since(t0);
  json summary = {{"source", r.random ? "random:" + std::to_string(r.seed) : r.weights},
                  {"random_weights", r.random},
                  {"config_name", r.config},
                  {"config", json::parse(cfg.to_json(), nullptr, false)},
                  {"weight_bytes", m->weight_bytes()},
                  {"options", runtime::options_json(opts)}};
  model_ = std::move(m);
  model_options_ = opts;
  applied_options_ = opts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    model_summary_ = summary;
  }
  emit(make_progress(job.req.id, "load", 1, 1, load_ms));
  emit(make_log("info",
                "loaded " + summary["source"].get<std::string>() + " (" +
                    std::to_string(summary["weight_bytes"].get<uint64_t>() >> 20) + " MiB of weights) in " +
                    std::to_string(static_cast<int64_t>(load_ms)) + " ms",
                job.req.id));
  json res = make_result(job.req.id, "load");
  res["model"] = summary;
  res["load_ms"] = load_ms;
  res["memory"] = memory_json(false);
  return res;
}

json Server::do_infer(Job& job) {
  const InferRequest& r = job.req.infer;
  const std::string& id = job.req.id;
  if (!model_) throw ProtocolError(ErrorCode::NoModel, "no model is loaded; send a 'load' request first");
  // One run's track cache at a time: the previous one goes before this run allocates.
  drop_track_cache();
  if (r.track_cache && !model_->has_track_head())
    throw ProtocolError(ErrorCode::Unsupported, "infer: 'track_cache' needs a model with a track head (its config has no 'track' section)");
  if (r.track_cache && opts_.sp)
    throw ProtocolError(ErrorCode::Unsupported, "infer: 'track_cache' is not available with sequence parallelism");
  const auto t0 = Clock::now();
  const bool job_peak = runtime::reset_peak_rss();
  if (!job_peak && !warned_peak_scope_) {
    warned_peak_scope_ = true;
    emit(make_log("warn", "cannot reset the peak-RSS counter here; peak_rss_bytes is the process lifetime peak", id));
  }
  json timings = json::array();

  // Input.
  runtime::RunInput input;
  try {
    input = r.images.empty()
                ? runtime::read_input_tensor(r.input_tensor, r.input_tensor_name, model_->config().patch_size)
                : runtime::read_images(r.images, r.preprocess, r.exif_orientation);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw ProtocolError(ErrorCode::BadInput, e.what());
  }
  Tensor& images = input.images;
  const std::vector<preprocess::FrameInfo>& frame_infos = input.frames;
  timings.push_back({{"stage", "read_input"}, {"ms", ms_since(t0)}});
  emit(make_progress(id, "read_input", 1, 1, ms_since(t0)));
  if (job.cancel->load()) throw CancelledError();

  // Per-job options apply to this job only. They are applied lazily: a run of jobs with the same
  // options pays for re-packing weights (bf16, prepack, ...) once, not twice per job.
  const EngineOptions job_opts = merge_options(model_options_, r.options);
  if (!same_options(job_opts, applied_options_)) {
    model_->set_options(job_opts);
    applied_options_ = job_opts;
  }
  set_thread_count(job_opts.threads);

  RunContext ctx;
  ctx.cancel = job.cancel.get();
  ctx.keep_debug = r.keep_debug;
  ctx.keep_track_features = r.track_cache;
  ctx.on_progress = [this, &id, t0](const ProgressEvent& ev) {
    emit(make_progress(id, ev.stage, ev.step, ev.total, ms_since(t0)));
  };
  if (opts_.sp) {
    try {
      opts_.sp->check_frames(images.dim(0));
    } catch (const std::exception& e) {
      throw ProtocolError(ErrorCode::BadInput, e.what());
    }
    send_command(*opts_.sp, {{"cmd", "infer"}, {"options", runtime::options_json(job_opts)}, {"keep_debug", r.keep_debug}});
    send_images(*opts_.sp, images);
    ctx.parallel = opts_.sp;
  }
  const auto t_fwd = Clock::now();
  Predictions preds;
  try {
    preds = model_->forward(images, ctx);
  } catch (const CancelledError&) {
    throw;  // all ranks agreed on it and stopped together
  } catch (const std::exception& e) {
    if (!opts_.sp) throw;
    // The other ranks may wait in a collective forever: report, then end the whole launch.
    emit(make_error(id, ErrorCode::Internal,
                    std::string("parallel forward failed on rank 0: ") + e.what() + "; stopping every rank"));
    opts_.sp->comm().abort(1);
  }
  const double forward_ms = ms_since(t_fwd);
  for (const auto& st : preds.timings) timings.push_back({{"stage", st.stage}, {"ms", st.ms}, {"gflop", st.gflop}});
  if (job.cancel->load()) throw CancelledError();

  // Output.
  const auto t_write = Clock::now();
  // The same metadata as `vggt-engine infer`; write_predictions adds format and engine_version.
  const std::map<std::string, std::string> meta =
      runtime::output_metadata(model_summary_.value("source", std::string()), *model_, job_opts, input);
  try {
    write_predictions(r.output, preds, images, meta, r.keep_debug);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw ProtocolError(ErrorCode::IoError, with_path(r.output, e.what()));
  }
  timings.push_back({{"stage", "write_output"}, {"ms", ms_since(t_write)}});
  emit(make_progress(id, "write_output", 1, 1, ms_since(t0)));

  json res = make_result(id, "infer");
  res["output"] = r.output;
  res["frames"] = images.dim(0);
  res["height"] = images.dim(2);
  res["width"] = images.dim(3);
  res["options"] = runtime::options_json(job_opts);
  res["timings"] = timings;
  res["forward_ms"] = forward_ms;
  res["total_ms"] = ms_since(t0);
  res["memory"] = memory_json(job_peak);
  if (r.track_cache && preds.track_features) {
    const TrackFeatures& f = *preds.track_features;
    track_cache_ = std::make_unique<TrackCache>(TrackCache{id, preds.track_features, frame_infos, meta});
    const json summary = {{"run", id}, {"bytes", f.bytes()}};
    {
      std::lock_guard<std::mutex> lock(mu_);
      track_cache_summary_ = summary;
    }
    res["track_cache"] = {{"run", id},
                          {"bytes", f.bytes()},
                          {"frames", f.frames},
                          {"feature_height", f.pyramid[0].dim(1)},
                          {"feature_width", f.pyramid[0].dim(2)},
                          {"channels", f.pyramid[0].dim(3)}};
  }
  return res;
}

size_t Server::drop_track_cache() {
  const size_t bytes = track_cache_ ? track_cache_->features->bytes() : 0;
  track_cache_.reset();
  std::lock_guard<std::mutex> lock(mu_);
  track_cache_summary_ = nullptr;
  return bytes;
}

namespace {
json nested(const Tensor& t) {  // [S, N] or [S, N, 2] -> nested arrays
  json a = json::array();
  const int64_t S = t.dim(0), N = t.dim(1);
  for (int64_t s = 0; s < S; ++s) {
    json row = json::array();
    for (int64_t n = 0; n < N; ++n) {
      if (t.ndim() == 3)
        row.push_back({t[(s * N + n) * 2], t[(s * N + n) * 2 + 1]});
      else
        row.push_back(t[s * N + n]);
    }
    a.push_back(std::move(row));
  }
  return a;
}
}  // namespace

json Server::do_track(Job& job) {
  const TrackRequest& r = job.req.track;
  const std::string& id = job.req.id;
  if (!model_) throw ProtocolError(ErrorCode::NoModel, "no model is loaded; send a 'load' request first");
  if (!model_->has_track_head())
    throw ProtocolError(ErrorCode::Unsupported, "track: the loaded model has no track head (its config has no 'track' section)");
  if (!track_cache_ || track_cache_->run != r.run)
    throw ProtocolError(ErrorCode::NoTrackCache,
                        "track: run '" + r.run + "' has no track cache (" +
                            (track_cache_ ? "the cache holds run '" + track_cache_->run + "'"
                                          : std::string("no run is cached")) +
                            "); re-run infer with \"track_cache\": true");
  const auto t0 = Clock::now();
  const TrackCache& cache = *track_cache_;
  const int64_t H = cache.features->height, W = cache.features->width;
  Tensor q;
  try {
    if (r.grid) {
      q = query_grid(r.grid, H, W);
    } else {
      q = Tensor::uninitialized({static_cast<int64_t>(r.points.size() / 2), 2});
      std::copy(r.points.begin(), r.points.end(), q.data());
      if (r.query_space == "original") {
        if (cache.frames.empty())
          throw std::runtime_error("'query_space' \"original\" needs a run on images (this run's input was a tensor)");
        q = runtime::queries_from_original(q, cache.frames[0], "track");
      }
    }
    check_query_points(q, H, W, "track");
  } catch (const std::exception& e) {
    throw ProtocolError(ErrorCode::BadRequest, e.what());
  }
  set_thread_count(applied_options_.threads);
  RunContext ctx;
  ctx.cancel = job.cancel.get();
  ctx.on_progress = [this, &id, t0](const ProgressEvent& ev) {
    emit(make_progress(id, ev.stage, ev.step, ev.total, ms_since(t0)));
  };
  const auto t_track = Clock::now();
  TrackOutputs t = model_->track(*cache.features, q, ctx);
  const double track_ms = ms_since(t_track);
  Tensor original;
  if (!cache.frames.empty()) original = preprocess::tracks_to_original(t.track, cache.frames);
  if (!r.output.empty()) {
    std::vector<io::TensorToWrite> entries = {io::f32_entry("track", t.track), io::f32_entry("vis", t.vis),
                                              io::f32_entry("query_points", q)};
    if (!t.conf.empty()) entries.push_back(io::f32_entry("conf", t.conf));
    if (!original.empty()) entries.push_back(io::f32_entry("track_original", original));
    std::map<std::string, std::string> meta = cache.meta;
    meta["format"] = "vggt-engine-tracks/1";
    meta["engine_version"] = engine_version();
    meta["run"] = r.run;
    try {
      io::write_safetensors(r.output, entries, meta);
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      throw ProtocolError(ErrorCode::IoError, with_path(r.output, e.what()));
    }
  }
  json res = make_result(id, "track");
  res["run"] = r.run;
  res["frames"] = t.track.dim(0);
  res["points"] = t.track.dim(1);
  res["iterations"] = static_cast<int64_t>(t.iterations.size());
  json qp = json::array();
  for (int64_t i = 0; i < q.dim(0); ++i) qp.push_back({q[2 * i], q[2 * i + 1]});
  res["query_points"] = qp;
  res["track"] = nested(t.track);
  res["vis"] = nested(t.vis);
  res["conf"] = t.conf.empty() ? json(nullptr) : nested(t.conf);
  res["track_original"] = original.empty() ? json(nullptr) : nested(original);
  res["timings"] = json::array({{{"stage", "tracker"}, {"ms", track_ms}}});
  res["ms"] = ms_since(t0);
  return res;
}

json Server::do_release_track_cache(Job& job) {
  const std::string run = track_cache_ ? track_cache_->run : std::string();
  const size_t bytes = drop_track_cache();
  json res = make_result(job.req.id, "release_track_cache");
  res["released"] = !run.empty();
  res["run"] = run.empty() ? json(nullptr) : json(run);
  res["bytes"] = bytes;
  return res;
}

json Server::do_unload(Job& job) {
  const bool had = model_ != nullptr;
  drop_track_cache();
  model_.reset();
  if (opts_.sp) send_command(*opts_.sp, {{"cmd", "unload"}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    model_summary_ = nullptr;
  }
  json res = make_result(job.req.id, "unload");
  res["had_model"] = had;
  res["memory"] = memory_json(false);
  return res;
}

}  // namespace vggt::server

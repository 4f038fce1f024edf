// The serve loop's state machine: requests come in on the reader thread, model work runs on
// one worker thread in FIFO order, and events go out through a LineWriter.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "model/track_head.h"
#include "model/vggt_model.h"
#include "preprocess/preprocess.h"
#include "server/framing.h"
#include "server/protocol.h"

namespace vggt {
class SequenceParallel;
}

namespace vggt::server {

struct ServerOptions {
  int threads = 0;  // default EngineOptions::threads for loads that do not set it (0 = all cores)
  size_t max_line_bytes = 16u << 20;
  nlohmann::json parallel;  // null, or {mode, degree, rank, size} in an MPI launch
  // Rank 0 of a sequence-parallel launch: model jobs are mirrored on the other ranks
  // (server/parallel_serve.h) and inference is split across them.
  const SequenceParallel* sp = nullptr;
};

class Server {
 public:
  Server(LineWriter& out, ServerOptions opts = {});
  ~Server();  // cancels and joins like shutdown()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void send_hello();
  // One framed request. Returns false once a shutdown request has been completed.
  bool handle(const LineDecoder::Line& line);
  // Cancels the running job, fails queued ones, joins the worker; replies to `request_id`
  // when one is given (stdin EOF shuts down without a reply). Idempotent.
  void shutdown(const std::string& request_id = {});
  // Tests: blocks until the queue is empty and no job runs.
  void wait_idle();

 private:
  struct Job {
    Request req;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  };

  void emit(const nlohmann::json& event);
  void fail(const std::string& id, ErrorCode code, const std::string& message);
  void worker_loop();
  // Each returns the job's terminal event (result or error); the worker emits it.
  nlohmann::json run_job(Job& job);
  nlohmann::json do_load(Job& job);
  nlohmann::json do_infer(Job& job);
  nlohmann::json do_unload(Job& job);
  nlohmann::json do_track(Job& job);
  nlohmann::json do_release_track_cache(Job& job);
  // Frees the track cache (worker thread only); returns the bytes it held.
  size_t drop_track_cache();
  void handle_cancel(const Request& req);
  nlohmann::json status_result(const std::string& id);

  LineWriter& out_;
  ServerOptions opts_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  std::mutex mu_;  // guards everything below except the model, which only the worker touches
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::string running_id_;
  std::shared_ptr<std::atomic<bool>> running_cancel_;
  std::set<std::string> active_ids_;  // queued or running, to reject duplicate ids
  nlohmann::json model_summary_;      // null when no model is loaded
  uint64_t jobs_done_ = 0;
  bool stopping_ = false;
  std::thread worker_;

  std::unique_ptr<VggtModel> model_;
  EngineOptions model_options_;    // the load's options
  EngineOptions applied_options_;  // what the model currently runs with (a job may override)
  bool warned_peak_scope_ = false;

  // The track cache of the last infer that asked for one (worker thread only; its summary for
  // status is track_cache_summary_, under mu_).
  struct TrackCache {
    std::string run;
    std::shared_ptr<const TrackFeatures> features;
    std::vector<preprocess::FrameInfo> frames;  // empty for tensor inputs
    std::map<std::string, std::string> meta;    // the run's output metadata
  };
  std::unique_ptr<TrackCache> track_cache_;
  nlohmann::json track_cache_summary_;  // null or {run, bytes}
};

}  // namespace vggt::server

#include "server/parallel_serve.h"

#include <omp.h>

#include <atomic>
#include <cstdio>

#include "model/config.h"
#include "parallel/mpi_comm.h"
#include "runtime/options_json.h"

namespace vggt::server {

using nlohmann::json;

void send_command(const SequenceParallel& sp, const json& cmd) {
  std::string s = cmd.dump();
  sp.comm().bcast_idle(s, 0);
}

void send_images(const SequenceParallel& sp, Tensor& images) {
  int64_t shape[4] = {0, 0, 0, 0};
  if (sp.rank() == 0)
    for (int i = 0; i < 4; ++i) shape[i] = images.dim(i);
  sp.comm().bcast(shape, sizeof shape, 0);
  if (sp.rank() != 0) images = Tensor::uninitialized({shape[0], shape[1], shape[2], shape[3]});
  sp.comm().bcast(images.data(), images.numel() * sizeof(float), 0);
}

namespace {

void set_threads(int threads) { omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs()); }

}  // namespace

int run_follower(const SequenceParallel& sp) {
  const parallel::Comm& comm = sp.comm();
  std::unique_ptr<VggtModel> model;
  EngineOptions applied;
  const std::atomic<bool> never(false);  // rank 0 holds the cancel flag; sp.any() shares it
  for (;;) {
    std::string text;
    comm.bcast_idle(text, 0);
    const json cmd = json::parse(text);
    const std::string c = cmd.at("cmd").get<std::string>();
    if (c == "exit") return 0;
    if (c == "unload") {
      model.reset();
    } else if (c == "load") {
      model.reset();
      std::string err;
      try {
        const EngineOptions opts = runtime::options_from_json(cmd.at("options"));
        set_threads(opts.threads);
        const ModelConfig cfg = ModelConfig::resolve(cmd.at("config").get<std::string>());
        model = cmd.at("random").get<bool>()
                    ? VggtModel::random(cfg, cmd.at("seed").get<uint64_t>(), opts)
                    : VggtModel::load(cmd.at("weights").get<std::string>(), cfg, opts);
        applied = opts;
      } catch (const std::exception& e) {
        err = e.what();
      }
      if (!parallel::agree_error(comm, err).empty()) model.reset();  // rank 0 reports it
    } else if (c == "infer") {
      Tensor images;
      send_images(sp, images);
      const EngineOptions opts = runtime::options_from_json(cmd.at("options"));
      RunContext ctx;
      ctx.parallel = &sp;
      ctx.cancel = &never;
      ctx.keep_debug = cmd.value("keep_debug", false);
      try {
        if (!model) throw std::runtime_error("no model loaded on this rank");
        if (opts != applied) {
          model->set_options(opts);
          applied = opts;
        }
        set_threads(opts.threads);
        model->forward(images, ctx);
      } catch (const CancelledError&) {
        // Every rank stopped at the same layer; wait for the next command.
      } catch (const std::exception& e) {
        // The others may be waiting in a collective this rank will never join.
        std::fprintf(stderr, "vggt-engine serve: rank %d failed during a parallel run: %s; stopping every rank\n",
                     sp.rank(), e.what());
        std::fflush(stderr);
        comm.abort(1);
      }
    } else {
      std::fprintf(stderr, "vggt-engine serve: rank %d: unknown command '%s'\n", sp.rank(), c.c_str());
      comm.abort(1);
    }
  }
}

}  // namespace vggt::server

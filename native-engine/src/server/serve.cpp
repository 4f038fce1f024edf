#include "server/serve.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "core/limits.h"
#include "model/sequence_parallel.h"
#include "parallel/mpi_comm.h"
#include "server/engine_server.h"
#include "server/parallel_serve.h"

namespace {

const char* kUsage =
    "usage: vggt-engine serve [--threads N] [--max-request-bytes N]\n"
    "                         [--parallel ulysses|ring --degree N]\n"
    "Speaks newline-delimited JSON: requests on stdin, events on stdout, logs on stderr.\n"
    "See docs/ENGINE-PROTOCOL.md.\n";

bool parse_int(const char* s, long long lo, long long hi, long long* out) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s, &end, 10);
  if (errno || !end || *end || end == s || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

int serve_main(int argc, char** argv) {
  using namespace vggt::server;
  ServerOptions opts;
  std::string parallel_mode;
  long long degree = 0;
  int i = 1;
  if (i < argc && std::string(argv[i]) == "serve") ++i;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "vggt-engine serve: %s needs a value\n%s", what, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    long long v = 0;
    if (a == "--threads") {
      if (!parse_int(value("--threads"), 0, vggt::limits::kMaxThreads, &v)) {
        std::fprintf(stderr, "vggt-engine serve: --threads must be between 0 (all cores) and %d\n", vggt::limits::kMaxThreads);
        return 2;
      }
      opts.threads = static_cast<int>(v);
    } else if (a == "--max-request-bytes") {
      if (!parse_int(value("--max-request-bytes"), 1024, 1LL << 32, &v)) {
        std::fprintf(stderr, "vggt-engine serve: --max-request-bytes must be an integer in [1024, 2^32]\n");
        return 2;
      }
      opts.max_line_bytes = static_cast<size_t>(v);
    } else if (a == "--parallel") {
      parallel_mode = value("--parallel");
    } else if (a == "--degree") {
      if (!parse_int(value("--degree"), 1, 1 << 20, &degree)) {
        std::fprintf(stderr, "vggt-engine serve: --degree must be a positive integer\n");
        return 2;
      }
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stderr);
      return 0;
    } else {
      std::fprintf(stderr, "vggt-engine serve: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  // Sequence-parallel launch (mpirun): MPI only then, never for a plain single process.
  std::unique_ptr<vggt::SequenceParallel> sp;
  struct Finalize {
    bool on = false;
    ~Finalize() {
      if (on) vggt::parallel::mpi_finalize();
    }
  } finalize;
  if (!parallel_mode.empty() || degree || (vggt::parallel::launched_by_mpirun() && vggt::parallel::mpi_compiled())) {
    try {
      vggt::parallel::mpi_init();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vggt-engine serve: %s\n", e.what());
      return 2;
    }
    finalize.on = true;
    const vggt::parallel::Comm comm = vggt::parallel::Comm::world();
    std::string err;  // the same on every rank: computed from the same arguments
    try {
      if (parallel_mode.empty() && comm.size() > 1)
        throw std::runtime_error("running under mpirun with " + std::to_string(comm.size()) +
                                 " ranks needs --parallel ulysses|ring");
      if (!parallel_mode.empty()) {
        const vggt::SpMode mode = vggt::parse_sp_mode(parallel_mode);
        if (degree && degree != comm.size())
          throw std::runtime_error("--degree " + std::to_string(degree) + " must equal the number of MPI ranks (" +
                                   std::to_string(comm.size()) + "); start it with mpirun -np " + std::to_string(degree));
        sp = std::make_unique<vggt::SequenceParallel>(mode, comm);
        opts.parallel = {{"mode", vggt::sp_mode_name(mode)}, {"degree", comm.size()}, {"rank", comm.rank()},
                         {"size", comm.size()}};
        opts.sp = sp.get();
      }
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (!err.empty()) {
      if (comm.rank() == 0) std::fprintf(stderr, "vggt-engine serve: %s\n%s", err.c_str(), kUsage);
      return 2;
    }
  }

  // stdout belongs to the protocol: keep a private descriptor for it and point fd 1 at stderr,
  // so a stray printf from any library can never corrupt a frame.
  std::fflush(stdout);
  std::cout.flush();
  int proto_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (proto_fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::fprintf(stderr, "vggt-engine serve: cannot set up stdout (%s)\n", std::strerror(errno));
    return 1;
  }
  // A vanished client shows up as a failed write (EPIPE), not as a fatal signal.
  ::signal(SIGPIPE, SIG_IGN);

  if (sp && sp->rank() != 0) return run_follower(*sp);  // stdin goes to rank 0 only

  LineWriter out(proto_fd);
  LineDecoder decoder(opts.max_line_bytes);
  Server server(out, opts);
  server.send_hello();

  // The followers leave with rank 0 (after its worker is joined: one MPI thread at a time).
  auto release_followers = [&] {
    server.shutdown();
    if (sp) send_command(*sp, {{"cmd", "exit"}});
  };
  std::vector<LineDecoder::Line> lines;
  char buf[1 << 16];
  bool running = true;
  while (running && !out.broken()) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    lines.clear();
    if (n <= 0) {
      decoder.finish(lines);
      running = false;  // EOF (or a broken stdin): the parent is gone or done with us
    } else {
      decoder.feed(buf, static_cast<size_t>(n), lines);
    }
    for (const auto& l : lines) {
      if (!server.handle(l)) {  // shutdown request: already drained and answered
        release_followers();
        return 0;
      }
    }
  }
  release_followers();
  return 0;
}

// Link probe for sequence parallelism: ping-pong between ranks 0 and 1 (one-way latency and
// bandwidth by message size) and the engine's own all-to-all (Comm::alltoallv) at the bytes one
// Ulysses layer sends per rank. Median of R repeats after one warm-up; rank 0 prints.
#include "bench/mpi_link_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/mpi_comm.h"

namespace {

using Clock = std::chrono::steady_clock;
using vggt::parallel::Comm;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One-way seconds for n floats: half the round trip 0 -> 1 -> 0.
double pingpong(const Comm& comm, int64_t n, int repeats) {
  std::vector<float> buf(std::max<int64_t>(n, 1), 1.f);
  std::vector<double> t;
  for (int r = 0; r <= repeats; ++r) {
    comm.barrier();
    const auto t0 = Clock::now();
    if (comm.rank() <= 1) {
      vggt::parallel::Transfers x;
      if (comm.rank() == 0) {
        x.isend(buf.data(), n, 1, 7);
        x.wait();
        x.irecv(buf.data(), n, 1, 8);
        x.wait();
      } else {
        x.irecv(buf.data(), n, 0, 7);
        x.wait();
        x.isend(buf.data(), n, 0, 8);
        x.wait();
      }
    }
    if (r > 0) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / 2);
  }
  return median(t);
}

// Seconds per all-to-all where each rank sends `floats_out` floats in all, split evenly.
double alltoall(const Comm& comm, int64_t floats_out, int repeats) {
  const int n = comm.size();
  const int64_t each = floats_out / (n - 1);
  std::vector<int64_t> counts(n, each);
  counts[comm.rank()] = 0;
  const std::vector<int64_t> displs = vggt::parallel::displacements(counts);
  std::vector<float> send(each * n, 1.f), recv(each * n);
  std::vector<double> t;
  for (int r = 0; r <= repeats; ++r) {
    comm.barrier();
    const auto t0 = Clock::now();
    comm.alltoallv(send.data(), counts, displs, recv.data(), counts, displs);
    if (r > 0) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return median(t);
}

}  // namespace

int mpi_link_bench_main(int argc, char** argv) {
  double mb = 5.628;  // tiny golden model, 8 frames 518x518, Ulysses at 2 ranks: MB per rank per layer
  int repeats = 9;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mb" && i + 1 < argc) mb = std::stod(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::stoi(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: mpirun -np N vggt-engine bench-mpi [--mb M] [--repeats R]\n"
                   "  ping-pong rank 0 <-> 1 by size, and an all-to-all sending M MB per rank (default 5.628)\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (mb <= 0 || mb > 4096 || repeats < 1 || repeats > 1000) throw std::runtime_error("bench-mpi: --mb in (0, 4096], --repeats in [1, 1000]");
  vggt::parallel::mpi_init();
  const Comm comm = Comm::world();
  const std::vector<std::string> hosts = vggt::parallel::host_names(comm);
  if (comm.size() < 2) {
    vggt::parallel::mpi_finalize();
    throw std::runtime_error("bench-mpi needs at least 2 ranks (mpirun -np 2 ...)");
  }
  char b[96];
  std::snprintf(b, sizeof b, "ping-pong one-way: 8 B %.1f us", pingpong(comm, 2, repeats) * 1e6);
  std::string line = b;
  for (int64_t bytes : {int64_t(1) << 20, int64_t(16) << 20}) {
    const double s = pingpong(comm, bytes / 4, repeats);
    std::snprintf(b, sizeof b, ", %lld MiB %.3f GB/s", static_cast<long long>(bytes >> 20), bytes / s / 1e9);
    line += b;
  }
  const int64_t floats = static_cast<int64_t>(mb * 1e6 / 4);
  const double a2a = alltoall(comm, floats, repeats);
  if (comm.rank() == 0) {
    std::string hl;
    for (const std::string& h : hosts) hl += (hl.empty() ? "" : ", ") + h;
    std::printf("bench-mpi: %d ranks on hosts %s\n%s\nalltoallv %.3f MB per rank: %.2f ms, %.3f GB/s per rank\n",
                comm.size(), hl.c_str(), line.c_str(), floats * 4 / 1e6, a2a * 1e3, floats * 4 / a2a / 1e9);
  }
  vggt::parallel::mpi_finalize();
  return 0;
}

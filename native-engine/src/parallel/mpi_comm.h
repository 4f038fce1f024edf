// Thin wrapper over the MPI calls sequence parallelism needs (MPI_COMM_WORLD only).
// Without MPI (not compiled in, or never initialised) it behaves as a single rank, so the
// single-process engine never needs an MPI runtime.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vggt::parallel {

// True when the engine was built with MPI.
bool mpi_compiled();
// True when this process was started by mpirun/mpiexec (Open MPI, PMI or PMIx environment).
bool launched_by_mpirun();

// Process-wide MPI lifetime. init() is idempotent (MPI_THREAD_SERIALIZED: one thread at a time
// calls MPI — the serve worker on rank 0, the main thread elsewhere). finalize() at exit.
void mpi_init();
void mpi_finalize();
bool mpi_active();  // initialised and not finalised

// Outstanding non-blocking transfers.
class Transfers {
 public:
  Transfers();
  ~Transfers();
  Transfers(const Transfers&) = delete;
  Transfers& operator=(const Transfers&) = delete;
  void isend(const float* data, int64_t n, int dest, int tag);
  void irecv(float* data, int64_t n, int src, int tag);
  bool test();  // drives progress; true once all are complete
  void wait();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// MPI_COMM_WORLD (rank 0 of 1 when MPI is not active). Counts are element counts; each call
// checks that they fit MPI's int.
class Comm {
 public:
  static Comm world();
  int rank() const { return rank_; }
  int size() const { return size_; }

  void barrier() const;
  void bcast(void* data, size_t bytes, int root) const;  // any size (sent in pieces)
  void bcast(std::string& s, int root) const;
  // Same, but waits by polling with short sleeps: idle serve followers must not spin a core.
  void bcast_idle(std::string& s, int root) const;
  std::vector<int64_t> allgather(int64_t v) const;
  int64_t allreduce_max(int64_t v) const;
  // recv holds sum(counts) floats; rank i's part lands at the prefix sum of counts.
  void allgatherv(const float* send, int64_t n, float* recv, const std::vector<int64_t>& counts) const;
  void gatherv(const float* send, int64_t n, float* recv, const std::vector<int64_t>& counts, int root) const;
  void alltoallv(const float* send, const std::vector<int64_t>& send_counts, const std::vector<int64_t>& send_displs,
                 float* recv, const std::vector<int64_t>& recv_counts, const std::vector<int64_t>& recv_displs) const;
  // Ends every rank of the launch (an error one rank cannot share with the others safely).
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0, size_ = 1;
};

// Collective: every rank passes its own error ("" = none); all get the message of the lowest
// failing rank (prefixed "rank k: " unless k = 0), or "" when none failed.
std::string agree_error(const Comm& comm, const std::string& mine);

// Collective: every rank's host name (MPI_Get_processor_name), indexed by rank; messages use them
// to say where a rank ran.
std::vector<std::string> host_names(const Comm& comm);

// Prefix sums: displs[i] = counts[0] + ... + counts[i-1].
std::vector<int64_t> displacements(const std::vector<int64_t>& counts);

}  // namespace vggt::parallel

namespace vggt::parallel {

// Communication accounting for one scheme over a run (docs/PERFORMANCE.md uses these).
struct TransferStats {
  int64_t calls = 0;          // global-attention layers
  double bytes_sent = 0;      // by this rank, payload only
  double comm_ms = 0;         // blocked in MPI (collectives, or waiting for a ring step)
  double compute_ms = 0;      // attention arithmetic
  double pack_ms = 0;         // copies into/out of contiguous send/receive buffers
};

}  // namespace vggt::parallel

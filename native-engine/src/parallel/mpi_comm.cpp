#include "parallel/mpi_comm.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <unistd.h>

#ifdef VGGT_WITH_MPI
#include <mpi.h>
#endif

namespace vggt::parallel {

namespace {

int checked_int(int64_t n, const char* what) {
  if (n < 0 || n > INT_MAX)
    throw std::runtime_error(std::string("MPI ") + what + ": count " + std::to_string(n) +
                             " does not fit an MPI int; use more ranks or fewer frames");
  return static_cast<int>(n);
}

std::vector<int> to_int(const std::vector<int64_t>& v, const char* what) {
  std::vector<int> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = checked_int(v[i], what);
  return r;
}

#ifdef VGGT_WITH_MPI
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string(what) + " failed: " + std::string(msg, len));
}
#endif

}  // namespace

bool mpi_compiled() {
#ifdef VGGT_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

bool mpi_active() {
#ifdef VGGT_WITH_MPI
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
#else
  return false;
#endif
}

void mpi_init() {
#ifdef VGGT_WITH_MPI
  int init = 0;
  MPI_Initialized(&init);
  if (init) return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  // Errors come back as codes (turned into exceptions) instead of aborting the launch.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_SERIALIZED)
    throw std::runtime_error("the MPI library does not support MPI_THREAD_SERIALIZED");
#else
  throw std::runtime_error("this vggt-engine build has no MPI support (rebuild with libopenmpi-dev installed)");
#endif
}

void mpi_finalize() {
#ifdef VGGT_WITH_MPI
  if (mpi_active()) MPI_Finalize();
#endif
}

Comm Comm::world() {
  Comm c;
#ifdef VGGT_WITH_MPI
  if (mpi_active()) {
    MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &c.size_);
  }
#endif
  return c;
}

std::string agree_error(const Comm& comm, const std::string& mine) {
  const std::vector<int64_t> failed = comm.allgather(mine.empty() ? 0 : 1);
  for (int r = 0; r < comm.size(); ++r)
    if (failed[r]) {
      std::string msg = mine;
      comm.bcast(msg, r);
      return r == 0 ? msg : "rank " + std::to_string(r) + ": " + msg;
    }
  return {};
}

std::vector<std::string> host_names(const Comm& comm) {
  char mine[256] = {};
#ifdef VGGT_WITH_MPI
  static_assert(MPI_MAX_PROCESSOR_NAME <= sizeof mine, "processor name buffer");
  int len = 0;
  if (mpi_active()) MPI_Get_processor_name(mine, &len);
  else gethostname(mine, sizeof mine - 1);
#else
  gethostname(mine, sizeof mine - 1);
#endif
  std::vector<std::string> names;
  for (int r = 0; r < comm.size(); ++r) {
    std::string s = mine;
    comm.bcast(s, r);
    names.push_back(s);
  }
  return names;
}

std::vector<int64_t> displacements(const std::vector<int64_t>& counts) {
  std::vector<int64_t> d(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) d[i] = d[i - 1] + counts[i - 1];
  return d;
}

#ifdef VGGT_WITH_MPI

void Comm::barrier() const {
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void Comm::bcast(void* data, size_t bytes, int root) const {
  if (size_ == 1) return;
  char* p = static_cast<char*>(data);
  const size_t piece = size_t(1) << 30;
  for (size_t off = 0; off < bytes; off += piece) {
    const int n = static_cast<int>(std::min(piece, bytes - off));
    check(MPI_Bcast(p + off, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

void Comm::bcast(std::string& s, int root) const {
  if (size_ == 1) return;
  int64_t n = static_cast<int64_t>(s.size());
  bcast(&n, sizeof n, root);
  s.resize(static_cast<size_t>(n));
  bcast(s.data(), s.size(), root);
}

void Comm::bcast_idle(std::string& s, int root) const {
  if (size_ == 1) return;
  int64_t n = static_cast<int64_t>(s.size());
  MPI_Request req;
  check(MPI_Ibcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD, &req), "MPI_Ibcast");
  for (;;) {
    int done = 0;
    check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) break;
    usleep(2000);
  }
  s.resize(static_cast<size_t>(n));
  bcast(s.data(), s.size(), root);
}

std::vector<int64_t> Comm::allgather(int64_t v) const {
  std::vector<int64_t> r(size_, v);
  if (size_ > 1) check(MPI_Allgather(&v, 1, MPI_INT64_T, r.data(), 1, MPI_INT64_T, MPI_COMM_WORLD), "MPI_Allgather");
  return r;
}

int64_t Comm::allreduce_max(int64_t v) const {
  int64_t r = v;
  if (size_ > 1) check(MPI_Allreduce(&v, &r, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return r;
}

void Comm::allgatherv(const float* send, int64_t n, float* recv, const std::vector<int64_t>& counts) const {
  const auto c = to_int(counts, "allgatherv"), d = to_int(displacements(counts), "allgatherv");
  if (size_ == 1) {
    std::memcpy(recv, send, n * sizeof(float));
    return;
  }
  check(MPI_Allgatherv(send, checked_int(n, "allgatherv"), MPI_FLOAT, recv, c.data(), d.data(), MPI_FLOAT,
                       MPI_COMM_WORLD),
        "MPI_Allgatherv");
}

void Comm::gatherv(const float* send, int64_t n, float* recv, const std::vector<int64_t>& counts, int root) const {
  const auto c = to_int(counts, "gatherv"), d = to_int(displacements(counts), "gatherv");
  if (size_ == 1) {
    std::memcpy(recv, send, n * sizeof(float));
    return;
  }
  check(MPI_Gatherv(send, checked_int(n, "gatherv"), MPI_FLOAT, recv, c.data(), d.data(), MPI_FLOAT, root,
                    MPI_COMM_WORLD),
        "MPI_Gatherv");
}

void Comm::alltoallv(const float* send, const std::vector<int64_t>& sc, const std::vector<int64_t>& sd, float* recv,
                     const std::vector<int64_t>& rc, const std::vector<int64_t>& rd) const {
  const auto a = to_int(sc, "alltoallv"), b = to_int(sd, "alltoallv"), c = to_int(rc, "alltoallv"),
             d = to_int(rd, "alltoallv");
  if (size_ == 1) {
    std::memcpy(recv + rd[0], send + sd[0], sc[0] * sizeof(float));
    return;
  }
  check(MPI_Alltoallv(send, a.data(), b.data(), MPI_FLOAT, recv, c.data(), d.data(), MPI_FLOAT, MPI_COMM_WORLD),
        "MPI_Alltoallv");
}

void Comm::abort(int code) const {
  if (mpi_active()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

struct Transfers::Impl {
  std::vector<MPI_Request> reqs;
};

Transfers::Transfers() : impl_(std::make_unique<Impl>()) {}
Transfers::~Transfers() {
  // Never leave MPI writing into freed buffers.
  if (!impl_->reqs.empty()) MPI_Waitall(static_cast<int>(impl_->reqs.size()), impl_->reqs.data(), MPI_STATUSES_IGNORE);
}

void Transfers::isend(const float* data, int64_t n, int dest, int tag) {
  MPI_Request r;
  check(MPI_Isend(data, checked_int(n, "isend"), MPI_FLOAT, dest, tag, MPI_COMM_WORLD, &r), "MPI_Isend");
  impl_->reqs.push_back(r);
}

void Transfers::irecv(float* data, int64_t n, int src, int tag) {
  MPI_Request r;
  check(MPI_Irecv(data, checked_int(n, "irecv"), MPI_FLOAT, src, tag, MPI_COMM_WORLD, &r), "MPI_Irecv");
  impl_->reqs.push_back(r);
}

bool Transfers::test() {
  if (impl_->reqs.empty()) return true;
  int done = 0;
  check(MPI_Testall(static_cast<int>(impl_->reqs.size()), impl_->reqs.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
  if (done) impl_->reqs.clear();
  return done != 0;
}

void Transfers::wait() {
  if (impl_->reqs.empty()) return;
  check(MPI_Waitall(static_cast<int>(impl_->reqs.size()), impl_->reqs.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  impl_->reqs.clear();
}

#else  // single rank without MPI

void Comm::barrier() const {}
void Comm::bcast(void*, size_t, int) const {}
void Comm::bcast(std::string&, int) const {}
void Comm::bcast_idle(std::string&, int) const {}
std::vector<int64_t> Comm::allgather(int64_t v) const { return {v}; }
int64_t Comm::allreduce_max(int64_t v) const { return v; }
void Comm::allgatherv(const float* send, int64_t n, float* recv, const std::vector<int64_t>&) const {
  std::memcpy(recv, send, n * sizeof(float));
}
void Comm::gatherv(const float* send, int64_t n, float* recv, const std::vector<int64_t>&, int) const {
  std::memcpy(recv, send, n * sizeof(float));
}
void Comm::alltoallv(const float* send, const std::vector<int64_t>& sc, const std::vector<int64_t>& sd, float* recv,
                     const std::vector<int64_t>&, const std::vector<int64_t>& rd) const {
  std::memcpy(recv + rd[0], send + sd[0], sc[0] * sizeof(float));
}
void Comm::abort(int code) const { std::_Exit(code); }

struct Transfers::Impl {};
Transfers::Transfers() : impl_(std::make_unique<Impl>()) {}
Transfers::~Transfers() = default;
void Transfers::isend(const float*, int64_t, int, int) {
  throw std::runtime_error("point-to-point transfer without MPI");
}
void Transfers::irecv(float*, int64_t, int, int) { throw std::runtime_error("point-to-point transfer without MPI"); }
bool Transfers::test() { return true; }
void Transfers::wait() {}

#endif

}  // namespace vggt::parallel

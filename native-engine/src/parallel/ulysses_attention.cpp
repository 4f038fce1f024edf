#include "parallel/ulysses_attention.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/attention.h"
#include "ops/flash_attention.h"

namespace vggt::parallel {

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void check_ulysses_heads(int64_t heads, int ranks) {
  if (ranks < 1 || heads % ranks != 0)
    throw std::runtime_error("Ulysses sequence parallelism splits the " + std::to_string(heads) +
                             " attention heads across ranks, so the head count must be divisible by the rank count " +
                             "(got " + std::to_string(ranks) + " ranks); use a rank count dividing " +
                             std::to_string(heads) + ", or --sp ring, which has no such limit");
}

void ulysses_attention(const Comm& comm, const float* q, const float* k, const float* v, float* out, int64_t B,
                       int64_t H, int64_t N_local, int64_t D, float scale, ops::AttentionKernel kernel,
                       TransferStats* stats) {
  ulysses_attention(
      comm, q, k, v, out, B, H, N_local, D,
      [&](const float* qf, const float* kf, const float* vf, float* o, int64_t b, int64_t hr, int64_t n) {
        ops::attention(kernel, qf, kf, vf, o, b, hr, n, D, scale);
      },
      stats);
}

void ulysses_attention(const Comm& comm, const float* q, const float* k, const float* v, float* out, int64_t B,
                       int64_t H, int64_t N_local, int64_t D, const LocalAttention& local, TransferStats* stats) {
  const int n = comm.size();
  check_ulysses_heads(H, n);
  const int64_t Hr = H / n;
  double t = now_ms();
  const std::vector<int64_t> counts = comm.allgather(N_local);
  double comm_ms = now_ms() - t, pack_ms = 0;
  const std::vector<int64_t> offs = displacements(counts);
  const int64_t N = offs.back() + counts.back();

  // Forward all-to-all: to rank j go q, k, v of my tokens for j's heads, [3][B][Hr][N_local][D].
  t = now_ms();
  const float* src[3] = {q, k, v};
  std::vector<int64_t> sc(n), rc(n);
  for (int j = 0; j < n; ++j) {
    sc[j] = 3 * B * Hr * N_local * D;
    rc[j] = 3 * B * Hr * counts[j] * D;
  }
  const std::vector<int64_t> sd = displacements(sc), rd = displacements(rc);
  std::vector<float> send(sd.back() + sc.back()), recv(rd.back() + rc.back());
  for (int j = 0; j < n; ++j) {
    float* dst = send.data() + sd[j];
    for (int c = 0; c < 3; ++c)
      for (int64_t b = 0; b < B; ++b) {
        const int64_t len = Hr * N_local * D;
        std::copy_n(src[c] + (b * H + j * Hr) * N_local * D, len, dst);
        dst += len;
      }
  }
  pack_ms += now_ms() - t;
  t = now_ms();
  comm.alltoallv(send.data(), sc, sd, recv.data(), rc, rd);
  comm_ms += now_ms() - t;

  // All tokens, my heads: [B, Hr, N, D] each.
  t = now_ms();
  std::vector<float> full(3 * B * Hr * N * D);
  float* qf = full.data();
  float* kf = qf + B * Hr * N * D;
  float* vf = kf + B * Hr * N * D;
  float* dstc[3] = {qf, kf, vf};
  for (int i = 0; i < n; ++i) {
    const float* p = recv.data() + rd[i];
    for (int c = 0; c < 3; ++c)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hr; ++h) {
          std::copy_n(p, counts[i] * D, dstc[c] + ((b * Hr + h) * N + offs[i]) * D);
          p += counts[i] * D;
        }
  }
  send = std::vector<float>();
  recv = std::vector<float>();
  pack_ms += now_ms() - t;

  t = now_ms();
  std::vector<float> o(B * N * Hr * D);  // [B, N, Hr, D]
  local(qf, kf, vf, o.data(), B, Hr, N);
  const double compute_ms = now_ms() - t;
  full = std::vector<float>();

  // Backward all-to-all: rank i gets its own tokens for my heads, [B][N_i][Hr][D].
  t = now_ms();
  for (int j = 0; j < n; ++j) {
    sc[j] = B * counts[j] * Hr * D;
    rc[j] = B * N_local * Hr * D;
  }
  const std::vector<int64_t> sd2 = displacements(sc), rd2 = displacements(rc);
  send.resize(sd2.back() + sc.back());
  recv.resize(rd2.back() + rc.back());
  for (int i = 0; i < n; ++i)
    for (int64_t b = 0; b < B; ++b)
      std::copy_n(o.data() + (b * N + offs[i]) * Hr * D, counts[i] * Hr * D,
                  send.data() + sd2[i] + b * counts[i] * Hr * D);
  pack_ms += now_ms() - t;
  t = now_ms();
  comm.alltoallv(send.data(), sc, sd2, recv.data(), rc, rd2);
  comm_ms += now_ms() - t;
  t = now_ms();
  for (int j = 0; j < n; ++j)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < N_local; ++i)
        std::copy_n(recv.data() + rd2[j] + (b * N_local + i) * Hr * D, Hr * D,
                    out + ((b * N_local + i) * H + j * Hr) * D);
  pack_ms += now_ms() - t;

  if (stats) {
    const int r = comm.rank();
    double sent = 0;
    for (int j = 0; j < n; ++j)
      if (j != r) sent += static_cast<double>(3 * B * Hr * N_local * D + B * counts[j] * Hr * D);
    stats->calls += 1;
    stats->bytes_sent += sent * sizeof(float);
    stats->comm_ms += comm_ms;
    stats->compute_ms += compute_ms;
    stats->pack_ms += pack_ms;
  }
}

}  // namespace vggt::parallel

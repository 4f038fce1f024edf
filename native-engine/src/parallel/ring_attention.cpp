#include "parallel/ring_attention.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu_features.h"
#include "core/tensor.h"
#include "ops/flash_attention.h"
#include "ops/attention.h"
#include "ops/gemm.h"

namespace vggt::parallel {

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void lse_merge(float* o_acc, float* lse_acc, const float* o_b, const float* lse_b, int64_t rows, int64_t D) {
  for (int64_t r = 0; r < rows; ++r) {
    const float la = lse_acc[r], lb = lse_b[r];
    if (lb == -std::numeric_limits<float>::infinity()) continue;  // empty block: nothing to add
    const float m = std::max(la, lb);
    const float wa = std::exp(la - m), wb = std::exp(lb - m);  // exponents <= 0; exp(-inf) = 0
    const float inv = 1.f / (wa + wb);
    float* o = o_acc + r * D;
    const float* ob = o_b + r * D;
    const float ca = wa * inv, cb = wb * inv;
    for (int64_t d = 0; d < D; ++d) o[d] = ca * o[d] + cb * ob[d];
    lse_acc[r] = m + std::log(wa + wb);
  }
}

void attend_block_merge(const float* q, int64_t Nq, const float* k, const float* v, int64_t Nk, int64_t BH, int64_t D,
                        float scale, int64_t r0, int64_t r1, float* o_acc, float* lse_acc) {
  if (Nk == 0 || r1 <= r0) return;
  const int64_t chunk = 128;  // as attention_exact: the score block stays in cache-friendly sizes
  const int64_t nchunks = (r1 - r0 + chunk - 1) / chunk;
  const int64_t work = BH * nchunks;
  const bool vector_exp = isa_level() == IsaLevel::avx512;
#pragma omp parallel
  {
    Tensor scores = Tensor::uninitialized({chunk, Nk});  // 64-byte aligned for the GEMMs
    std::vector<float> ob(chunk * D), lb(chunk);
#pragma omp for schedule(dynamic)
    for (int64_t w = 0; w < work; ++w) {
      const int64_t bh = w / nchunks, q0 = r0 + (w % nchunks) * chunk, rows = std::min(chunk, r1 - q0);
      const float* qp = q + (bh * Nq + q0) * D;
      const float* kp = k + bh * Nk * D;
      const float* vp = v + bh * Nk * D;
      ops::gemm(rows, Nk, D, qp, D, kp, D, true, scores.data(), Nk, scale, 0.f);
      for (int64_t r = 0; r < rows; ++r) lb[r] = ops::softmax_row(scores.data() + r * Nk, Nk, vector_exp);
      ops::gemm(rows, D, Nk, scores.data(), Nk, vp, D, false, ob.data(), D, 1.f, 0.f);
      lse_merge(o_acc + (bh * Nq + q0) * D, lse_acc + bh * Nq + q0, ob.data(), lb.data(), rows, D);
    }
  }
}

void ring_attention(const Comm& comm, const float* q, const float* k, const float* v, float* out, int64_t B, int64_t H,
                    int64_t N_local, int64_t D, float scale, TransferStats* stats) {
  const int n = comm.size(), r = comm.rank();
  const int64_t BH = B * H;
  double t = now_ms();
  const std::vector<int64_t> counts = comm.allgather(N_local);
  double comm_ms = now_ms() - t, compute_ms = 0, pack_ms = 0, bytes = 0;
  const int64_t max_n = *std::max_element(counts.begin(), counts.end());

  // [k | v] of one rank's block, each [BH, M, D]: one message per ring step.
  t = now_ms();
  std::vector<float> cur(2 * BH * max_n * D), nxt(n > 1 ? 2 * BH * max_n * D : 0);
  std::copy(k, k + BH * N_local * D, cur.begin());
  std::copy(v, v + BH * N_local * D, cur.begin() + BH * N_local * D);
  std::vector<float> o_acc(BH * N_local * D, 0.f), lse(BH * N_local, -std::numeric_limits<float>::infinity());
  pack_ms += now_ms() - t;

  // Query rows in slabs: between slabs the master thread drives MPI progress, so the transfer
  // of the next block proceeds while this one is being used (shared-memory and TCP transports
  // only advance large messages inside MPI calls).
  const int64_t slabs = std::max<int64_t>(1, std::min<int64_t>(8, N_local / 128));
  for (int step = 0; step < n; ++step) {
    const int src = ((r - step) % n + n) % n;
    const int64_t M = counts[src];
    Transfers xfer;
    if (step + 1 < n) {
      const int next_src = ((r - step - 1) % n + n) % n;
      xfer.irecv(nxt.data(), 2 * BH * counts[next_src] * D, (r - 1 + n) % n, step);
      xfer.isend(cur.data(), 2 * BH * M * D, (r + 1) % n, step);
      bytes += 2.0 * BH * M * D * sizeof(float);
    }
    t = now_ms();
    for (int64_t sl = 0; sl < slabs; ++sl) {
      const int64_t a = N_local * sl / slabs, b = N_local * (sl + 1) / slabs;
      attend_block_merge(q, N_local, cur.data(), cur.data() + BH * M * D, M, BH, D, scale, a, b, o_acc.data(),
                         lse.data());
      xfer.test();
    }
    compute_ms += now_ms() - t;
    t = now_ms();
    xfer.wait();
    comm_ms += now_ms() - t;
    std::swap(cur, nxt);
  }

  t = now_ms();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < N_local; ++i)
      for (int64_t h = 0; h < H; ++h)
        std::copy_n(o_acc.data() + ((b * H + h) * N_local + i) * D, D, out + ((b * N_local + i) * H + h) * D);
  pack_ms += now_ms() - t;
  if (stats) {
    stats->calls += 1;
    stats->bytes_sent += bytes;
    stats->comm_ms += comm_ms;
    stats->compute_ms += compute_ms;
    stats->pack_ms += pack_ms;
  }
}

}  // namespace vggt::parallel

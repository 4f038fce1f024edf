// Ulysses attention: an all-to-all turns "my tokens, all heads" into "all tokens, my heads",
// every rank runs ordinary attention over the whole sequence for H / ranks heads, and a second
// all-to-all turns the result back. Needs the head count divisible by the rank count.
#pragma once
#include <cstdint>
#include <functional>

#include "ops/attention.h"
#include "parallel/mpi_comm.h"

namespace vggt::parallel {

// Throws a message naming both numbers (and the alternatives) unless heads % ranks == 0.
void check_ulysses_heads(int64_t heads, int ranks);

// q, k, v: this rank's tokens [B, H, N_local, D]; out: [B, N_local, H, D]. N_local may differ
// between ranks (MPI_Alltoallv with per-rank counts). kernel: what runs on the local heads.
void ulysses_attention(const Comm& comm, const float* q, const float* k, const float* v, float* out, int64_t B,
                       int64_t H, int64_t N_local, int64_t D, float scale, ops::AttentionKernel kernel,
                       TransferStats* stats = nullptr);

// Same exchange, with `local` computing the attention of the gathered heads instead of the
// kernel: local(q, k, v, out, B, heads, N) with q/k/v [B, heads, N, D] and out [B, N, heads, D].
// The sparse global-attention options run this way (every head sees the whole sequence).
using LocalAttention = std::function<void(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t)>;
void ulysses_attention(const Comm& comm, const float* q, const float* k, const float* v, float* out, int64_t B,
                       int64_t H, int64_t N_local, int64_t D, const LocalAttention& local,
                       TransferStats* stats = nullptr);

}  // namespace vggt::parallel

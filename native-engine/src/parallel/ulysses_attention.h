// Ulysses attention: an all-to-all turns "my tokens, all heads" into "all tokens, my heads",
// every rank runs ordinary attention over the whole sequence for H / ranks heads, and a second
// all-to-all turns the result back. Needs the head count divisible by the rank count.
#pragma once
#include <cstdint>

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

}  // namespace vggt::parallel

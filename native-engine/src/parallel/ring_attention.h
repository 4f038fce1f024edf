// Ring attention: K/V blocks travel around the ranks with non-blocking MPI while each rank
// attends its own queries to the block it holds; partial results are merged with their
// log-sum-exp, so the result equals softmax attention over the whole sequence.
#pragma once
#include <cstdint>

#include "parallel/mpi_comm.h"

namespace vggt::parallel {

// Merges a partial attention result (o_b normalised over its key block, lse_b = log of that
// block's softmax denominator) into the running one, row by row (rows x D values):
//   m = max(lse_a, lse_b); w_a = exp(lse_a - m); w_b = exp(lse_b - m)
//   o_a = (w_a o_a + w_b o_b) / (w_a + w_b); lse_a = m + log(w_a + w_b)
// Every exponent is <= 0, so nothing overflows; lse_a = -inf (empty) is allowed.
void lse_merge(float* o_acc, float* lse_acc, const float* o_b, const float* lse_b, int64_t rows, int64_t D);

// Query rows [r0, r1) of q [BH, Nq, D] attend to one block k, v [BH, Nk, D]; the block result
// is merged into o_acc [BH, Nq, D] and lse_acc [BH, Nq] with lse_merge.
void attend_block_merge(const float* q, int64_t Nq, const float* k, const float* v, int64_t Nk, int64_t BH, int64_t D,
                        float scale, int64_t r0, int64_t r1, float* o_acc, float* lse_acc);

// q, k, v: this rank's tokens [B, H, N_local, D]; out: [B, N_local, H, D]. N_local may
// differ between ranks. Collective over `comm`.
void ring_attention(const Comm& comm, const float* q, const float* k, const float* v, float* out, int64_t B, int64_t H,
                    int64_t N_local, int64_t D, float scale, TransferStats* stats = nullptr);

}  // namespace vggt::parallel

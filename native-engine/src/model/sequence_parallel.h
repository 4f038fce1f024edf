// Sequence parallelism for VGGT inference (`--sp ulysses|ring`): the frames are split across MPI
// ranks, everything per frame (encoder, frame blocks, MLPs, DPT heads) runs where the frame
// lives, and only global attention talks to the other ranks, by Ulysses or Ring.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/layers.h"
#include "parallel/mpi_comm.h"

namespace vggt {

enum class SpMode { Ulysses, Ring };
SpMode parse_sp_mode(const std::string& s);  // "ulysses" | "ring"; throws naming the choices
const char* sp_mode_name(SpMode m);

// Contiguous, balanced: the first S % ranks ranks get one frame more; rank 0 holds frame 0.
struct FramePartition {
  std::vector<int64_t> first, count;  // per rank
};
FramePartition partition_frames(int64_t frames, int ranks);

class SequenceParallel : public GlobalAttention {
 public:
  SequenceParallel(SpMode mode, parallel::Comm comm) : mode_(mode), comm_(comm) {}
  SpMode mode() const { return mode_; }
  const parallel::Comm& comm() const { return comm_; }
  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }

  // Same outcome on every rank (no communication): clear errors before any collective.
  void check_heads(int64_t heads) const;
  void check_frames(int64_t frames) const;

  void attention(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t H, int64_t N_local,
                 int64_t D, float scale, ops::AttentionKernel kernel, const GlobalSparsity& sparsity) const override;

  // True on every rank when it is true on any (cancellation must stop all ranks at the same
  // collective boundary, or one would wait forever in the next global layer).
  bool any(bool local) const { return comm_.allreduce_max(local ? 1 : 0) != 0; }

  // Rows of [frames, row...] tensors: local -> full on `root` (other ranks get an empty tensor).
  Tensor gather_frames(const Tensor& local, const FramePartition& part, int root = 0) const;
  // Same, but every rank receives the full tensor.
  Tensor allgather_frames(const Tensor& local, const FramePartition& part) const;

  parallel::TransferStats& stats() const { return stats_; }
  void reset_stats() const { stats_ = {}; }

 private:
  // Ring with global-kv-subsample / global-block-sparse (see sequence_parallel.cpp).
  void ring_sparse_attention(const float* q, const float* k, const float* v, float* out, int64_t H, int64_t N_local,
                             int64_t D, float scale, ops::AttentionKernel kernel, const GlobalSparsity& sparsity) const;
  SpMode mode_;
  parallel::Comm comm_;
  mutable parallel::TransferStats stats_;
};

}  // namespace vggt

#include "model/sequence_parallel.h"

#include <stdexcept>

#include "parallel/ring_attention.h"
#include "parallel/ulysses_attention.h"

namespace vggt {

SpMode parse_sp_mode(const std::string& s) {
  if (s == "ulysses") return SpMode::Ulysses;
  if (s == "ring") return SpMode::Ring;
  throw std::runtime_error("sequence-parallel mode must be 'ulysses' or 'ring', got '" + s + "'");
}

const char* sp_mode_name(SpMode m) { return m == SpMode::Ulysses ? "ulysses" : "ring"; }

FramePartition partition_frames(int64_t frames, int ranks) {
  FramePartition p;
  int64_t at = 0;
  for (int r = 0; r < ranks; ++r) {
    const int64_t c = frames / ranks + (r < frames % ranks ? 1 : 0);
    p.first.push_back(at);
    p.count.push_back(c);
    at += c;
  }
  return p;
}

void SequenceParallel::check_heads(int64_t heads) const {
  if (mode_ == SpMode::Ulysses) parallel::check_ulysses_heads(heads, size());
}

void SequenceParallel::check_frames(int64_t frames) const {
  if (frames < size())
    throw std::runtime_error("sequence parallelism over " + std::to_string(size()) + " ranks needs at least " +
                             std::to_string(size()) + " frames (one per rank), got " + std::to_string(frames) +
                             "; use fewer ranks");
}

void SequenceParallel::attention(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t H,
                                 int64_t N_local, int64_t D, float scale, ops::AttentionKernel kernel,
                                 const GlobalSparsity& sparsity) const {
  if (sparsity.kind != GlobalSparsity::dense) {
    // The sparse options need every frame's keys per head: Ulysses gathers exactly that (all
    // tokens of H / ranks heads), so each rank runs the one-process sparse attention on its heads.
    if (mode_ != SpMode::Ulysses)
      throw std::runtime_error(
          "global-kv-subsample and global-block-sparse run with --sp ulysses only (ring: not implemented)");
    if (B != 1) throw std::logic_error("sparse global attention: one sequence expected");
    parallel::ulysses_attention(
        comm_, q, k, v, out, B, H, N_local, D,
        [&](const float* qf, const float* kf, const float* vf, float* o, int64_t, int64_t hr, int64_t n) {
          ops::FrameLayout L = sparsity.layout;
          L.S = n / L.P;  // every rank's frames
          if (sparsity.kind == GlobalSparsity::kv_subsample)
            ops::kv_subsample_attention(kernel, qf, kf, vf, o, hr, L, D, scale, sparsity.stride);
          else
            ops::block_sparse_attention(kernel, qf, kf, vf, o, hr, L, D, scale, sparsity.keep, sparsity.cdf);
        },
        &stats_);
    return;
  }
  if (mode_ == SpMode::Ulysses)
    parallel::ulysses_attention(comm_, q, k, v, out, B, H, N_local, D, scale, kernel, &stats_);
  else
    parallel::ring_attention(comm_, q, k, v, out, B, H, N_local, D, scale, &stats_);
}

namespace {
std::vector<int64_t> row_counts(const Tensor& local, const FramePartition& part) {
  const int64_t row = local.dim(0) ? local.numel() / local.dim(0) : 0;
  std::vector<int64_t> c;
  for (int64_t n : part.count) c.push_back(n * row);
  return c;
}
std::vector<int64_t> full_shape(const Tensor& local, const FramePartition& part) {
  std::vector<int64_t> s = local.shape();
  s[0] = part.first.back() + part.count.back();
  return s;
}
}  // namespace

Tensor SequenceParallel::gather_frames(const Tensor& local, const FramePartition& part, int root) const {
  Tensor full = rank() == root ? Tensor::uninitialized(full_shape(local, part)) : Tensor();
  comm_.gatherv(local.data(), local.numel(), full.data(), row_counts(local, part), root);
  return full;
}

Tensor SequenceParallel::allgather_frames(const Tensor& local, const FramePartition& part) const {
  Tensor full = Tensor::uninitialized(full_shape(local, part));
  comm_.allgatherv(local.data(), local.numel(), full.data(), row_counts(local, part));
  return full;
}

}  // namespace vggt

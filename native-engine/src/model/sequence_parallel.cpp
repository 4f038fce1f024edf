#include "model/sequence_parallel.h"

#include <algorithm>
#include <chrono>
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
    if (B != 1) throw std::logic_error("sparse global attention: one sequence expected");
    if (mode_ == SpMode::Ring) {
      ring_sparse_attention(q, k, v, out, H, N_local, D, scale, kernel, sparsity);
      return;
    }
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
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Every rank's [H, n_r, D] block (allgathered rank after rank) -> [H, sum n_r, D] in rank order.
std::vector<float> allgather_heads(const parallel::Comm& comm, const float* x, int64_t H, int64_t n, int64_t D,
                                   const std::vector<int64_t>& per_rank, parallel::TransferStats& st) {
  std::vector<int64_t> counts, first;
  int64_t total = 0;
  for (int64_t c : per_rank) first.push_back(total), counts.push_back(H * c * D), total += c;
  std::vector<float> gathered(H * total * D), out(H * total * D);
  double t = now_ms();
  comm.allgatherv(x, H * n * D, gathered.data(), counts);
  st.comm_ms += now_ms() - t;
  st.bytes_sent += static_cast<double>(H * n * D * sizeof(float)) * (per_rank.size() - 1);
  t = now_ms();
  int64_t off = 0;
  for (size_t r = 0; r < per_rank.size(); ++r) {
    for (int64_t h = 0; h < H; ++h)
      std::copy_n(gathered.data() + off + h * per_rank[r] * D, per_rank[r] * D, out.data() + (h * total + first[r]) * D);
    off += H * per_rank[r] * D;
  }
  st.pack_ms += now_ms() - t;
  return out;
}
}  // namespace

// Ring with the sparse options. kv-subsample: every query needs its own frame in full (local)
// and only the other frames' shared keys (special tokens, grid patches, mean-fill), so the ranks
// all-gather just those (S x per tokens instead of S x P) and attend locally. Block-sparse: the
// key-tile selection ranks tiles of the whole special-first sequence, so every rank gathers all
// of q, k and v, computes the one-process attention and keeps its own rows: equal to one process,
// but its compute is not divided among the ranks (as Ulysses' is).
void SequenceParallel::ring_sparse_attention(const float* q, const float* k, const float* v, float* out, int64_t H,
                                             int64_t N_local, int64_t D, float scale, ops::AttentionKernel kernel,
                                             const GlobalSparsity& sparsity) const {
  const ops::FrameLayout L = sparsity.layout;  // this rank's frames
  if (L.S * L.P != N_local) throw std::logic_error("ring sparse attention: layout does not match the tokens");
  double t = now_ms();
  const std::vector<int64_t> frames = comm_.allgather(L.S);
  stats_.comm_ms += now_ms() - t;
  int64_t frame0 = 0, S_total = 0;
  for (int r = 0; r < size(); ++r) {
    if (r < rank()) frame0 += frames[r];
    S_total += frames[r];
  }
  stats_.calls += 1;
  if (sparsity.kind == GlobalSparsity::kv_subsample) {
    t = now_ms();
    std::vector<float> kc, vc;
    const int64_t per = ops::kv_compact_keys(k, v, H, L, D, sparsity.stride, kc, vc);
    stats_.pack_ms += now_ms() - t;
    std::vector<int64_t> shared;
    for (int64_t f : frames) shared.push_back(f * per);
    const std::vector<float> kg = allgather_heads(comm_, kc.data(), H, L.S * per, D, shared, stats_);
    const std::vector<float> vg = allgather_heads(comm_, vc.data(), H, L.S * per, D, shared, stats_);
    t = now_ms();
    ops::kv_subsample_attention_shared(kernel, q, k, v, out, H, L, D, scale, sparsity.stride, kg.data(), vg.data(),
                                       S_total, frame0);
    stats_.compute_ms += now_ms() - t;
    return;
  }
  std::vector<int64_t> tokens;
  for (int64_t f : frames) tokens.push_back(f * L.P);
  const std::vector<float> qa = allgather_heads(comm_, q, H, N_local, D, tokens, stats_);
  const std::vector<float> ka = allgather_heads(comm_, k, H, N_local, D, tokens, stats_);
  const std::vector<float> va = allgather_heads(comm_, v, H, N_local, D, tokens, stats_);
  ops::FrameLayout all = L;
  all.S = S_total;
  t = now_ms();
  std::vector<float> o(all.tokens() * H * D);
  ops::block_sparse_attention(kernel, qa.data(), ka.data(), va.data(), o.data(), H, all, D, scale, sparsity.keep,
                              sparsity.cdf);
  std::copy_n(o.data() + frame0 * L.P * H * D, N_local * H * D, out);
  stats_.compute_ms += now_ms() - t;
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

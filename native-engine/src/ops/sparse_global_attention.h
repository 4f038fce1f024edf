// Training-free sparse global attention for many frames (lossy engine options):
// - kv-subsample (AVGGT, arXiv 2512.02541): every query keeps its own frame in full ("diagonal")
//   and sees, of every other frame, the camera/register tokens, the patches on a strided grid and
//   one mean-fill key/value (the mean of the dropped patches' K and V, logit + log(count), so it
//   weighs as much as the dropped patches would if they all equalled their mean).
// - block-sparse (arXiv 2509.07120): tokens reordered special-first; per 64-query tile, Q and K
//   mean-pooled per tile, key tiles ranked by the pooled score; the top `keep` fraction (plus the
//   most probable ones up to cumulative probability `cdf`) are computed, the rest skipped inside
//   the flash kernel. Tiles holding camera/register tokens (as queries or keys) are always dense.
// Each has a reference implementation (token-level masks over the full key set, double
// accumulation) that tests compare the fast bf16 kernels against; where the AVX512-BF16 kernel
// cannot run, or the kernel asked for is not flash_bf16, the reference is what runs.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/attention.h"

namespace vggt::ops {

// Global attention's token sequence: S frames of P tokens; the first `special` of each frame are
// camera/register tokens, the rest an hp x wp patch grid in row-major order.
struct FrameLayout {
  int64_t S = 0, P = 0, special = 0, hp = 0, wp = 0;
  int64_t tokens() const { return S * P; }
};

// Patch offsets within a frame (special..P-1) kept by kv-subsample at `stride`, and dropped.
std::vector<int32_t> kv_kept_patches(const FrameLayout& L, int stride);
std::vector<int32_t> kv_dropped_patches(const FrameLayout& L, int stride);

// q, k, v [H, N, D] (B = 1, N = L.tokens()); out [N, H, D].
void kv_subsample_attention(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out,
                            int64_t H, const FrameLayout& L, int64_t D, float scale, int stride);
void kv_subsample_attention_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                      const FrameLayout& L, int64_t D, float scale, int stride);

// kv-subsample's shared keys: per frame `per` = special + kept + (any dropped ? 1 : 0) keys
// (camera/register tokens, the grid patches, the mean-fill key), kc/vc [H, S * per, D]. Returns per.
int64_t kv_compact_keys(const float* k, const float* v, int64_t H, const FrameLayout& L, int64_t D, int stride,
                        std::vector<float>& kc, std::vector<float>& vc);
// kv-subsample for the queries of frames [frame0, frame0 + L.S) of a sequence of S_total frames
// (sequence parallelism: this rank's frames): q, k, v [H, L.S * P, D] of those frames, kc/vc the
// shared keys of all S_total frames in frame order (kv_compact_keys). The same keys, logits and
// mean-fill as kv_subsample_attention over the whole sequence, for these queries.
void kv_subsample_attention_shared(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out,
                                   int64_t H, const FrameLayout& L, int64_t D, float scale, int stride, const float* kc,
                                   const float* vc, int64_t S_total, int64_t frame0);
void kv_subsample_attention_shared_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                             const FrameLayout& L, int64_t D, float scale, int stride, const float* kc,
                                             const float* vc, int64_t S_total, int64_t frame0);

// Key tiles kept per query tile, in the special-first token order: [H][nqt][nkt] with
// nqt = ceil(N / kFlashQueryTile), nkt = ceil(N / kFlashKeyTile). qp, kp: [H, N, D] reordered.
std::vector<uint8_t> select_key_tiles(const float* qp, const float* kp, int64_t H, int64_t N, int64_t D, float scale,
                                      int64_t n_special, double keep, double cdf);
// Token order with every frame's special tokens first: order[i] = original index at position i.
std::vector<int64_t> special_first_order(const FrameLayout& L);

void block_sparse_attention(AttentionKernel kernel, const float* q, const float* k, const float* v, float* out,
                            int64_t H, const FrameLayout& L, int64_t D, float scale, double keep, double cdf);
// The same result with q, k, v used as scratch (their rows are left permuted): the fast kernel
// needs them in special-first order, and at many frames reordered copies of q, k, v and the
// output would be 4 x [N, H*D] floats on top of the block's own (3.2 GiB at 200 frames). Here
// they are permuted in place and the output is permuted in place in `out`: no copy of that size.
// With the fast kernel, k and v are consumed: their pages go back to the OS once packed into
// bf16 and read as zero afterwards (another 0.8 GiB less at the peak at 200 frames).
// block_sparse_attention runs this on copies of its inputs.
void block_sparse_attention_inplace(AttentionKernel kernel, float* q, float* k, float* v, float* out, int64_t H,
                                    const FrameLayout& L, int64_t D, float scale, double keep, double cdf);
// Rows of `rows` x `width` floats permuted in place so that row i holds what row src[i] held
// (src a permutation of 0..rows-1; throws std::invalid_argument otherwise).
void permute_rows_inplace(float* x, int64_t rows, int64_t width, const std::vector<int64_t>& src);
void block_sparse_attention_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                      const FrameLayout& L, int64_t D, float scale, double keep, double cdf);

// Global attention restricted to each query's own frame (what global-early-frame computes as
// batched frame attention), by masking the full key set.
void frame_masked_attention_reference(const float* q, const float* k, const float* v, float* out, int64_t H,
                                      const FrameLayout& L, int64_t D, float scale);

}  // namespace vggt::ops

// Attention for inference: tiled flash attention (online softmax) and the naive reference.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vggt::ops {

// Tile sizes of the flash kernels: query rows per task, keys per tile. Block-sparse attention
// selects whole key tiles for whole query tiles.
constexpr int kFlashQueryTile = 64;
constexpr int kFlashKeyTile = 128;

// Tiled attention with online softmax; never materialises the N x N scores.
// q, k, v: [B, H, N, D] contiguous float32; out: [B, N, H, D] (heads interleaved per token,
// ready for the output projection). scale = 1/sqrt(D). Threads: OpenMP over (B*H, query tiles).
// Path chosen at run time by isa_level(): AVX-512 intrinsics, or portable C++ (auto-vectorised;
// compiled for AVX2+FMA too when that level is active).
void flash_attention(const float* q, const float* k, const float* v, float* out, int B, int H,
                     int N, int D, float scale);

// Same contract with bf16 dot products (AVX512-BF16): Q K^T and P V from bf16-rounded inputs
// with fp32 accumulation; softmax, running sums and output in fp32. Lossy (inputs keep 8
// mantissa bits); used when both the flash-attn and bf16 options are on. Where the bf16 kernel
// cannot run (no AVX512-BF16, ISA forced lower, D not a multiple of 16 or above 128) it is
// flash_attention() exactly.
void flash_attention_bf16(const float* q, const float* k, const float* v, float* out, int B, int H,
                          int N, int D, float scale);
// Whether flash_attention_bf16() runs its bf16 kernel for head size D on this CPU/ISA level.
bool flash_attention_bf16_native(int D);

// Same contract, naive reference: materialises the N x N scores of one (b,h) at a time per
// thread (sgemm for Q K^T and P V, exact row softmax with std::exp).
void naive_attention(const float* q, const float* k, const float* v, float* out, int B, int H,
                     int N, int D, float scale);

// Bytes of scratch each path allocates for one call with `threads` OpenMP threads
// (the kernels allocate exactly this much; the benchmark reports it).
size_t flash_attention_scratch_bytes(int B, int H, int N, int D, int threads);
size_t naive_attention_scratch_bytes(int B, int H, int N, int D, int threads);
size_t flash_attention_bf16_scratch_bytes(int B, int H, int N, int D, int threads);

// exp(x) for x <= 0 as the AVX-512 flash kernel computes it (range reduction + degree-7
// polynomial); scalar mirror of the vector code, exposed so tests can measure its error.
float flash_exp_approx(float x);

namespace detail {
// Kernel variants, dispatched by flash_attention(); exposed for tests and benchmarks.
void flash_attention_generic(const float* q, const float* k, const float* v, float* out, int B,
                             int H, int N, int D, float scale);
void flash_attention_avx2(const float* q, const float* k, const float* v, float* out, int B,
                          int H, int N, int D, float scale);
void flash_attention_avx512(const float* q, const float* k, const float* v, float* out, int B,
                            int H, int N, int D, float scale);
void flash_attention_bf16_avx512(const float* q, const float* k, const float* v, float* out,
                                 int B, int H, int N, int D, float scale);
// Sparse global attention on the bf16 kernel (see ops/sparse_global_attention.h), B = 1:
// q, k, v [H, N, D], out [N, H, D]. Throws std::logic_error where flash_bf16_sparse_native(D)
// is false (callers fall back to the reference implementations).
bool flash_bf16_sparse_native(int D);
// tile_keep [H][ceil(N/64)][ceil(N/128)]: 1 = the key tile is computed for that query tile.
// release_kv: k and v are not read again by the caller, so each head's float32 pages are
// returned to the OS once packed (release_pages; they read as zero afterwards).
void block_sparse_bf16_avx512(const float* q, const float* k, const float* v, float* out, int H, int N, int D,
                              float scale, const uint8_t* tile_keep, bool release_kv = false);
// S frames of P tokens; each frame's queries attend to the shared keys kc/vc [H][Nc][D] (additive
// logits bias_c [Nc], natural log; own_mean[f] = index of frame f's mean-fill key in them, masked
// for frame f, or -1) and to their own frame's tokens at the Ne offsets `dropped`.
void kv_subsample_bf16_avx512(const float* q, const float* k, const float* v, float* out, int H, int S, int P, int D,
                              float scale, const float* kc, const float* vc, const float* bias_c, int Nc,
                              const int* own_mean, const int32_t* dropped, int Ne);
// Vector exp of the AVX-512 kernel applied to n values (test hook).
void flash_exp_avx512(const float* x, float* y, int n);
}  // namespace detail

// Whether the many-frame sparse kernels (detail::block_sparse_bf16_avx512, kv_subsample_...) run here.
inline bool flash_bf16_sparse_native(int D) { return detail::flash_bf16_sparse_native(D); }

}  // namespace vggt::ops

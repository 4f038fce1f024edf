// Fast Walsh-Hadamard transform (unnormalised, Sylvester order) over rows of a power-of-two
// length: x <- x H with H[i][j] = (-1)^popcount(i & j), so H H = n I. The int8 Linear rotates
// its activations with it (and folds H / n into the weights once) so that a few outlier
// channels no longer set the per-token quantisation scale of every other channel.
#pragma once
#include <cstdint>

namespace vggt::ops {

bool is_power_of_two(int64_t n);

// In place, one row of n values (n a power of two, >= 1). Dispatches to AVX-512 when
// isa_level() allows; the two paths add in the same order (bit-identical).
void fwht(float* x, int n);
// rows x n, rows in parallel.
void fwht_rows(float* x, int64_t rows, int n);

namespace detail {
void fwht_generic(float* x, int n);
void fwht_avx512(float* x, int n);  // n >= 16
}  // namespace detail

}  // namespace vggt::ops

#include "ops/hadamard.h"

#include "core/cpu_features.h"

namespace vggt::ops {

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

namespace detail {
void fwht_generic(float* x, int n) {
  for (int h = 1; h < n; h <<= 1)
    for (int i = 0; i < n; i += 2 * h)
      for (int j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
}
}  // namespace detail

void fwht(float* x, int n) {
  if (n >= 16 && isa_level() >= IsaLevel::avx512)
    detail::fwht_avx512(x, n);
  else
    detail::fwht_generic(x, n);
}

void fwht_rows(float* x, int64_t rows, int n) {
#pragma omp parallel for schedule(static) if (rows * n > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) fwht(x + r * n, n);
}

}  // namespace vggt::ops

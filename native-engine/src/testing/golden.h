// Helpers for tests that compare against ../shared/goldens (official-implementation outputs).
#pragma once
#include <cstdlib>
#include <string>

#include "core/tensor.h"

namespace vggt::testing {

// The shared folder (env VGGT_SHARED_DIR overrides the build-time default); empty if absent.
std::string shared_dir();
// Loads one tensor of a safetensors/pt file as float32; throws if absent.
Tensor load_tensor(const std::string& path, const std::string& name);

struct Deviation {
  double max_rel = 0;  // max |o - e| / rms(e)
  double rms_rel = 0;  // rms(o - e) / rms(e)
  bool finite = true;
};
Deviation compare(const Tensor& out, const Tensor& expected);

// A track [S, N, 2] against the expected one, relative to the rms displacement of `expected`
// from the queries q [N, 2] broadcast over frames (the goldens README's track tolerance).
Deviation compare_track(const Tensor& out, const Tensor& expected, const Tensor& queries);

// The goldens README tolerance for the exact float32 path.
constexpr double kMaxRelTol = 1e-3, kRmsRelTol = 1e-4;

}  // namespace vggt::testing

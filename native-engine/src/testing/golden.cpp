#include "testing/golden.h"

#include <sys/stat.h>

#include <cmath>
#include <stdexcept>

#include "io/checkpoint.h"

namespace vggt::testing {

std::string shared_dir() {
  std::string d;
  if (const char* e = std::getenv("VGGT_SHARED_DIR")) d = e;
#ifdef VGGT_SHARED_DIR
  if (d.empty()) d = VGGT_SHARED_DIR;
#endif
  struct stat st;
  if (d.empty() || stat((d + "/goldens").c_str(), &st) != 0) return "";
  return d;
}

Tensor load_tensor(const std::string& path, const std::string& name) {
  auto r = io::CheckpointReader::open(path);
  const io::TensorInfo* t = r->find(name);
  if (!t) throw std::runtime_error(path + ": no tensor '" + name + "'");
  Tensor out = Tensor::uninitialized(t->shape);
  io::convert_to_f32(*t, out.data());
  return out;
}

Deviation compare(const Tensor& out, const Tensor& expected) {
  if (out.shape() != expected.shape())
    throw std::runtime_error("shape " + out.shape_str() + " != expected " + expected.shape_str());
  double ss = 0, dd = 0, mx = 0;
  Deviation d;
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double e = expected[i], o = out[i];
    if (!std::isfinite(o)) d.finite = false;
    ss += e * e;
    dd += (o - e) * (o - e);
    mx = std::max(mx, std::fabs(o - e));
  }
  const double rms = std::sqrt(ss / std::max<int64_t>(1, out.numel()));
  d.max_rel = mx / rms;
  d.rms_rel = std::sqrt(dd / std::max<int64_t>(1, out.numel())) / rms;
  return d;
}

Deviation compare_track(const Tensor& out, const Tensor& expected, const Tensor& queries) {
  if (out.shape() != expected.shape() || expected.ndim() != 3 || queries.ndim() != 2 ||
      queries.dim(0) != expected.dim(1) || queries.dim(1) != 2)
    throw std::runtime_error("track shape " + out.shape_str() + " / expected " + expected.shape_str() + " / queries " +
                             queries.shape_str() + " do not fit");
  const int64_t S = expected.dim(0), M = 2 * expected.dim(1);
  double disp = 0, err = 0, mx = 0;
  Deviation d;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < M; ++i) {
      const double e = expected[s * M + i], o = out[s * M + i], dq = e - queries[i];
      if (!std::isfinite(o)) d.finite = false;
      disp += dq * dq;
      err += (o - e) * (o - e);
      mx = std::max(mx, std::fabs(o - e));
    }
  const double rd = std::sqrt(disp / (S * M));
  d.max_rel = mx / rd;
  d.rms_rel = std::sqrt(err / (S * M)) / rd;
  return d;
}

}  // namespace vggt::testing

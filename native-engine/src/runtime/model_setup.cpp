#include "runtime/model_setup.h"

#include "core/cpu_features.h"

#include <sys/resource.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace vggt::runtime {

std::unique_ptr<VggtModel> make_model(const std::string& weights, const std::string& config, const EngineOptions& o,
                                      uint64_t seed) {
  ModelConfig cfg = ModelConfig::resolve(config);
  if (weights.empty()) return VggtModel::random(cfg, seed, o);
  return VggtModel::load(weights, cfg, o);
}

std::string isa_summary() { return isa_name(); }

bool mpi_available() {
#if defined(VGGT_WITH_MPI)
  return true;
#else
  return false;
#endif
}

size_t peak_rss_bytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<size_t>(ru.ru_maxrss) * 1024;
}

}  // namespace vggt::runtime

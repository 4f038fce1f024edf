// Shared by infer/bench/serve: turning --weights/--config/--options into a model.
#pragma once
#include <memory>
#include <string>

#include "model/vggt_model.h"

namespace vggt::runtime {


// weights empty -> random full-architecture weights (benchmark mode).
std::unique_ptr<VggtModel> make_model(const std::string& weights, const std::string& config, const EngineOptions& o,
                                      uint64_t seed = 0);

// "avx512_bf16+vnni", "avx2", ... for benchmark and hello output.
std::string isa_summary();
size_t peak_rss_bytes();
// True when this build can run sequence-parallel inference under mpirun.
bool mpi_available();

}  // namespace vggt::runtime

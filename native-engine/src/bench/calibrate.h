// `vggt-engine calibrate`: a few seconds of the GEMMs, attention and convolutions that dominate a
// VGGT-1B forward, run with each default candidate's real kernels (exact fp32, `all`'s bf16,
// `all,w8a8`'s int8), turned into a predicted relative forward time per candidate and the
// default set for this machine (model/default_choice.h).
#pragma once
#include <nlohmann/json_fwd.hpp>

namespace vggt {

struct CalibrateOptions {
  int threads = 0;    // 0 = all cores
  int tokens = 930;   // rows per frame (VGGT-1B at 518x350); smaller only to make tests fast
  int rounds = 3;     // timed rounds after one warm-up round; each op keeps its best round
};

// The calibration document (schema "vggt-calibration/1", see docs/PERFORMANCE.md).
nlohmann::json run_calibration(const CalibrateOptions& o);

// argv[0] is "calibrate"; see --help. Returns the process exit code.
int calibrate_main(int argc, char** argv);

}  // namespace vggt

// The per-machine default option set: of the default candidates (presets that carry their
// measured accuracy), the fastest on this machine whose accuracy is inside the official bf16
// bound. Speeds come from `vggt-engine calibrate` (bench/calibrate.h); the data is the option
// table's (model/engine_options.h).
#pragma once
#include <string>
#include <vector>

namespace vggt {

// A candidate preset's predicted forward time on this machine (any unit, the same for all).
struct CandidateTime {
  std::string preset;
  double seconds = 0;
  bool available = true;  // false: its kernels cannot run on this machine (never chosen)
};

struct DefaultChoice {
  std::string preset;            // the chosen preset's name
  double speedup_vs_exact = 1;   // exact candidate's time / the chosen one's
  std::vector<std::string> inside_bound;  // candidates whose accuracy is inside the bound
  std::string reason;            // one sentence for the UI and the CLI help
};

// A lossier candidate must be this much faster than a more accurate one to be chosen over it:
// calibration times move by a few percent between runs, and noise is no reason to lose accuracy.
constexpr double kDefaultMinGain = 1.05;

// The rule. `times` must hold every default candidate, with a positive, finite time or marked
// unavailable (throws std::invalid_argument naming what is missing or wrong). The exact candidate
// (`fastest-exact`) is always inside the bound and must be available, so there is always a choice.
DefaultChoice choose_default(const std::vector<CandidateTime>& times);

// The exact default candidate's name ("fastest-exact").
const char* exact_candidate();

}  // namespace vggt

#include "model/default_choice.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "model/engine_options.h"

namespace vggt {

const char* exact_candidate() { return "fastest-exact"; }

namespace {
bool inside(const PresetAccuracy& a, const AccuracyBound& b) {
  return a.rotation_deg <= b.rotation_deg && a.points_rel_rms <= b.points_rel_rms;
}
std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
}  // namespace

DefaultChoice choose_default(const std::vector<CandidateTime>& times) {
  struct Row {
    const OptionPreset* preset;
    double seconds;
  };
  std::vector<Row> rows;
  for (const OptionPreset& p : option_presets()) {
    if (!p.default_candidate) continue;
    auto it = std::find_if(times.begin(), times.end(), [&](const CandidateTime& t) { return t.preset == p.name; });
    if (it == times.end()) throw std::invalid_argument("default choice: no time for candidate preset '" + p.name + "'");
    if (!it->available) {
      if (p.name == exact_candidate())
        throw std::invalid_argument("default choice: the exact candidate '" + p.name + "' must be available");
      continue;
    }
    if (!std::isfinite(it->seconds) || it->seconds <= 0)
      throw std::invalid_argument("default choice: time of '" + p.name + "' must be positive, got " +
                                  std::to_string(it->seconds));
    rows.push_back({&p, it->seconds});
  }
  for (const CandidateTime& t : times) {
    const OptionPreset* p = find_preset(t.preset);
    if (!p || !p->default_candidate) throw std::invalid_argument("default choice: '" + t.preset + "' is not a default candidate");
  }
  const AccuracyBound& bound = official_bf16_bound();
  DefaultChoice out;
  const Row* exact = nullptr;
  std::vector<const Row*> ok;
  for (const Row& r : rows) {
    if (r.preset->name == exact_candidate()) exact = &r;
    if (inside(r.preset->accuracy, bound)) {
      ok.push_back(&r);
      out.inside_bound.push_back(r.preset->name);
    }
  }
  if (!exact) throw std::logic_error("default choice: the exact candidate is not in the preset table");
  // Most accurate first (rotation, then points), so "a lossier one must win by kDefaultMinGain"
  // is one pass: keep the current pick unless a lossier one is faster by the margin.
  std::stable_sort(ok.begin(), ok.end(), [](const Row* a, const Row* b) {
    const PresetAccuracy &x = a->preset->accuracy, &y = b->preset->accuracy;
    return x.rotation_deg != y.rotation_deg ? x.rotation_deg < y.rotation_deg : x.points_rel_rms < y.points_rel_rms;
  });
  const Row* pick = ok.front();
  for (const Row* r : ok)
    if (r->seconds * kDefaultMinGain < pick->seconds) pick = r;
  out.preset = pick->preset->name;
  out.speedup_vs_exact = exact->seconds / pick->seconds;
  if (pick == exact)
    out.reason = "no set inside the official bf16 accuracy bound is at least " + fixed2(kDefaultMinGain) +
                 "x faster than the exact one on this CPU, so the default is exact";
  else
    out.reason = "fastest inside the official bf16 accuracy bound on this CPU: " + out.preset + " is " +
                 fixed2(out.speedup_vs_exact) + "x faster than exact here";
  return out;
}

}  // namespace vggt

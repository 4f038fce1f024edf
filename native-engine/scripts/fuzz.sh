#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan, native-engine/build-fuzz) and runs each
# for a bounded time from the seed corpus in native-engine/fuzz/corpus/<harness>/.
#   fuzz.sh [SECONDS_PER_HARNESS (default 30)] [HARNESS...]   # all five when none are named
#   fuzz.sh --make-corpus                                     # regenerate the committed seeds
# New inputs found go to build-fuzz/corpus/<harness>/ (kept between runs), crashes to
# build-fuzz/artifacts/; any finding makes the script fail. See docs/LIMITS.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/build-fuzz"
all=(fuzz_safetensors fuzz_pt fuzz_config fuzz_image fuzz_protocol)

cmake -S "$here" -B "$build" -DVGGT_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [ "${1:-}" = "--make-corpus" ]; then
  cmake --build "$build" -j"$(nproc)" --target make_corpus >/dev/null
  rm -rf "$here/fuzz/corpus"
  ASAN_OPTIONS=detect_leaks=0 "$build/make_corpus" "$here/fuzz/corpus" "$here/testdata/pt"
  echo "seed corpus written to $here/fuzz/corpus"
  exit 0
fi
secs="${1:-30}"
[ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=("${all[@]}")
cmake --build "$build" -j"$(nproc)" --target fuzzers >/dev/null

status=0
mkdir -p "$build/artifacts"
for h in "${harnesses[@]}"; do
  work="$build/corpus/$h"
  log="$build/$h.log"
  mkdir -p "$work"
  # -rss_limit_mb: the engine's own limits keep any input well below it (largest image 716 MB).
  if "$build/$h" "$work" "$here/fuzz/corpus/$h" -max_total_time="$secs" -timeout=25 -rss_limit_mb=3072 \
       -artifact_prefix="$build/artifacts/$h-" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "fuzz $h: ${secs} s, $runs inputs, $cov, no finding"
  else
    echo "fuzz $h: FINDING (log $log, inputs in $build/artifacts/)"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 || tail -30 "$log"
    status=1
  fi
done
exit $status

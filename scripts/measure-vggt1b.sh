#!/usr/bin/env bash
# The full-size (VGGT-1B, random weights) measurements behind docs/PERFORMANCE.md that take more
# than a few minutes, in one place, each logged to RESULTS/<name>.log with the machine's load before
# and after. Run it on an otherwise idle machine: on 2 cores one 25-frame VGGT-1B forward is minutes
# and 100-200 frames are tens of minutes, and anything else running makes the wall times meaningless.
#
#   scripts/measure-vggt1b.sh [--results DIR] NAME...      (names below; `all` = every one, in order)
#
#   ab2         2 kitchen frames: exact / fastest exact (all,-bf16) / all / all,w8a8, one process
#   frames25    25 kitchen frames: all, all,w8a8, all + many-frame defaults (one process, ratios)
#   chunked     chunked vs unchunked, 25/50/100 kitchen+room frames, K=25 O=5, peak RSS + residuals
#   frames100   100 frames, the many-frames preset: time and peak RSS (memory target <= 10 GiB)
#   frames200   200 frames, many-frame defaults + w8a8: completes within 12 GiB?
# Machine time on an idle 2-core Zen 4 / Xeon, roughly: ab2 3 min, frames25 30 min, chunked 100 min,
# frames100 25 min, frames200 60 min.
set -euo pipefail
cd "$(dirname "$0")/.."
results="measurements/$(date -u +%Y%m%d-%H%M)"
if [ "${1:-}" = "--results" ]; then results="$2"; shift 2; fi
[ $# -gt 0 ] || { sed -n 2,17p "$0"; exit 2; }
names=("$@")
[ "${names[*]}" = "all" ] && names=(ab2 frames25 chunked frames100 frames200)
engine=native-engine/build/vggt-engine
[ -x "$engine" ] || { echo "no $engine: run scripts/setup.sh first" >&2; exit 1; }
kitchen=../shared/datasets/kitchen/images
room=../shared/datasets/room/images
many="global-early-frame,global-kv-subsample,global-block-sparse"
for n in "${names[@]}"; do
  case "$n" in ab2|frames25|chunked|frames100|frames200) ;;
    *) echo "unknown measurement '$n' (ab2 frames25 chunked frames100 frames200 all)" >&2; exit 2 ;; esac
done
mkdir -p "$results"

run() {  # NAME COMMAND...: logs the command, the CPU, the load around it and peak RSS
  local name="$1"; shift
  local log="$results/$name.log"
  {
    echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) ($(nproc) cores)"
    echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# \$ $*"
  } >"$log"
  /usr/bin/time -v "$@" >>"$log" 2>&1 || echo "# FAILED (exit $?)" >>"$log"
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$log"
  echo "$name: $log"
}

for n in "${names[@]}"; do
  case "$n" in
    ab2) run ab2 "$engine" bench --images "$kitchen" --frames 2 --threads 2 --repeats 2 --warmup 1 \
           --sets none all,-bf16 all all,w8a8 ;;
    frames25) run frames25 "$engine" bench --images "$kitchen" --frames 25 --threads 2 --repeats 1 \
                --sets all all,w8a8 "all,$many" ;;
    chunked) run chunked npx tsx electron/services/chunking/bench-chunked.ts --frames 25,50,100 --chunk 25 \
               --overlap 5 --unchunked-max 100 --images "$kitchen,$room" --preprocess pad -- \
               --random-weights --threads 2 --options "all,w8a8,$many" ;;
    frames100) run frames100 "$engine" bench --images "$kitchen,$room" --frames 100 --threads 2 --repeats 1 \
                 --sets "all,$many" ;;
    frames200) run frames200 "$engine" bench --images "$kitchen,$room" --frames 200 --threads 2 --repeats 1 --memory-trace \
                 --sets "all,w8a8,$many" ;;
  esac
done

#!/usr/bin/env bash
# Sequence-parallel transport benchmark (docs/PERFORMANCE.md, "Across hosts over TCP"): the tiny
# golden model on F kitchen frames padded to 518x518, 2 ranks, each scheme over
#   shm   one host, Open MPI shared memory (btl vader,self)
#   tcp   two namespace hosts (hosts.sh), TCP only
#   tcp@R the same with each host's link limited to R by tc tbf (e.g. 1gbit, 100mbit)
# Prints rank 0's per-global-layer figures the engine reports, the wall time, ratios to shm, and
# for each limited link the model's prediction (per layer: MPI time on the free link + bytes / R
# for Ulysses; Ring hides a step's transfer behind its attention while bytes / R < attention).
#   bench-transport.sh [--frames F] [--rates "1gbit 100mbit"] [--engine BIN]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
frames=8 rates="1gbit 100mbit" engine="$repo/native-engine/build/vggt-engine"
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames="$2"; shift 2 ;; --rates) rates="$2"; shift 2 ;; --engine) engine="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
shared="${VGGT_SHARED_DIR:-$repo/../shared}"
g="$shared/goldens/tiny-2f"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mapfile -t imgs < <(ls "$shared/datasets/kitchen/images/"*.png | head -n "$frames")
"$engine" preprocess --images "${imgs[@]}" --mode pad --out "$tmp/in.safetensors" 2>/dev/null
args=(infer --weights "$g/weights.safetensors" --config "$g/config.json" --input-tensor "$tmp/in.safetensors"
      --out "$tmp/out.safetensors" --quiet --threads 1)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

# "transport mode wall_ms MB/layer mpi_ms attn_ms pack_ms" from one run's stderr.
parse() {
  awk -v t="$1" -v m="$2" '
    /^wrote / { for (i = 1; i <= NF; i++) if ($(i+1) == "ms,") wall = $i }
    /^sequence parallel:/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "MB") mb = $i; if ($(i+1) == "ms" && $(i+2) == "in") mpi = $i;
                            if ($(i+1) == "ms" && $(i+2) == "attention,") at = $i; if ($(i+1) == "ms" && $(i+2) == "packing") pk = $i } }
    END { if (wall == "") { print "run failed: " t " " m > "/dev/stderr"; exit 1 } printf "%s %s %s %s %s %s %s\n", t, m, wall, mb, mpi, at, pk }'
}
run_shm() { mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl vader,self -np 2 -x OMP_NUM_THREADS "$engine" "${args[@]}" --sp "$1" 2>&1; }
run_tcp() { # mode [rate]
  "$here/hosts.sh" run --hosts 2 --timeout 300 ${2:+--rate "$2"} -- \
    sh -c '"$VGGT_NETNS_MPIRUN" --hostfile "$VGGT_NETNS_HOSTFILE" -np 2 -x OMP_NUM_THREADS "$@"' sh "$engine" "${args[@]}" --sp "$1" 2>&1
}
echo "# $(date -u +%FT%TZ) $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg); tiny model, $frames frames 518x518, 2 ranks, 1 thread each"
results="$tmp/results"
for mode in ulysses ring; do
  run_shm "$mode" | parse shm "$mode" >>"$results"
  run_tcp "$mode" | parse tcp "$mode" >>"$results"
  for r in $rates; do run_tcp "$mode" "$r" | parse "tcp@$r" "$mode" >>"$results"; done
done
echo "transport mode wall_ms MB/layer MPI_ms/layer attention_ms/layer packing_ms/layer"
cat "$results"
echo "# ratios to shm (same mode), and the model for limited links"
awk -v depth=4 '
  function bps(r,  v, u) { v = r + 0; u = r; sub(/^[0-9.]+/, "", u); return v * (u == "gbit" ? 1e9 : u == "mbit" ? 1e6 : 1e3) / 8 }
  { T[$1, $2] = $3; B[$1, $2] = $4; M[$1, $2] = $5; A[$1, $2] = $6; tr[$1] = 1; md[$2] = 1 }
  END {
    for (m in md) for (t in tr) if (t != "shm" && ((t, m) in T)) {
      printf "%s %s: wall %.2fx shm, MPI per layer %.1f ms vs %.1f ms shm", m, t, T[t, m] / T["shm", m], M[t, m], M["shm", m]
      if (t ~ /^tcp@/) {
        rate = substr(t, 5); link_ms = B[t, m] * 1e6 / bps(rate) * 1e3
        pred = (m == "ulysses") ? M["tcp", m] + link_ms : M["tcp", m] + (link_ms > A["tcp", m] ? link_ms - A["tcp", m] : 0)
        printf "; model: %.0f ms per layer on the wire at %s -> predicted MPI %.0f ms/layer, wall %.0f ms; measured %.0f ms/layer, wall %.0f ms",
               link_ms, rate, pred, T["tcp", m] + depth * (pred - M["tcp", m]), M[t, m], T[t, m]
      }
      printf "\n"
    }
  }' "$results"

#!/usr/bin/env bash
# Sequence-parallel transport benchmark (docs/PERFORMANCE.md, "Across hosts over TCP"): the tiny
# golden model on F kitchen frames padded to 518x518, 2 ranks, each scheme over
#   shm   one host, Open MPI shared memory (btl vader,self)
#   tcp   two namespace hosts (hosts.sh), TCP only
#   tcp@R the same with each host's link limited to R by tc tbf (e.g. 1gbit, 100mbit)
# Prints the link as the engine's MPI layer sees it (bench-mpi: latency, bandwidth, an all-to-all
# of one Ulysses layer's bytes), rank 0's per-global-layer figures from each inference, and the
# model's per-layer MPI time for every link next to the measured one (see the end).
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
# "transport link latency_us GBps_1MiB GBps_16MiB a2a_ms" from bench-mpi's output.
parse_link() {
  awk -v t="$1" '
    /^ping-pong/ { lat = $5; g1 = $9; g16 = $13 }
    /^alltoallv/ { a2a = $6 }
    END { if (a2a == "") { print "bench-mpi failed: " t > "/dev/stderr"; exit 1 } printf "%s link %s %s %s %s\n", t, lat, g1, g16, a2a }'
}
shm() { mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl vader,self -np 2 -x OMP_NUM_THREADS "$@" 2>&1; }
tcp() { # rate|"" engine-args...
  local rate="$1"; shift
  "$here/hosts.sh" run --hosts 2 --timeout 300 ${rate:+--rate "$rate"} -- \
    sh -c '"$VGGT_NETNS_MPIRUN" --hostfile "$VGGT_NETNS_HOSTFILE" -np 2 -x OMP_NUM_THREADS "$@"' sh "$@" 2>&1
}
echo "# $(date -u +%FT%TZ) $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg); tiny model, $frames frames 518x518, 2 ranks, 1 thread each"
results="$tmp/results"
shm "$engine" bench-mpi | parse_link shm >>"$results"
tcp "" "$engine" bench-mpi | parse_link tcp >>"$results"
for r in $rates; do tcp "$r" "$engine" bench-mpi | parse_link "tcp@$r" >>"$results"; done
for mode in ulysses ring; do
  shm "$engine" "${args[@]}" --sp "$mode" | parse shm "$mode" >>"$results"
  tcp "" "$engine" "${args[@]}" --sp "$mode" | parse tcp "$mode" >>"$results"
  for r in $rates; do tcp "$r" "$engine" "${args[@]}" --sp "$mode" | parse "tcp@$r" "$mode" >>"$results"; done
done
echo "# link (bench-mpi): transport link one-way-latency_us GB/s@1MiB GB/s@16MiB alltoallv_ms(5.628 MB per rank)"
grep ' link ' "$results"
echo "# engine: transport mode wall_ms MB/layer MPI_ms/layer attention_ms/layer packing_ms/layer"
grep -v ' link ' "$results"
# The model, per global layer: MPI = wait + B / beta. wait (imbalance, scheduling) is fitted on
# shared memory; beta of each link is bench-mpi's all-to-all rate at the same bytes. Ring hides a
# step's transfer while it is shorter than the step's attention.
echo "# model vs measured, per global layer (rank 0)"
awk -v depth=4 '
  $2 == "link" { a2a[$1] = $6; next }
  { W[$1, $2] = $3; B[$1, $2] = $4; M[$1, $2] = $5; A[$1, $2] = $6; tr[$1] = 1; md[$2] = 1 }
  END {
    for (m in md) {
      wait = M["shm", m] - (m == "ulysses" ? a2a["shm"] : 0)
      for (t in tr) if ((t, m) in W) {
        wire = a2a[t]
        pred = (m == "ulysses") ? wait + wire : M["shm", m] + (wire > A[t, m] ? wire - A[t, m] : 0)
        printf "%-7s %-12s MPI %7.1f ms measured, %7.1f ms predicted (link %6.1f ms for %s MB); wall %6.1f s = %.2fx shm\n",
               m, t, M[t, m], pred, wire, B[t, m], W[t, m] / 1e3, W[t, m] / W["shm", m]
      }
    }
  }' "$results"

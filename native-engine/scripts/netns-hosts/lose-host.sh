#!/usr/bin/env bash
# Under hosts.sh: starts `mpirun.sh ARGS...` (its output to stdout), waits until rank 0 prints
# STAGE progress, then makes HOST disappear: `kill` SIGKILLs its vggt-engine rank, `link-down`
# takes its network interface away. Prints `lost-host: exit=RC seconds=S left=P` at the end:
# mpirun's exit status, seconds from the loss to mpirun's exit, and vggt-engine processes
# still alive on any host afterwards.
#   lose-host.sh kill|link-down HOST STAGE -- MPIRUN-ARGS...
set -uo pipefail
how="$1" host="$2" stage="$3"; shift 4
log=$(mktemp)
"$VGGT_NETNS_MPIRUN" "$@" >"$log" 2>&1 &
mpi=$!
for ((i = 0; i < 600; i++)); do
  grep -q "\] $stage " "$log" && break
  kill -0 $mpi 2>/dev/null || break
  sleep 0.2
done
ns="$VGGT_NETNS_PREFIX-$host"
case "$how" in
  kill) for p in $(ip netns pids "$ns"); do
          [ "$(cat /proc/$p/comm 2>/dev/null)" = vggt-engine ] && kill -9 "$p" && echo "lost-host: killed pid $p on $host"
        done ;;
  link-down) ip -n "$ns" link set mh0 down && echo "lost-host: $host's interface is down" ;;
esac
t0=$(date +%s.%N)
wait $mpi
rc=$?
t1=$(date +%s.%N)
sleep 1  # let killed processes be reaped
left=0
for h in $VGGT_NETNS_HOSTS; do
  for p in $(ip netns pids "$VGGT_NETNS_PREFIX-$h"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = vggt-engine ] && left=$((left + 1))
  done
done
cat "$log"; rm -f "$log"
echo "lost-host: exit=$rc seconds=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") left=$left"

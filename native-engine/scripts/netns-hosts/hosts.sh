#!/usr/bin/env bash
# Makes 2-4 "hosts" on this machine for multi-host MPI tests: Linux network namespaces
# vggt-<owner>-h0..hN-1, each with its own UTS hostname (h0..), loopback and one veth (mh0,
# 10.201.0.(k+1)/24) on a private bridge. Nothing is routed anywhere else: the namespaces reach
# only each other. Open MPI enters them through rsh-agent.sh instead of ssh.
#
#   hosts.sh run [--hosts N] [--timeout S] [--rate R] -- CMD ARGS...
#       create, run CMD (killed after S seconds, default 240) with the env below, always remove.
#   hosts.sh up [--hosts N] [--rate R] [--owner PID]   create; print the env lines; PID owns them
#   hosts.sh down PREFIX                               remove one set
#   hosts.sh can                                       exit 0 if namespaces can be made here
#
# Env for CMD (and printed by `up`): VGGT_NETNS_PREFIX, VGGT_NETNS_HOSTS ("h0 h1 ..."),
# VGGT_NETNS_HOSTFILE, VGGT_NETNS_MPIRUN (mpirun.sh: mpirun on h0 over TCP only).
# --rate limits every host's link (tc tbf, e.g. 10gbit, 1gbit) to imitate a slower network.
# Exit 77 with a printed reason when namespaces cannot be created (not root, no CAP_NET_ADMIN).
# Each `up` first removes sets whose owner process is gone (an earlier run that was killed).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SUBNET=10.201.0

die() { echo "netns-hosts: $*" >&2; exit 1; }

can_make() {
  command -v ip >/dev/null || { echo "netns-hosts: SKIP: the ip command (iproute2) is missing"; return 1; }
  command -v unshare >/dev/null || { echo "netns-hosts: SKIP: unshare (util-linux) is missing"; return 1; }
  [ "$(id -u)" = 0 ] || { echo "netns-hosts: SKIP: creating network namespaces needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN)"; return 1; }
  local probe="vggt-probe-$$" err
  if ! err=$(ip netns add "$probe" 2>&1); then
    echo "netns-hosts: SKIP: the kernel refused a network namespace: $err"; return 1
  fi
  ip netns del "$probe" 2>/dev/null
  if ! err=$(unshare --uts true 2>&1); then
    echo "netns-hosts: SKIP: the kernel refused a UTS namespace: $err"; return 1
  fi
  return 0
}

# Removes one set: namespaces (their processes first), bridge, /etc/netns files, state dir.
down() {
  local prefix="$1" ns pids
  [[ "$prefix" =~ ^vggt-[0-9]+$ ]] || die "down: bad prefix '$prefix'"
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-h[0-9]*$"); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  ip link del "vg${prefix#vggt-}br" 2>/dev/null
  rm -rf "/tmp/$prefix"
}

# Sets whose owner process no longer exists: leftovers of a killed run.
reap() {
  local prefix owner
  for prefix in $(ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^\(vggt-[0-9]*\)-h[0-9]*$/\1/p' | sort -u); do
    owner="${prefix#vggt-}"
    if ! kill -0 "$owner" 2>/dev/null; then
      echo "netns-hosts: removing leftovers of an earlier run ($prefix)" >&2
      down "$prefix"
    fi
  done
}

up() {
  local n="$1" rate="$2" owner="$3" prefix="vggt-$3" k ns br hosts="" lines=""
  [[ "$n" =~ ^[1-9]$ ]] || die "--hosts must be 1..9, got '$n'"
  reap
  br="vg${owner}br"
  ip link add "$br" type bridge || die "cannot create bridge $br"
  ip link set "$br" up
  mkdir -p "/tmp/$prefix"
  for ((k = 0; k < n; k++)); do
    ns="$prefix-h$k"; hosts+="h$k "
    lines+="$SUBNET.$((k + 1)) h$k"$'\n'
  done
  for ((k = 0; k < n; k++)); do
    ns="$prefix-h$k"
    ip netns add "$ns" || { down "$prefix"; die "cannot create namespace $ns"; }
    # `ip netns exec` bind-mounts this over /etc/hosts: the hosts find each other by name.
    mkdir -p "/etc/netns/$ns" && printf '127.0.0.1 localhost\n%s' "$lines" >"/etc/netns/$ns/hosts"
    ip link add "vg${owner}h$k" type veth peer name "vg${owner}p$k" || { down "$prefix"; die "cannot create veth"; }
    ip link set "vg${owner}p$k" netns "$ns"
    ip -n "$ns" link set "vg${owner}p$k" name mh0
    ip link set "vg${owner}h$k" master "$br" up
    ip -n "$ns" addr add "$SUBNET.$((k + 1))/24" dev mh0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set mh0 up
    if [ -n "$rate" ]; then
      ip netns exec "$ns" tc qdisc add dev mh0 root tbf rate "$rate" burst 1mb latency 50ms ||
        { down "$prefix"; die "tc tbf rate $rate failed"; }
    fi
  done
  printf '%s slots=1\n' $hosts >"/tmp/$prefix/hostfile"
  echo "VGGT_NETNS_PREFIX=$prefix"
  echo "VGGT_NETNS_HOSTS=${hosts% }"
  echo "VGGT_NETNS_HOSTFILE=/tmp/$prefix/hostfile"
  echo "VGGT_NETNS_MPIRUN=$here/mpirun.sh"
}

cmd="${1:-}"; shift || true
hosts=4 timeout_s=240 rate="" owner=$$
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --owner) owner="$2"; shift 2 ;;
    --) shift; break ;;
    *) [ "$cmd" = down ] && break; die "unknown argument '$1'" ;;
  esac
done

case "$cmd" in
  can) can_make >&2 || exit 77 ;;
  up)
    can_make >&2 || exit 77
    up "$hosts" "$rate" "$owner" ;;
  down) down "${1:?down PREFIX}" ;;
  run)
    [ $# -gt 0 ] || die "run: give a command after --"
    can_make >&2 || exit 77
    prefix="vggt-$$"
    trap 'down "$prefix"' EXIT
    trap 'exit 130' INT TERM
    env_lines=$(up "$hosts" "$rate" "$$") || exit 1
    while IFS= read -r l; do export "${l?}"; done <<<"$env_lines"
    # Own process group so that a timeout kills mpirun and everything it started.
    timeout --kill-after=10 "$timeout_s" "$@"
    rc=$?
    [ $rc = 124 ] && echo "netns-hosts: '$*' ran past ${timeout_s} s and was killed" >&2
    exit $rc ;;
  *) die "usage: hosts.sh run|up|down|can ... (see the header)" ;;
esac

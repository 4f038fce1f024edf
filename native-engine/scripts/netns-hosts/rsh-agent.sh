#!/usr/bin/env bash
# Open MPI's launch agent (plm_rsh_agent) for the namespace hosts of hosts.sh: called as
# `rsh-agent.sh HOST COMMAND...` where ssh would be, it runs COMMAND (an orted start line meant
# for a remote shell) inside HOST's network namespace, with HOST as the hostname.
set -euo pipefail
host="$1"; shift
: "${VGGT_NETNS_PREFIX:?rsh-agent.sh runs under hosts.sh (VGGT_NETNS_PREFIX unset)}"
[[ "$host" =~ ^h[0-9]+$ ]] || { echo "rsh-agent.sh: unknown host '$host' (hosts are h0, h1, ...)" >&2; exit 1; }
exec ip netns exec "$VGGT_NETNS_PREFIX-$host" unshare --uts /bin/sh -c "hostname $host && $*"

#!/usr/bin/env bash
# mpirun on host h0 of hosts.sh, launching the other hosts' daemons through rsh-agent.sh, with
# TCP as the only transport between ranks (btl tcp,self) on the hosts' own interface (mh0).
# Keepalives on the launch/control connections make a host that vanished (link down) noticed
# in seconds instead of Open MPI's default minutes; the ports are the pinned ranges that
# docs/MULTI-HOST.md tells a firewall to open. Arguments are mpirun's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${VGGT_NETNS_PREFIX:?mpirun.sh runs under hosts.sh (VGGT_NETNS_PREFIX unset)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# As environment defaults, so that a caller's own --mca (the app passes these) takes precedence.
export OMPI_MCA_oob_tcp_keepalive_time=${OMPI_MCA_oob_tcp_keepalive_time:-1} \
  OMPI_MCA_oob_tcp_keepalive_intvl=${OMPI_MCA_oob_tcp_keepalive_intvl:-1} \
  OMPI_MCA_oob_tcp_keepalive_probes=${OMPI_MCA_oob_tcp_keepalive_probes:-3}
exec ip netns exec "$VGGT_NETNS_PREFIX-h0" unshare --uts /bin/sh -c 'hostname h0 && exec "$@"' sh \
  mpirun --allow-run-as-root \
  --mca plm_rsh_agent "$here/rsh-agent.sh" \
  --bind-to none --mca btl tcp,self --mca btl_tcp_if_include mh0 --mca oob_tcp_if_include mh0 \
  --mca btl_tcp_port_min_v4 46000 --mca btl_tcp_port_range_v4 100 --mca oob_tcp_dynamic_ipv4_ports 46100-46199 \
  -x VGGT_NETNS_PREFIX "$@"

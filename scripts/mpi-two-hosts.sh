#!/usr/bin/env bash
# Two-host data-parallel test of swift-train on one machine.
#
# Makes two "hosts" out of two Linux network namespaces joined by a veth pair
# (swtrain-h1 10.77.0.1/24, swtrain-h2 10.77.0.2/24), runs a short llama-tiny training as
# 2 MPI ranks, one per namespace, and checks that the run succeeds and that its traffic
# (Open MPI's out-of-band channel and the TCP BTL carrying the gradient all-reduce and the
# ZeRO-1 parameter broadcast) really crossed the veth link: it prints the link's byte
# counters before and after and fails if fewer than MIN_MB (default 10) MB crossed it.
#
# What each host needs (as on a real cluster): Open MPI 4.1, the same swift-train binary at
# the same path, the repository (config and data folder, data/kjv) at the same path, and
# passwordless launch from the host running mpirun. Here the launch is `ip netns exec NAME`:
# this script is its own rsh agent (see __netns-exec below), because Open MPI hands the agent
# a command line meant for a remote shell, which `ip netns exec` alone cannot run. mpirun runs
# inside the first namespace, so both daemons reach it over 10.77.0.0/24.
#
# Usage (as root): bash scripts/mpi-two-hosts.sh [extra swift-train flags]
# Extra flags come last, so they override the defaults (e.g. --steps 5). Exit status is
# non-zero if training failed or too little traffic crossed the link.
set -euo pipefail

# rsh agent mode, called by Open MPI as: <agent> HOST <command words...>
if [[ ${1-} == __netns-exec ]]; then
  exec ip netns exec "$2" /bin/sh -c "${*:3}"
fi

NS1=swtrain-h1 NS2=swtrain-h2        # the two "hosts" (namespace = host name)
IF1=swt-h1 IF2=swt-h2                # the two ends of the veth link
NET=10.77.0.0/24 IP1=10.77.0.1 IP2=10.77.0.2
MIN_MB=${MIN_MB:-10}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
BIN=$ROOT/.build/release/swift-train

[[ $(id -u) == 0 ]] || { echo "error: run as root (creates network namespaces)" >&2; exit 2; }
[[ $SELF != *[[:space:]]* ]] || { echo "error: the script path must not contain spaces: $SELF" >&2; exit 2; }
[[ -x $BIN ]] || { echo "error: no swift-train binary at $BIN (build it first)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "error: mpirun not found (install openmpi-bin)" >&2; exit 2; }

TMP= MADE_ETC_NETNS=
[[ -d /etc/netns ]] || MADE_ETC_NETNS=1
cleanup() {
  ip netns del "$NS1" 2>/dev/null || true
  ip netns del "$NS2" 2>/dev/null || true
  ip link del "$IF1" 2>/dev/null || true   # only if it was never moved into a namespace
  rm -rf "/etc/netns/$NS1" "/etc/netns/$NS2"
  [[ -n $MADE_ETC_NETNS ]] && rmdir /etc/netns 2>/dev/null || true
  [[ -z $TMP ]] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup                                     # leftovers of an interrupted earlier run

# The two hosts and the link between them.
ip netns add "$NS1"
ip netns add "$NS2"
ip link add "$IF1" netns "$NS1" type veth peer name "$IF2" netns "$NS2"
ip -n "$NS1" addr add "$IP1/24" dev "$IF1"
ip -n "$NS2" addr add "$IP2/24" dev "$IF2"
for ns in "$NS1" "$NS2"; do ip -n "$ns" link set lo up; done
ip -n "$NS1" link set "$IF1" up
ip -n "$NS2" link set "$IF2" up
# Host names for the namespaces (each sees its own /etc/hosts under `ip netns exec`).
for ns in "$NS1" "$NS2"; do
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost %s\n%s %s\n%s %s\n' "$(hostname)" "$IP1" "$NS1" "$IP2" "$NS2" > "/etc/netns/$ns/hosts"
done

TMP=$(mktemp -d)
printf '%s slots=1\n%s slots=1\n' "$NS1" "$NS2" > "$TMP/hostfile"

stat_of() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
counters() {  # label: rx/tx bytes of both ends of the link
  printf '%-7s %s rx %s tx %s bytes | %s rx %s tx %s bytes\n' "$1" \
    "$IF1" "$(stat_of "$NS1" "$IF1" rx_bytes)" "$(stat_of "$NS1" "$IF1" tx_bytes)" \
    "$IF2" "$(stat_of "$NS2" "$IF2" rx_bytes)" "$(stat_of "$NS2" "$IF2" tx_bytes)"
}
link_bytes() { echo $(( $(stat_of "$NS1" "$IF1" rx_bytes) + $(stat_of "$NS1" "$IF1" tx_bytes) )); }

echo "hosts: $NS1 ($IF1 $IP1) <-> $NS2 ($IF2 $IP2); repository $ROOT"
counters before
before=$(link_bytes)

# mpirun on host 1; one rank per host. --bind-to none: both "hosts" share this machine's cores,
# and the default binding would pin each host's rank to core 0, i.e. both ranks to one core.
status=0
ip netns exec "$NS1" mpirun --allow-run-as-root -np 2 --hostfile "$TMP/hostfile" \
  --mca plm_rsh_agent "bash $SELF __netns-exec" \
  --mca btl tcp,self --mca btl_tcp_if_include "$NET" --mca oob_tcp_if_include "$NET" \
  --bind-to none --wdir "$ROOT" \
  "$BIN" train --config configs/llama-tiny.json --steps 20 --log-every 1 --eval-every 0 \
  --checkpoint-every 0 --threads 1 --out "$TMP/run" "$@" 2>&1 | tee "$TMP/log" || status=$?

counters after
crossed=$(( $(link_bytes) - before ))
echo "crossed the link: $crossed bytes ($(( crossed / 1000000 )) MB, both directions)"
grep -E '^\s*final train loss' "$TMP/log" || true

if (( status != 0 )); then echo "FAIL: training exited with status $status" >&2; exit 1; fi
if (( crossed < MIN_MB * 1000000 )); then
  echo "FAIL: only $crossed bytes crossed the link (expected at least $MIN_MB MB)" >&2; exit 1
fi
echo "OK: 2 ranks on 2 network namespaces trained over $IF1 <-> $IF2"

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/lane-spread.sh: how evenly N TCP connections to one host:port (as
# QEMU multifd opens them) spread over 3 paths, with lane-steer
# (nftables numgen) and with ECMP (multipath route, L4 hash,
# fib_multipath_hash_policy=1).  Two throwaway namespaces
# (tests/script/lane-netns.sh); root.  Prints a table.
#
#   sh bench/lane-spread.sh TCP_SPRAY [RUNS] [BYTES]
#
# TCP_SPRAY is BUILDDIR/tests/fixtures/tcp-spray; RUNS per (method, N),
# default 10; BYTES per connection, default 1000000.
set -u
SPRAY=$1
RUNS=${2:-10}
BYTES=${3:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
S=$SRC/qemu-scripts

[ "$(id -u)" -eq 0 ] || {
    echo "lane-spread: needs root" >&2
    exit 1
}
# shellcheck source-path=SCRIPTDIR source=../tests/script/lane-netns.sh
. "$SRC/tests/script/lane-netns.sh"
STATE=$(mktemp -d "${TMPDIR:-/tmp}/vl-spread.XXXXXX")
# shellcheck disable=SC2317 # called from the trap
cleanup() {
    ln_teardown
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ln_setup 3 || exit 1
for i in 1 2; do
    # shellcheck disable=SC2046 # one option or value per line
    ln_a "$S/lane-up" $(ln_lane_args a "$i") --state-dir "$STATE/a" || exit 1
    # shellcheck disable=SC2046
    ln_b "$S/lane-up" $(ln_lane_args b "$i") --state-dir "$STATE/b" || exit 1
done

PORT=6000
# one_run N: prints the bytes per path "st0 st1 st2" of one spray.
one_run() {
    PORT=$((PORT + 1))
    b0=$(ln_tx "$LN_A" st0)
    b1=$(ln_tx "$LN_A" st1)
    b2=$(ln_tx "$LN_A" st2)
    ln_b "$SPRAY" listen "$LN_MIG_B" "$PORT" "$1" >"$STATE/listen" &
    lpid=$!
    tries=0
    until grep -q listening "$STATE/listen" 2>/dev/null || [ "$tries" -gt 100 ]; do
        tries=$((tries + 1))
        sleep 0.05
    done
    ln_a "$SPRAY" send "$LN_MIG_B" "$PORT" "$1" "$BYTES" || echo "send failed" >&2
    wait "$lpid"
    echo "$(($(ln_tx "$LN_A" st0) - b0)) $(($(ln_tx "$LN_A" st1) - b1)) $(($(ln_tx "$LN_A" st2) - b2))"
}

# measure METHOD N: one table row.
measure() {
    r=0
    : >"$STATE/rows"
    while [ "$r" -lt "$RUNS" ]; do
        one_run "$2" >>"$STATE/rows"
        r=$((r + 1))
    done
    awk -v m="$1" -v n="$2" -v B="$BYTES" '
        { for (i = 1; i <= 3; i++) { s[i] += $i; c = int(($i + B / 2) / B);
              if (c == 0) idle[NR] = 1; if (i == 1 || c > hi) hi = c; if (i == 1 || c < lo) lo = c }
          if (hi - lo > worst) worst = hi - lo
          conns = conns (NR > 1 ? " " : "") int(($1 + B/2)/B) "/" int(($2 + B/2)/B) "/" int(($3 + B/2)/B) }
        END { printf "| %-5s | %d | %d | %.2f / %.2f / %.2f | %d | %d | %s |\n", m, n, NR,
                     s[1] / NR / 1e6, s[2] / NR / 1e6, s[3] / NR / 1e6, length(idle), worst, conns }' \
        "$STATE/rows"
}

echo "| method | N | runs | mean MB per path (st0 / st1 / st2) | runs with an idle path | worst spread (max-min conns) | connections per path, each run |"
echo "|---|---|---|---|---|---|---|"

ln_a "$S/lane-steer" --peer-migration-address "$LN_MIG_B" --base-mark 7600 \
    --lane st1:7601 --lane st2:7602 || exit 1
ln_b "$S/lane-steer" --peer-migration-address "$LN_MIG_A" --base-mark 7600 \
    --lane st1:7601 --lane st2:7602 || exit 1
for n in 3 4 6 8; do
    measure nft "$n"
done
ln_a "$S/lane-steer" --peer-migration-address "$LN_MIG_B" --base-mark 7600 || exit 1
ln_b "$S/lane-steer" --peer-migration-address "$LN_MIG_A" --base-mark 7600 || exit 1

ln_a sysctl -qw net.ipv4.fib_multipath_hash_policy=1
ln_b sysctl -qw net.ipv4.fib_multipath_hash_policy=1
ln_a ip route replace "$LN_MIG_B/32" src "$LN_MIG_A" nexthop via 198.18.200.2 dev st0 weight 1 \
    nexthop via 198.18.201.2 dev st1 weight 1 nexthop via 198.18.202.2 dev st2 weight 1 || exit 1
ln_b ip route replace "$LN_MIG_A/32" src "$LN_MIG_B" nexthop via 198.18.200.1 dev st0 weight 1 \
    nexthop via 198.18.201.1 dev st1 weight 1 nexthop via 198.18.202.1 dev st2 weight 1 || exit 1
# Strict rp_filter on 'all' would drop what ECMP sends back on another path.
ln_b sysctl -qw net.ipv4.conf.all.rp_filter=2
ln_a sysctl -qw net.ipv4.conf.all.rp_filter=2
for n in 3 4 6 8; do
    measure ecmp "$n"
done

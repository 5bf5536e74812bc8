# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# The lane scripts for real, in two throwaway namespaces (lane-netns.sh):
# bad arguments change nothing; lane-up twice, lane-steer and lane-down
# twice on both hosts; TCP connections to the peer's migration address
# spread evenly (counted in tx bytes per interface); replies come back by
# the lane they arrived on; afterwards rules, routes, nftables, addresses
# and link states are exactly as before; a half-up lane comes down.
# Root only (exit 77 otherwise).
#
# Usage: sh lane-scripts.sh SRCDIR TCP_SPRAY

set -u
SRC=$1
SPRAY=$2
S=$SRC/qemu-scripts
FAILURES=0
# Payload per connection: big enough that ARP and handshakes are noise.
BYTES=400000

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root"
    exit 77
fi
for c in ip nft; do
    command -v "$c" >/dev/null 2>&1 || {
        echo "SKIP: needs '$c'"
        exit 77
    }
done

# shellcheck source-path=SCRIPTDIR source=lane-netns.sh
. "$(dirname "$0")/lane-netns.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vl-lane-test.XXXXXX")
# shellcheck disable=SC2317 # called from the trap
cleanup() {
    ln_teardown
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! ip netns add "$LN_A" 2>/dev/null; then
    echo "SKIP: cannot create network namespaces"
    exit 77
fi
ip netns del "$LN_A"

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    FAILURES=$((FAILURES + 1))
}

ln_setup 3 || {
    echo "FAIL: cannot build the namespaces" >&2
    exit 1
}

# run NS SCRIPT ARGS...: as the daemon runs it (empty environment but
# PATH); sets CODE, stderr in $TMP/err.
run() {
    rns=$1
    rscript=$2
    shift 2
    ip netns exec "$rns" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        timeout 20 "$S/$rscript" "$@" >"$TMP/out" 2>"$TMP/err"
    CODE=$?
}

# snapshot NS: everything the scripts may touch.
snapshot() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    ip netns exec "$1" sh -c '
        ip rule show
        echo ---
        ip route show table all
        echo ---
        ip -o addr show
        echo ---
        ip -o link show | sed "s/ qlen.*//" | cut -d" " -f2,3
        echo ---
        for f in /proc/sys/net/ipv4/conf/st*/rp_filter; do echo "$f $(cat "$f")"; done
        echo ---
        nft list ruleset'
}

snapshot "$LN_A" >"$TMP/before-a"
snapshot "$LN_B" >"$TMP/before-b"

# ---- bad arguments: exit 2, nothing changed -------------------------------
bad_args() {
    what=$1
    shift
    run "$LN_A" lane-up "$@" --state-dir "$TMP/state-a"
    [ "$CODE" -eq 2 ] || fail "lane-up $what: exit $CODE, expected 2"
    [ -s "$TMP/err" ] || fail "lane-up $what: no message on stderr"
    run "$LN_A" lane-down "$@" --state-dir "$TMP/state-a"
    [ "$CODE" -eq 2 ] || fail "lane-down $what: exit $CODE, expected 2"
}
good="--address 198.18.201.1/24 --peer 198.18.201.2 --peer-migration-address $LN_MIG_B --table 7601 --mark 7601"
# shellcheck disable=SC2086 # $good is split into options on purpose
{
    bad_args "no arguments"
    bad_args "interface with a space" --interface "st 1" $good
    bad_args "interface with a newline" --interface "$(printf 'st1\nx')" $good
    bad_args "interface starting with -" --interface "-st1" $good
    bad_args "interface too long" --interface "abcdefghijklmnop" $good
    bad_args "positional argument" st1 $good
    bad_args "unknown option" --interface st1 --colour red $good
    bad_args "option without value" --interface st1 $good --mark
}
run "$LN_A" lane-up --interface st1 --address 198.18.201.1 --peer 198.18.201.2 \
    --peer-migration-address "$LN_MIG_B" --table 7601 --mark 7601 --state-dir "$TMP/state-a"
[ "$CODE" -eq 2 ] || fail "lane-up without prefix length: exit $CODE"
run "$LN_A" lane-up --interface st1 --address 198.18.201.1/24 --peer fd00::2 \
    --peer-migration-address "$LN_MIG_B" --table 7601 --mark 7601 --state-dir "$TMP/state-a"
[ "$CODE" -eq 2 ] || fail "lane-up with mixed families: exit $CODE"
run "$LN_A" lane-up --interface st1 --address 198.18.201.1/24 --peer 198.18.201.2 \
    --peer-migration-address "$LN_MIG_B" --table 254 --mark 7601 --state-dir "$TMP/state-a"
[ "$CODE" -eq 2 ] || fail "lane-up into the main table: exit $CODE"
run "$LN_A" lane-up --interface st1 --address 198.18.201.1/24 --peer 198.18.201.2 \
    --peer-migration-address "$LN_MIG_B" --table 7601 --mark 7601 --state-dir relative
[ "$CODE" -eq 2 ] || fail "lane-up with a relative state dir: exit $CODE"
run "$LN_A" lane-steer --peer-migration-address "$LN_MIG_B" --base-mark 7600 --lane 'st"1:7601'
[ "$CODE" -eq 2 ] || fail "lane-steer with a quote in a name: exit $CODE"
run "$LN_A" lane-steer --peer-migration-address "$LN_MIG_B" --base-mark 7600 --lane st1:7600
[ "$CODE" -eq 2 ] || fail "lane-steer with a lane on the base mark: exit $CODE"
run "$LN_A" lane-steer --peer-migration-address "$LN_MIG_B" --base-mark 7600 --lane st1:7601 --lane st1:7602
[ "$CODE" -eq 2 ] || fail "lane-steer with a lane twice: exit $CODE"
run "$LN_A" lane-steer --peer-migration-address "1.2.3" --base-mark 7600
[ "$CODE" -eq 2 ] || fail "lane-steer with a bad address: exit $CODE"
# Names the kernel accepts, however odd, are arguments like any other.
for name in nosuch0 "st'1" "st1;reboot" "$(printf 'st\377')"; do
    # shellcheck disable=SC2086
    run "$LN_A" lane-up --interface "$name" $good --state-dir "$TMP/state-a"
    [ "$CODE" -eq 1 ] || fail "lane-up on missing interface '$name': exit $CODE, expected 1"
    grep -q "no interface" "$TMP/err" || fail "lane-up on missing '$name': says '$(cat "$TMP/err")'"
done

snapshot "$LN_A" >"$TMP/after-bad-a"
cmp -s "$TMP/before-a" "$TMP/after-bad-a" || fail "bad arguments changed something: $(diff "$TMP/before-a" "$TMP/after-bad-a")"

# ---- up (twice) and steer on both hosts -------------------------------------
for side in a b; do
    ns=$LN_A
    peer_mig=$LN_MIG_B
    [ "$side" = b ] && ns=$LN_B && peer_mig=$LN_MIG_A
    for i in 1 2; do
        for round in 1 2; do
            # shellcheck disable=SC2046 # one option or value per line
            run "$ns" lane-up $(ln_lane_args "$side" "$i") --state-dir "$TMP/state-$side"
            [ "$CODE" -eq 0 ] || fail "lane-up st$i on $side (round $round): exit $CODE: $(cat "$TMP/err")"
        done
    done
    for round in 1 2; do
        run "$ns" lane-steer --peer-migration-address "$peer_mig" --base-mark 7600 \
            --lane st1:7601 --lane st2:7602
        [ "$CODE" -eq 0 ] || fail "lane-steer on $side (round $round): exit $CODE: $(cat "$TMP/err")"
    done
done

for i in 1 2; do
    t=$((7600 + i))
    [ "$(ln_a ip rule show fwmark "$t" lookup "$t" | wc -l)" -eq 1 ] ||
        fail "a: not exactly one rule for fwmark $t after lane-up twice"
    ln_a ip route show table "$t" | grep -q "^$LN_MIG_B via 198.18.$((200 + i)).2 dev st$i" ||
        fail "a: no route to $LN_MIG_B via st$i in table $t"
    ln_a ip link show st"$i" | head -n 1 | grep -q '[<,]UP[,>]' || fail "a: st$i is not up"
    ln_a ip -o addr show dev st"$i" | grep -q " 198.18.$((200 + i)).1/24 " || fail "a: st$i has no address"
    [ "$(ln_a cat /proc/sys/net/ipv4/conf/st$i/rp_filter)" = 2 ] || fail "a: st$i rp_filter is not loose"
done
ln_a nft list table inet virt_lanes_198_19_200_2 >"$TMP/nft-a" 2>&1 ||
    fail "a: no nftables table for $LN_MIG_B"
grep -q 'numgen inc mod 3' "$TMP/nft-a" || fail "a: steering is not over 3 paths: $(cat "$TMP/nft-a")"
ln_b nft list table inet virt_lanes_198_19_200_1 >/dev/null 2>&1 ||
    fail "b: no nftables table for $LN_MIG_A"

# ---- spreading ------------------------------------------------------------
# spray N: N connections a -> b's migration address; sets CONNS to the
# connections per path "st0 st1 st2" (bytes rounded to connections).
PORT=5100
spray() {
    n=$1
    PORT=$((PORT + 1))
    set -- "$(ln_tx "$LN_A" st0)" "$(ln_tx "$LN_A" st1)" "$(ln_tx "$LN_A" st2)"
    rb1=$(ln_tx "$LN_B" st1)
    rb2=$(ln_tx "$LN_B" st2)
    rm -f "$TMP/listen"
    ln_b "$SPRAY" listen "$LN_MIG_B" "$PORT" "$n" >"$TMP/listen" &
    lpid=$!
    tries=0
    until grep -q listening "$TMP/listen" 2>/dev/null; do
        tries=$((tries + 1))
        [ "$tries" -lt 100 ] || break
        sleep 0.05
    done
    ln_a "$SPRAY" send "$LN_MIG_B" "$PORT" "$n" "$BYTES" || fail "spray $n: send failed"
    wait "$lpid" || fail "spray $n: the listener failed"
    CONNS=
    j=0
    for before in "$@"; do
        after=$(ln_tx "$LN_A" "st$j")
        CONNS="$CONNS$(((after - before + BYTES / 2) / BYTES)) "
        j=$((j + 1))
    done
    CONNS=${CONNS% }
    # Replies (ACKs) of a connection that arrived on a lane leave by it.
    REPLIES_ON_LANES=0
    [ "$(ln_tx "$LN_B" st1)" -gt "$rb1" ] && [ "$(ln_tx "$LN_B" st2)" -gt "$rb2" ] &&
        REPLIES_ON_LANES=1
    echo "spray $n connections: per path (st0 st1 st2) $CONNS" >&2
}

# sorted CONNS, e.g. "1 1 2"
sorted() {
    # shellcheck disable=SC2086 # one number per line
    printf '%s\n' $CONNS | sort -n | paste -sd' ' -
}

spray 6
[ "$CONNS" = "2 2 2" ] || fail "6 connections over 3 paths: $CONNS, expected 2 2 2"
[ "$REPLIES_ON_LANES" = 1 ] || fail "b's replies did not leave by the lanes"
spray 3
[ "$(sorted)" = "1 1 1" ] || fail "3 connections over 3 paths: $CONNS, expected 1 1 1"
spray 4
[ "$(sorted)" = "1 1 2" ] || fail "4 connections over 3 paths: $CONNS, expected one path with 2"
spray 9
[ "$CONNS" = "3 3 3" ] || fail "9 connections over 3 paths: $CONNS, expected 3 3 3"

# Steering over one lane only: st2 carries nothing.
run "$LN_A" lane-steer --peer-migration-address "$LN_MIG_B" --base-mark 7600 --lane st1:7601
[ "$CODE" -eq 0 ] || fail "lane-steer over st1 only: exit $CODE: $(cat "$TMP/err")"
spray 4
[ "$CONNS" = "2 2 0" ] || fail "4 connections over st0+st1: $CONNS, expected 2 2 0"

# ---- down (twice), unsteer: everything as before ----------------------------
for side in a b; do
    ns=$LN_A
    peer_mig=$LN_MIG_B
    [ "$side" = b ] && ns=$LN_B && peer_mig=$LN_MIG_A
    for round in 1 2; do
        run "$ns" lane-steer --peer-migration-address "$peer_mig" --base-mark 7600
        [ "$CODE" -eq 0 ] || fail "unsteer on $side (round $round): exit $CODE: $(cat "$TMP/err")"
        for i in 1 2; do
            # shellcheck disable=SC2046
            run "$ns" lane-down $(ln_lane_args "$side" "$i") --state-dir "$TMP/state-$side"
            [ "$CODE" -eq 0 ] || fail "lane-down st$i on $side (round $round): exit $CODE: $(cat "$TMP/err")"
        done
    done
done
snapshot "$LN_A" >"$TMP/after-a"
snapshot "$LN_B" >"$TMP/after-b"
cmp -s "$TMP/before-a" "$TMP/after-a" || fail "a differs after down: $(diff "$TMP/before-a" "$TMP/after-a")"
cmp -s "$TMP/before-b" "$TMP/after-b" || fail "b differs after down: $(diff "$TMP/before-b" "$TMP/after-b")"
[ -z "$(ls -A "$TMP/state-a")" ] || fail "lane-down left state files: $(ls "$TMP/state-a")"

# ---- an interface name with a quote and a ';' -------------------------------
odd="q'x;y"
if ip link add "$odd" netns "$LN_A" type veth peer name "$odd" netns "$LN_B"; then
    snapshot "$LN_A" >"$TMP/before-odd-a"
    run "$LN_A" lane-up --interface "$odd" --address 198.18.210.1/24 --peer 198.18.210.2 \
        --peer-migration-address "$LN_MIG_B" --table 7610 --mark 7610 --state-dir "$TMP/state-a"
    [ "$CODE" -eq 0 ] || fail "lane-up on '$odd': exit $CODE: $(cat "$TMP/err")"
    ln_a ip route show table 7610 | grep -q "dev $odd" || fail "lane-up on '$odd': no route"
    run "$LN_A" lane-steer --peer-migration-address "$LN_MIG_B" --base-mark 7600 --lane "$odd:7610"
    [ "$CODE" -eq 0 ] || fail "lane-steer over '$odd': exit $CODE: $(cat "$TMP/err")"
    ln_a nft list table inet virt_lanes_198_19_200_2 | grep -q "\"$odd\" : 0x00001dba" ||
        fail "lane-steer over '$odd': not in the map"
    run "$LN_A" lane-steer --peer-migration-address "$LN_MIG_B" --base-mark 7600
    run "$LN_A" lane-down --interface "$odd" --address 198.18.210.1/24 --peer 198.18.210.2 \
        --peer-migration-address "$LN_MIG_B" --table 7610 --mark 7610 --state-dir "$TMP/state-a"
    [ "$CODE" -eq 0 ] || fail "lane-down on '$odd': exit $CODE: $(cat "$TMP/err")"
    snapshot "$LN_A" >"$TMP/after-odd-a"
    cmp -s "$TMP/before-odd-a" "$TMP/after-odd-a" ||
        fail "'$odd' differs after down: $(diff "$TMP/before-odd-a" "$TMP/after-odd-a")"
    ip -n "$LN_A" link del "$odd"
    snapshot "$LN_A" >"$TMP/before-a"
else
    fail "cannot create an interface named '$odd'"
fi

# ---- a half-up lane -----------------------------------------------------------
# The peer is outside the lane's subnet: the link comes up and the address
# is added, then the route fails.
run "$LN_A" lane-up --interface st2 --address 198.18.202.1/24 --peer 198.18.99.2 \
    --peer-migration-address "$LN_MIG_B" --table 7602 --mark 7602 --state-dir "$TMP/state-a"
[ "$CODE" -eq 1 ] || fail "half-up lane-up: exit $CODE, expected 1"
grep -q "cannot route" "$TMP/err" || fail "half-up lane-up: says '$(head -n 1 "$TMP/err")'"
ln_a ip link show st2 | head -n 1 | grep -q '[<,]UP[,>]' || fail "half-up: the test did not get half way"
run "$LN_A" lane-down --interface st2 --address 198.18.202.1/24 --peer 198.18.99.2 \
    --peer-migration-address "$LN_MIG_B" --table 7602 --mark 7602 --state-dir "$TMP/state-a"
[ "$CODE" -eq 0 ] || fail "lane-down of a half-up lane: exit $CODE: $(cat "$TMP/err")"
snapshot "$LN_A" >"$TMP/after-half-a"
cmp -s "$TMP/before-a" "$TMP/after-half-a" ||
    fail "a differs after a half-up lane came down: $(diff "$TMP/before-a" "$TMP/after-half-a")"

# Down on a lane that never came up changes nothing and succeeds.
# shellcheck disable=SC2046
run "$LN_A" lane-down $(ln_lane_args a 1) --state-dir "$TMP/state-a"
[ "$CODE" -eq 0 ] || fail "lane-down of a lane never up: exit $CODE: $(cat "$TMP/err")"
snapshot "$LN_A" >"$TMP/after-never-a"
cmp -s "$TMP/before-a" "$TMP/after-never-a" || fail "lane-down of a lane never up changed something"

if [ "$FAILURES" -gt 0 ]; then
    printf '%d failure(s)\n' "$FAILURES" >&2
    exit 1
fi
exit 0

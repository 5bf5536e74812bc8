# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# virt-lanesd with the real lane scripts, in two throwaway namespaces
# (lane-netns.sh) standing for hosts a and b, libvirt being
# test:///default:
#   - 'virt-lanes lanes up' on a brings st1, st2 up and steers;
#   - the real hook's 'migrate begin' on b with a plan in the XML returns
#     only once b's lanes are up;
#   - 6 connections a -> b spread 2/2/2, replies leave b by the lanes;
#   - the hook's 'release end' takes b's lanes down, 'lanes down' a's;
#   - a daemon killed with SIGKILL leaves lanes that the next start tears
#     down (journal recovery); SIGTERM takes them down before exiting;
#   - afterwards both namespaces are exactly as before.
# Root only (exit 77 otherwise).
#
# Usage: sh lanes-daemon.sh SRCDIR BUILDDIR TCP_SPRAY

set -u
SRC=$1
BUILD=$2
SPRAY=$3
DAEMON=$BUILD/plugin/daemon/virt-lanesd
CLI=$BUILD/plugin/cli/virt-lanes
HOOK=$BUILD/hook/virt-lanes-hook
FAILURES=0

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

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vl-lanes-daemon.XXXXXX")
chmod 0755 "$TMP"
PID_A=
PID_B=
# shellcheck disable=SC2317 # called from the trap
cleanup() {
    for p in $PID_A $PID_B; do
        kill -9 "$p" 2>/dev/null
    done
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

snapshot() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    ip netns exec "$1" sh -c '
        ip rule show; echo ---; ip route show table all; echo ---; ip -o addr show
        echo ---; ip -o link show | sed "s/ qlen.*//" | cut -d" " -f2,3; echo ---
        for f in /proc/sys/net/ipv4/conf/st*/rp_filter; do echo "$f $(cat "$f")"; done
        echo ---; nft list ruleset'
}
snapshot "$LN_A" >"$TMP/before-a"
snapshot "$LN_B" >"$TMP/before-b"

# setup_host SIDE OWN_MIG PEER_NAME PEER_MIG OWN_OCTET PEER_OCTET
setup_host() {
    mkdir -m 0755 "$TMP/$1" "$TMP/$1/policies.d"
    cat >"$TMP/$1/policies.d/10-test.json" <<EOF
{"migration": {"lane_up_max_s": 5, "migration_address": "$2", "incoming_lanes": true,
  "peers": [{"name": "$3", "uri": "qemu+tcp://198.18.0.1/system", "migration_address": "$4",
    "lanes": [
      {"interface": "st1", "address": "198.18.201.$5/24", "peer_address": "198.18.201.$6", "bandwidth_mbit": 100},
      {"interface": "st2", "address": "198.18.202.$5/24", "peer_address": "198.18.202.$6", "bandwidth_mbit": 100}]}]}}
EOF
    chmod 0644 "$TMP/$1/policies.d/10-test.json"
    cat >"$TMP/$1/virt-lanesd.conf" <<EOF
[daemon]
uri = test:///default
socket = $TMP/$1/sock
policy_dir = $TMP/$1/policies.d
log_file = $TMP/$1/virt-lanesd.log
[lanes]
journal = $TMP/$1/lanes.json
script_dir = $SRC/qemu-scripts
state_dir = $TMP/$1/state
EOF
}
setup_host a "$LN_MIG_A" host-b "$LN_MIG_B" 1 2
setup_host b "$LN_MIG_B" host-a "$LN_MIG_A" 2 1

# start SIDE: sets PID_<SIDE>; waits for the socket.
start() {
    ns=$LN_A
    [ "$1" = b ] && ns=$LN_B
    rm -f "$TMP/$1/sock"
    ip netns exec "$ns" "$DAEMON" --config "$TMP/$1/virt-lanesd.conf" --verbose \
        </dev/null 2>>"$TMP/$1/stderr" &
    pid=$!
    if [ "$1" = a ]; then PID_A=$pid; else PID_B=$pid; fi
    tries=0
    until [ -S "$TMP/$1/sock" ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
            fail "daemon $1 did not start: $(tail -n 5 "$TMP/$1/virt-lanesd.log" 2>/dev/null)"
            return 1
        fi
        sleep 0.05
    done
}

# stop SIDE SIGNAL: waits until the daemon is gone.
stop() {
    pid=$PID_A
    [ "$1" = b ] && pid=$PID_B
    kill "-$2" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ "$1" = a ]; then PID_A=; else PID_B=; fi
}

cli() {
    side=$1
    shift
    timeout 60 "$CLI" --socket "$TMP/$side/sock" "$@"
}

is_up() { # NS IF
    ip netns exec "$1" ip link show dev "$2" | head -n 1 | grep -q '[<,]UP[,>]'
}

start a || exit 1
start b || exit 1

# ---- the CLI's usage errors change nothing ---------------------------------------
cli_code() { # EXPECTED ARGS...
    want=$1
    shift
    cli a "$@" >/dev/null 2>"$TMP/cli.err"
    got=$?
    [ "$got" = "$want" ] || fail "virt-lanes $*: exit $got, expected $want ($(cat "$TMP/cli.err"))"
}
cli_code 2 lanes bogus
cli_code 2 lanes up host-b --count 1
cli_code 2 lanes up host-b --plan p.1
cli_code 2 lanes up host-b --plan p.1 --count 1 --lane st1
cli_code 2 lanes up --plan p.1 --count 1
cli_code 2 lanes up host-b --plan p.1 --count x
cli_code 2 lanes down
cli_code 2 lanes list extra
cli_code 1 lanes up "host-b;reboot" --plan p.1 --count 1
grep -q "No peer 'host-b;reboot'" "$TMP/cli.err" || fail "unknown peer: $(cat "$TMP/cli.err")"
cli_code 1 lanes up host-b --plan "$(printf 'p\n1')" --count 1
cli_code 1 lanes down --plan never.1
[ -e "$TMP/a/lanes.json" ] && fail "a: usage errors wrote a journal"
timeout 20 "$CLI" --socket "$TMP/nosuch.sock" lanes >/dev/null 2>&1
[ $? -eq 1 ] || fail "virt-lanes lanes without a daemon: not exit 1"

# ---- lanes up on a ------------------------------------------------------------
cli a lanes up host-b --plan test.1 --count 2 >"$TMP/up.out" 2>"$TMP/up.err" ||
    fail "lanes up on a: $(cat "$TMP/up.err")"
if ! is_up "$LN_A" st1 || ! is_up "$LN_A" st2; then
    fail "a: st1/st2 not up"
fi
ln_a nft list table inet virt_lanes_198_19_200_2 >/dev/null 2>&1 || fail "a: not steered"
cli a lanes --json >"$TMP/list.json"
grep -q '"plans":\["test.1"\]' "$TMP/list.json" || fail "a: lanes not listed for test.1: $(cat "$TMP/list.json")"

# ---- the hook's migrate begin on b with a plan -----------------------------------
cat >"$TMP/incoming.xml" <<EOF
<domain type='qemu'>
  <name>web 'one'</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <metadata>
    <lanesplan:plan xmlns:lanesplan='https://virt-lanes.org/xmlns/plan/1.0' id='test.1' channels='6'>
      <lanesplan:source host='host-a' migration-address='$LN_MIG_A'/>
      <lanesplan:lane source-address='198.18.201.1' dest-address='198.18.201.2'/>
      <lanesplan:lane source-address='198.18.202.1' dest-address='198.18.202.2'/>
    </lanesplan:plan>
  </metadata>
  <devices><graphics type='vnc' passwd='s3cr3t'/></devices>
</domain>
EOF
hook() { # SUBOP-ARGS...: the real hook as libvirtd runs it, on b
    ip netns exec "$LN_B" env -i PATH=/usr/bin:/bin VL_HOOK_SOCKET="$TMP/b/sock" \
        VL_HOOK_LOG_STDERR=1 timeout 10 "$HOOK" "$@" >"$TMP/hook.out" 2>"$TMP/hook.err"
}
is_up "$LN_B" st1 && fail "b: st1 up before migrate begin"
hook "web 'one'" migrate begin - <"$TMP/incoming.xml" || fail "hook: exit $?"
[ -s "$TMP/hook.out" ] && fail "hook wrote to stdout (libvirt would take it as XML)"
# The hook returned: the lanes must be up already.
if ! is_up "$LN_B" st1 || ! is_up "$LN_B" st2; then
    fail "b: lanes not up when the hook returned"
fi
ln_b ip route show table 7601 | grep -q "$LN_MIG_A via 198.18.201.1 dev st1" ||
    fail "b: no route back via st1"
grep -q "s3cr3t" "$TMP/b/virt-lanesd.log" && fail "b: the XML's secret reached the log"

# ---- spreading, both ways -----------------------------------------------------------
b0=$(ln_tx "$LN_A" st0)
b1=$(ln_tx "$LN_A" st1)
b2=$(ln_tx "$LN_A" st2)
r1=$(ln_tx "$LN_B" st1)
r2=$(ln_tx "$LN_B" st2)
ln_b "$SPRAY" listen "$LN_MIG_B" 5300 6 >"$TMP/listen" &
lpid=$!
tries=0
until grep -q listening "$TMP/listen" 2>/dev/null || [ "$tries" -gt 100 ]; do
    tries=$((tries + 1))
    sleep 0.05
done
ln_a "$SPRAY" send "$LN_MIG_B" 5300 6 400000 || fail "spray: send failed"
wait "$lpid" || fail "spray: listener failed"
conns="$((($(ln_tx "$LN_A" st0) - b0 + 200000) / 400000)) $((($(ln_tx "$LN_A" st1) - b1 + 200000) / 400000)) $((($(ln_tx "$LN_A" st2) - b2 + 200000) / 400000))"
echo "6 connections per path (st0 st1 st2): $conns" >&2
[ "$conns" = "2 2 2" ] || fail "6 connections spread $conns, expected 2 2 2"
if [ "$(ln_tx "$LN_B" st1)" -le "$r1" ] || [ "$(ln_tx "$LN_B" st2)" -le "$r2" ]; then
    fail "b's replies did not leave by the lanes"
fi

# ---- the incoming migration ends: b's lanes come down ----------------------------------
hook "web 'one'" release end - </dev/null || fail "hook release: exit $?"
tries=0
while is_up "$LN_B" st1; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || {
        fail "b: st1 still up after release end"
        break
    }
    sleep 0.1
done
cli a lanes down --plan test.1 >/dev/null || fail "lanes down on a"

snapshot "$LN_A" >"$TMP/mid-a"
snapshot "$LN_B" >"$TMP/mid-b"
cmp -s "$TMP/before-a" "$TMP/mid-a" || fail "a differs after lanes down: $(diff "$TMP/before-a" "$TMP/mid-a")"
cmp -s "$TMP/before-b" "$TMP/mid-b" || fail "b differs after the migration: $(diff "$TMP/before-b" "$TMP/mid-b")"

# ---- crash and recovery ----------------------------------------------------------------
cli a lanes up host-b --plan crash.1 --lane st2 >/dev/null || fail "lanes up before the crash"
is_up "$LN_A" st2 || fail "a: st2 not up before the crash"
stop a KILL
is_up "$LN_A" st2 || fail "a: st2 went down without the daemon"
grep -q '"interface": "st2"' "$TMP/a/lanes.json" || fail "a: st2 not in the journal"
start a || exit 1
is_up "$LN_A" st2 && fail "a: st2 still up after the restart"
grep -q "Tearing down lane 'st2'" "$TMP/a/virt-lanesd.log" || fail "a: recovery not logged"
[ "$(grep -c '"interface"' "$TMP/a/lanes.json")" = 0 ] ||
    fail "a: journal not empty after recovery: $(cat "$TMP/a/lanes.json")"

# ---- SIGTERM takes lanes down ----------------------------------------------------------
cli a lanes up host-b --plan term.1 --count 2 >/dev/null || fail "lanes up before SIGTERM"
stop a TERM
is_up "$LN_A" st1 && fail "a: st1 still up after SIGTERM"
grep -q "Stopping: took 2 lane(s) down" "$TMP/a/virt-lanesd.log" || fail "a: SIGTERM did not log the lanes"
stop b TERM

snapshot "$LN_A" >"$TMP/after-a"
snapshot "$LN_B" >"$TMP/after-b"
cmp -s "$TMP/before-a" "$TMP/after-a" || fail "a differs at the end: $(diff "$TMP/before-a" "$TMP/after-a")"
cmp -s "$TMP/before-b" "$TMP/after-b" || fail "b differs at the end: $(diff "$TMP/before-b" "$TMP/after-b")"

if [ "$FAILURES" -gt 0 ]; then
    printf '%d failure(s); logs:\n' "$FAILURES" >&2
    tail -n 30 "$TMP/a/virt-lanesd.log" "$TMP/b/virt-lanesd.log" >&2
    exit 1
fi
exit 0

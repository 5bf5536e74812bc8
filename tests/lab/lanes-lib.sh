# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for the lab tests of 'virt-lanes migrate' (tests/lab/lanes-*.sh),
# also sourced by bench/lanes and lab/demo. Source common.sh first (the
# tests) or set LAB, T_BUILDDIR and VL_LAB_DIR and define t_fail/t_log.
#
# lab/up --virt-lanes installs each host's policy (lab/policy) and starts
# its daemon with paths inside the host's private directories: the policy
# in /etc/virt-lanes, the lane journal in /var/lib/virt-lanes and the lane
# scripts of this source tree.  ll_daemon_start starts one the same way
# (after a kill, or with another script directory).

LL_SOCK=/run/virt-lanes/virt-lanesd.sock
LL_POLICY_DIR=/etc/virt-lanes/policies.d
LL_JOURNAL=/var/lib/virt-lanes/lanes.json
LL_HISTORY=/var/lib/virt-lanes/history.jsonl
LL_SRC=${T_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

ll_cli() {
    printf '%s\n' "$T_BUILDDIR/plugin/cli/virt-lanes"
}

ll_need_build() {
    local f
    for f in plugin/cli/virt-lanes plugin/daemon/virt-lanesd hook/virt-lanes-hook; do
        if [ -z "$T_BUILDDIR" ] || [ ! -x "$T_BUILDDIR/$f" ]; then
            t_skip "needs VL_LAB_BUILDDIR with $f"
        fi
    done
    command -v nft >/dev/null || t_skip "needs 'nft' (nftables) for lane steering"
}

ll_host_dir() {
    printf '%s\n' "$VL_LAB_DIR/hosts/$1"
}

# ll_exec HOST CMD...: in the host's mount, UTS and network namespaces.
ll_exec() {
    local h=$1
    shift
    "$LAB/host" exec --state-dir "$(ll_host_dir "$h")" -- "$@"
}

ll_daemon_pid() {
    tr -dc '0-9' <"$(ll_host_dir "$1")/pids/virt-lanesd" 2>/dev/null || true
}

# ll_daemon_stop HOST [SIGNAL]: ends the host's daemon and waits for it.
ll_daemon_stop() {
    local h=$1 sig=${2:-TERM} pid
    pid=$(ll_daemon_pid "$h")
    [ -n "$pid" ] || return 0
    kill "-$sig" "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    t_fail "daemon of host $h (pid $pid) did not end after SIG$sig"
}

# ll_daemon_start HOST [SCRIPT_DIR]: as lab/host starts it for lab/up (pid
# file in the host's pids/, so lab/down ends it; the same arguments).
ll_daemon_start() {
    local h=$1 scripts=${2:-$LL_SRC/qemu-scripts} dir holder
    dir=$(ll_host_dir "$h")
    holder=$(tr -dc '0-9' <"$dir/pids/holder")
    : >"$dir/pids/virt-lanesd"
    # shellcheck disable=SC2016 # sh records its pid and execs the daemon
    setsid nsenter -t "$holder" -m -u -n -- env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
        ${G_DEBUG:+G_DEBUG=$G_DEBUG} \
        sh -c 'echo "$$" >"$1"; shift; exec "$@"' vl-daemon-start "$dir/pids/virt-lanesd" \
        "$T_BUILDDIR/plugin/daemon/virt-lanesd" --uri qemu:///system --socket "$LL_SOCK" \
        --policy-dir "$LL_POLICY_DIR" --lane-journal "$LL_JOURNAL" --script-dir "$scripts" \
        </dev/null >>"$dir/log/virt-lanesd.log" 2>&1 &
    ll_daemon_wait "$h"
}

ll_daemon_wait() {
    local h=$1
    for _ in $(seq 1 100); do
        if ll_exec "$h" "$(ll_cli)" --socket "$LL_SOCK" lanes --json >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    tail -n 20 "$(ll_host_dir "$h")/log/virt-lanesd.log" >&2
    t_fail "daemon of host $h does not answer"
}

# ll_policy_set HOST JQ_FILTER: rewrites HOST's lab policy (10-lab.json,
# from lab/up --virt-lanes) through JQ_FILTER, then reloads its daemon
# (SIGHUP) and waits until the daemon's log says it reloaded.
ll_policy_set() {
    local h=$1 filter=$2 pol log before
    pol=$(ll_host_dir "$h")/fs/etc/virt-lanes/policies.d/10-lab.json
    log=$(ll_host_dir "$h")/log/virt-lanesd.log
    jq "$filter" "$pol" >"$pol.new" || t_fail "jq '$filter' failed on $pol"
    mv "$pol.new" "$pol"
    chmod 0644 "$pol"
    before=$(grep -c 'Reloaded the policy' "$log" || true)
    kill -HUP "$(ll_daemon_pid "$h")"
    for _ in $(seq 1 50); do
        [ "$(grep -c 'Reloaded the policy' "$log" || true)" -gt "$before" ] && return 0
        sleep 0.2
    done
    t_fail "host $h's daemon did not reload its policy: $(tail -n 5 "$log")"
}

# ll_sample_while PID FILE HOST COMMAND...: while PID runs, runs COMMAND on
# HOST once a second and appends what it prints to FILE (emptied first);
# a COMMAND that fails or hangs for 5 s adds nothing.
ll_sample_while() {
    local pid=$1 file=$2 h=$3
    shift 3
    : >"$file"
    while kill -0 "$pid" 2>/dev/null; do
        ll_exec "$h" timeout 5 "$@" >>"$file" 2>/dev/null || true
        sleep 1
    done
}

# ll_setup: lab/up --virt-lanes gave each host its policy (lab/policy:
# lanes 1 and 2 towards the other host, lane 0 the base path) and started
# its daemon with the lab-private paths; wait until both answer.
ll_setup() {
    local h
    for h in a b; do
        [ -s "$(ll_host_dir "$h")/fs/etc/virt-lanes/policies.d/10-lab.json" ] ||
            t_fail "host $h has no lab policy (lab/up --virt-lanes)"
        ll_daemon_wait "$h"
    done
}

# ll_lanes_json HOST: the daemon's "lanes" reply.
ll_lanes_json() {
    ll_exec "$1" timeout 15 "$(ll_cli)" --socket "$LL_SOCK" lanes --json
}

# ll_tx HOST: {"lane0": tx bytes, ...} of the host's lanes.
ll_tx() {
    ip -n "vl-lab-$1" -j -s link show |
        jq -c '[.[] | select(.ifname | test("^lane[0-9]+$")) | {(.ifname): .stats64.tx.bytes}] | add'
}

# ll_lane_bytes TX_BEFORE TX_AFTER: [bytes lane0 sent, lane1, ...] between two
# ll_tx readings, in the order of the lane names.
ll_lane_bytes() {
    jq -n -c --argjson a "$1" --argjson b "$2" '[$b | keys[] as $k | $b[$k] - ($a[$k] // 0)]'
}

# ll_lane_traces HOST: one line per trace a lane leaves on HOST (an up
# spare NIC, an "ip rule" with one of our marks, a route in a lane table,
# an nftables table of lane-steer); nothing when clean.
ll_lane_traces() {
    local ns=vl-lab-$1
    ip -n "$ns" -br link show | awk '$1 ~ /^lane[12](@|$)/ && $2 != "DOWN" { print "link " $1 " " $2 }'
    ip -n "$ns" rule show | awk '/fwmark/ { print "rule " $0 }'
    ip -n "$ns" route show table all | awk '/table 76[0-9][0-9]/ { print "route " $0 }'
    ip netns exec "$ns" nft list tables 2>/dev/null | awk '/virt_lanes_/ { print "nft " $0 }'
    ip -n "$ns" -br addr show | awk '$1 ~ /^lane[12](@|$)/ && $3 !~ /^198\.18\.1[12]\./ { print "addr " $0 }'
}

# ll_lanes_up_on HOST: the number of spare lanes that are up and routed.
ll_lanes_up_on() {
    local ns=vl-lab-$1
    ip -n "$ns" rule show | grep -c 'fwmark' || true
}

# ll_expect_clean HOST WHAT: no lane traces, an empty journal and no
# incoming plan held, within 20 s (the destination takes its lanes down
# on the events that end the incoming migration).
ll_expect_clean() {
    local h=$1 what=$2 traces json
    for _ in $(seq 1 40); do
        traces=$(ll_lane_traces "$h")
        json=$(ll_lanes_json "$h" 2>/dev/null || echo '{}')
        if [ -z "$traces" ] &&
            jq -e '.ok and (.lanes | length == 0) and ((.incoming // []) | length == 0)' \
                >/dev/null <<<"$json"; then
            return 0
        fi
        sleep 0.5
    done
    t_log "host $h lanes: $json"
    t_log "host $h traces: $traces"
    t_fail "$what: lanes left on host $h"
}

ll_console() {
    local uuid
    uuid=$(timeout 30 virsh -q -c "qemu+tcp://198.18.0.1$([ "$1" = a ] && echo 1 || echo 2)/system" \
        domuuid --domain "$2" | tr -d '[:space:]')
    printf '%s\n' "$VL_LAB_DIR/console/$uuid.log"
}

# ll_verify_guest DOM HOST CONSOLE OFFSET WHAT: DOM runs on HOST, its
# console shows READY, no corruption at all, and two full verify passes
# after byte OFFSET of CONSOLE (the end of the migration).
ll_verify_guest() {
    local dom=$1 on=$2 console=$3 off=$4 what=$5 n=0 st
    st=$(timeout 30 virsh -q -c "qemu+tcp://198.18.0.1$([ "$on" = a ] && echo 1 || echo 2)/system" \
        domstate --domain "$dom" 2>/dev/null || true)
    [ "${st%% *}" = running ] || t_fail "$what: '$dom' is '$st' on host $on"
    grep -aq '^READY ' "$console" || t_fail "$what: no READY on the console"
    for _ in $(seq 1 60); do
        n=$(tail -c +"$((off + 1))" "$console" | grep -ac '^VERIFY OK ' || true)
        [ "$n" -lt 2 ] || break
        sleep 1
    done
    if grep -aqE '^(CORRUPT|VERIFY FAILED)' "$console"; then
        t_fail "$what: the guest found corrupt memory"
    fi
    [ "$n" -ge 2 ] || t_fail "$what: only $n verify passes on host $on after the migration"
}

# ll_migrate FROM TO DOM OUT [virt-lanes migrate options...]: runs the CLI
# in host FROM with --json (JSON lines into OUT, stderr into OUT.err);
# returns its exit code.
ll_migrate() {
    local from=$1 to=$2 dom=$3 out=$4 peer
    shift 4
    peer=qemu+tcp://198.18.0.1$([ "$to" = a ] && echo 1 || echo 2)/system
    ll_exec "$from" "$(ll_cli)" --socket "$LL_SOCK" --connect qemu:///system migrate \
        --json --policy "$LL_POLICY_DIR" --history "$LL_HISTORY" "$@" -- "$dom" "$peer" \
        >"$out" 2>"$out.err"
}

# ll_event OUT EVENT: the last JSON line of that event.
ll_event() {
    grep '^{' "$1" | jq -c --arg e "$2" 'select(.event == $e)' | tail -n 1
}

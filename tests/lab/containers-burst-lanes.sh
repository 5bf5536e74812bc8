#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A container's burst move goes over lanes. Host a's daemon runs one
# enforcing container (the guest "burst-1", 512 MiB, dirtying 5 MiB/s) with
# host_load thresholds and host b as its peer, under the lab's lane policy
# (lanes 1 and 2 towards b) with a threshold_s the estimate of the move
# exceeds. When the recorded host load goes over, the daemon's own mover
# must: bring lanes 1 and 2 up on a ("lanes-up" through its own handlers)
# and, through the plan in the destination XML, on b; migrate with 6
# multifd channels, so that every lane's counters on a grow by a share of
# the guest's RAM; land the member on b with its memory intact; write a
# history line with 2 lanes; and leave no lane up on either host. Then the
# load falls and the member comes back (a plain migration: b's lanes are
# b's daemon's to bring up) with nothing left behind either.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR source=lanes-lib.sh
. "$(dirname "$0")/lanes-lib.sh"
# shellcheck source-path=SCRIPTDIR source=containers-lib.sh
. "$(dirname "$0")/containers-lib.sh"

t_need_lab
ll_need_build
t_need_guest

A=qemu+tcp://198.18.0.11/system
B=qemu+tcp://198.18.0.12/system
dom=burst-1

etc=$(mktemp -d "${TMPDIR:-/tmp}/vl-burst-lanes.XXXXXX")
trap 'rm -rf "$etc"' EXIT
cl_daemon_conf "$etc" "$A" "[lanes]" "journal = $LL_JOURNAL" \
    "script_dir = $LL_SRC/qemu-scripts" "[estimator]" "history_file = $LL_HISTORY"
# The lab's policy for a (lanes 1 and 2 to b, 200 Mbit/s each), a threshold
# that the base path alone cannot meet, and the container.
"$LAB/policy" a --links 3 --rate 200mbit |
    jq --arg b "$B" '.migration.threshold_s = 8 |
        .containers = [{
            "name": "burst",
            "members": { "name_globs": ["burst-*"] },
            "min_active": 0,
            "max_active": 2,
            "peers": [$b],
            "cooldown_s": 3,
            "host_load": { "cpu": { "under_loaded": 30, "overloaded": 80 }, "hold_s": 0 }
        }]' >"$etc/a/containers.d/burst.json" || t_fail "cannot write the policy"
cl_write_recording "$etc/a/stats.rec" 50 50
chmod 0755 "$etc/a" "$etc/a/containers.d"
chmod 0644 "$etc/a/virt-lanesd.conf" "$etc/a/containers.d/burst.json" "$etc/a/stats.rec"

t_lab_up_etc "$etc" --links 3 --rate 200mbit --virt-lanes "$T_BUILDDIR"
for h in a b; do
    ll_daemon_wait "$h"
done

FS=$(ll_host_dir a)/fs
AUDIT=$FS/var/log/virt-lanes/containers-audit.jsonl
LOG=$(ll_host_dir a)/log/virt-lanesd.log

cli() {
    ll_exec a "$(ll_cli)" --socket "$LL_SOCK" "$@"
}


"$LAB/boot" "$dom" --on a --mem 512 --working-set 256 --dirty 5 >&2 ||
    t_fail "lab/boot failed"
console=$(ll_console a "$dom")
member_known() {
    cli containers --json | jq -e '.containers[0].members | length == 1 and .[0].state == "running"'
}
for _ in $(seq 1 120); do
    member_known >/dev/null 2>&1 && break
    sleep 0.5
done
member_known >/dev/null 2>&1 || t_fail "the member is not known: $(cli containers --json 2>&1 || true)"

# Over (two intervals at 95 %), then 10 % for good: the move away, then back.
tx0=$(ll_tx a)
cl_write_recording "$FS/etc/virt-lanes/stats.rec" 95 95 10
kill -HUP "$(ll_daemon_pid a)"

# Watch both hosts' routed lanes until the move away has an outcome.
max_a=0
max_b=0
for _ in $(seq 1 1200); do
    n=$(ll_lanes_up_on a)
    [ "$n" -le "$max_a" ] || max_a=$n
    n=$(ll_lanes_up_on b)
    [ "$n" -le "$max_b" ] || max_b=$n
    if cl_audit_has 'map(select(.action == "migrate_away" and .outcome != "decided")) | length >= 1'; then
        break
    fi
    sleep 0.25
done
tx1=$(ll_tx a)
off=$(stat -c %s "$console")
t_log "daemon a: $(grep -E "Moving|Moved|lane" "$LOG" | tail -n 12 || true)"
cl_audit_has 'map(select(.action == "migrate_away")) | .[-1].outcome == "success"' ||
    t_fail "migrate_away did not succeed: $(cat "$AUDIT" 2>/dev/null || true)"
[ "$max_a" -eq 2 ] || t_fail "host a had $max_a lanes routed at most, not 2"
[ "$max_b" -eq 2 ] || t_fail "host b had $max_b lanes routed at most, not 2"
grep -q "Moving 'burst-1': lanes up for plan '[^']*': 2 of 2; 3 link(s), 6 channels" "$LOG" ||
    t_fail "the daemon's log does not show both lanes up with 6 channels"
grep -q "Moved 'burst-1' to '[^']*' over 3 link(s) with 6 channels" "$LOG" ||
    t_fail "the daemon's log does not show the move over 3 links"

bytes=$(ll_lane_bytes "$tx0" "$tx1")
t_log "bytes sent per link on a (lane0 = base path): $bytes"
# Every link carried a real share (each a third, give or take; the base
# path also carries libvirt's own connection).
jq -e 'add as $all | $all > 256 * 1048576 and all(.[]; . > 0.15 * $all)' \
    >/dev/null <<<"$bytes" || t_fail "not every link carried its share: $bytes"

ll_verify_guest "$dom" b "$console" "$off" "the burst move over lanes"
ll_expect_clean a "after the burst move"
ll_expect_clean b "after the burst move"
history=$(cat "$FS$LL_HISTORY" 2>/dev/null || true)
t_log "history on a: $history"
jq -e -s 'map(select(.domain == "burst-1")) | length >= 1 and .[-1].lanes == 2 and .[-1].channels == 6' \
    >/dev/null <<<"$history" || t_fail "no history line with 2 lanes and 6 channels for the move"

# Back home, plainly, and nothing left behind.
for _ in $(seq 1 1200); do
    if cl_audit_has 'map(select(.action == "bring_back" and .outcome != "decided")) | length >= 1'; then
        break
    fi
    sleep 0.25
done
cl_audit_has 'map(select(.action == "bring_back")) | .[-1].outcome == "success"' ||
    t_fail "bring_back did not succeed: $(cat "$AUDIT" 2>/dev/null || true)"
[ "$(cl_state_on "$A" "$dom")" = running ] || t_fail "'$dom' does not run on a again"
ll_expect_clean a "after the member came back"
ll_expect_clean b "after the member came back"
t_log "PASS"

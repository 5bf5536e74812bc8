#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The source's daemon killed (SIGKILL) while a migration runs over its
# lanes, twice:
#  1. a -> b, the daemon started again at once: its recovery tears down
#     the lanes its journal names under the running migration; virt-lanes
#     migrate sees the plan's lanes gone and asks for them again, and the
#     migration completes;
#  2. b -> a, the daemon started again only after the migration ended
#     (over the lanes the kernel kept; "lanes-down" finds no daemon): its
#     recovery takes down what the journal names.
# Each time the guest verifies on the destination and, in the end, no
# lane is left on either host.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR source=lanes-lib.sh
. "$(dirname "$0")/lanes-lib.sh"

t_need_lab
ll_need_build
t_need_guest
t_lab_up --links 3 --virt-lanes "$T_BUILDDIR"
ll_setup

dom="lab lanes crash"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 256 --dirty 5 >&2 || t_fail "lab/boot failed"
out=$VL_LAB_DIR/migrate.out

# kill_when_flowing FROM PID: SIGKILL to FROM's daemon once RAM flows
# over its two lanes; shows the journal it leaves.
kill_when_flowing() {
    local from=$1 pid=$2 journal
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || t_fail "the migration ended before the kill"
        if [ "$(ll_lanes_up_on "$from")" -eq 2 ] &&
            grep '^{"event":"progress"' "$out" | tail -n 1 | jq -e '.percent > 5' >/dev/null 2>&1; then
            t_log "killing host $from's daemon (pid $(ll_daemon_pid "$from")) at $(grep '"progress"' "$out" | tail -n 1)"
            ll_daemon_stop "$from" KILL
            journal=$(ll_exec "$from" cat "$LL_JOURNAL")
            t_log "journal after the kill: $(jq -c . <<<"$journal")"
            jq -e '.lanes | length == 2' >/dev/null <<<"$journal" ||
                t_fail "the journal does not hold both lanes"
            return 0
        fi
        sleep 0.2
    done
    t_fail "the migration never used the lanes"
}

# ---- 1: restarted at once, under the migration -------------------------------
console=$(ll_console a "$dom")
ll_migrate a b "$dom" "$out" --threshold 8 &
pid=$!
kill_when_flowing a "$pid"
ll_daemon_start a
rc=0
wait "$pid" || rc=$?
off=$(stat -c %s "$console")
t_log "1: exit $rc, output: $(grep -v '"progress"' "$out")"
t_log "1: stderr: $(cat "$out.err")"
grep -q "left by a previous run" "$(ll_host_dir a)/log/virt-lanesd.log" ||
    t_fail "1: the restarted daemon did not recover the journal's lanes"
[ "$rc" -eq 0 ] || t_fail "1: virt-lanes migrate exited $rc"
grep -q "no longer holds the lanes of plan .*asking for them again" "$out.err" ||
    t_fail "1: the lost lanes were not asked for again"
jq -e '.outcome == "completed"' >/dev/null <<<"$(ll_event "$out" summary)" ||
    t_fail "1: summary: $(ll_event "$out" summary)"
ll_verify_guest "$dom" b "$console" "$off" "daemon restarted under the migration"
ll_expect_clean a "1"
ll_expect_clean b "1"

# ---- 2: restarted after the migration ----------------------------------------
console=$(ll_console b "$dom")
ll_migrate b a "$dom" "$out" --threshold 8 &
pid=$!
kill_when_flowing b "$pid"
rc=0
wait "$pid" || rc=$?
off=$(stat -c %s "$console")
t_log "2: exit $rc, output: $(grep -v '"progress"' "$out")"
t_log "2: stderr: $(cat "$out.err")"
[ "$rc" -eq 0 ] || t_fail "2: virt-lanes migrate exited $rc"
grep -q "Taking the lanes of plan .* down failed" "$out.err" ||
    t_fail "2: no warning that the lanes could not be taken down"
[ "$(ll_lanes_up_on b)" -eq 2 ] || t_fail "2: the lanes did not outlive the daemon"
ll_verify_guest "$dom" a "$console" "$off" "daemon dead during the migration"
ll_daemon_start b
ll_expect_clean b "2: after the restart"
ll_expect_clean a "2"
t_log "PASS"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A plain 'virsh migrate' that virt-lanes did not start: the source's daemon
# notices it, climbs the policy's downtime ladder while it is late (read
# back with 'virsh migrate-getmaxdowntime' during the job, and from the
# daemon's log and status) and, with when_hopeless = abort, aborts it once
# it is hopeless: a guest dirtying 20 MiB/s on one 200 Mbit/s lane. The
# guest keeps running on the source and nothing is left on the destination.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR source=lanes-lib.sh
. "$(dirname "$0")/lanes-lib.sh"

t_need_lab
ll_need_build
t_need_guest
t_lab_up --links 1 --virt-lanes "$T_BUILDDIR"
ll_setup

# Host a's policy: the lab's, late beyond 10 s, a two-step ladder (an abort
# may come before any later step: hopeless needs iteration 2, and the step
# of iteration 2 restarts the count), abort when hopeless. lab/migrate's own timeout (150 s) is the fallback
# that must not be needed.
ll_policy_set a '.migration += {threshold_s: 10, when_hopeless: "abort",
    downtime_ladder: [{after_iteration: 1, downtime_ms: 400},
                      {after_iteration: 2, downtime_ms: 500}]}'
log=$(ll_host_dir a)/log/virt-lanesd.log

dom="lab levers; 'plain'"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 384 --dirty 20 >&2 || t_fail "lab/boot failed"
# The daemon samples a guest that just booted only a minute later
# (docs/estimator.md); without a prior dirty rate the monitor's ETA only
# learns it from QEMU late in the job. Measure now, as the background
# sampler would have for a guest that had run a while.
ll_exec a "$(ll_cli)" --socket "$LL_SOCK" estimate "$dom" --measure --json >/dev/null ||
    t_fail "virt-lanes estimate --measure failed on a"
out=$VL_LAB_DIR/levers.out
"$LAB/migrate" "$dom" --from a --to b --timeout 150 --verify-wait 20 >"$out" &
pid=$!

# During the job: the downtime limit as libvirt reports it, once a second.
seen=$VL_LAB_DIR/levers.downtime
ll_sample_while "$pid" "$seen" a virsh -q -c qemu:///system migrate-getmaxdowntime "$dom"
rc=0
wait "$pid" || rc=$?
result=$(cat "$out")
t_log "lab/migrate (exit $rc): $result"
t_log "downtime limits read during the job: $(sort -n -u "$seen" | tr '\n' ' ')"
grep 'Outgoing migration of' "$log" >&2 || true

# (a) The ladder: every step applied once, in order, and read back.
for ms in 400 500; do
    grep -qx "$ms" "$seen" || t_fail "virsh migrate-getmaxdowntime never showed $ms ms"
done
steps=$(grep -o 'downtime limit [0-9]* ms applied' "$log" | awk '{ print $3 }' | tr '\n' ' ')
[ "$steps" = "400 500 " ] || t_fail "ladder steps in the daemon's log: '$steps'"

# (b) The daemon aborted it (not lab/migrate's timeout), after the
# hysteresis, and said why with its numbers.
jq -e '.result == "failed" and .wall_s < 150' >/dev/null <<<"$result" ||
    t_fail "the migration was not ended by the daemon: $result"
line=$(grep "Outgoing migration of '$dom': abort applied" "$log" || true)
[ -n "$line" ] || t_fail "no abort in the daemon's log"
[[ $line == *"when_hopeless abort, hopeless for "*" samples"* ]] || t_fail "abort line: $line"
[[ $line == *"threshold 10 s"*"iteration "*"dirty rate "*"remaining "* ]] || t_fail "abort line: $line"
t_log "abort: $line"

# The guest runs on the source, nothing is left on the destination.
jq -e '.guest.running_on == "a" and .guest.alive' >/dev/null <<<"$result" ||
    t_fail "the guest does not run on a: $result"
state=$(ll_exec a virsh -q -c qemu:///system domstate "$dom" | tr -d '[:space:]')
[ "$state" = "running" ] || t_fail "domain on a is '$state'"
if ll_exec b virsh -q -c qemu:///system dominfo "$dom" >/dev/null 2>&1; then
    t_fail "the domain exists on b after the abort"
fi

# The daemon's status keeps the decisions of that migration.
status=$(ll_exec a "$(ll_cli)" --socket "$LL_SOCK" status --json)
jq -e --arg d "$dom" '.domains[] | select(.name == $d) | .migration.levers |
    map(.lever + ":" + .outcome) == ["downtime:applied", "downtime:applied",
                                      "abort:applied"]' \
    >/dev/null <<<"$status" ||
    t_fail "status levers: $(jq -c --arg d "$dom" '.domains[] | select(.name == $d) | .migration' <<<"$status")"
text=$(ll_exec a "$(ll_cli)" --socket "$LL_SOCK" status)
if ! grep -q '^    lever downtime 400 ms applied at iteration ' <<<"$text" ||
    ! grep -q '^    lever abort applied at iteration [0-9]*, [0-9.]* s: when_hopeless abort' <<<"$text"; then
    t_fail "virt-lanes status: $text"
fi
t_log "PASS"

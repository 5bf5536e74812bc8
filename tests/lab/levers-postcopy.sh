#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The two levers tests/lab/levers.sh does not pull, on a plain 'virsh
# migrate --postcopy' that virt-lanes did not start: the policy's bandwidth
# cap (max_bandwidth_mbit), applied at the first sample and read back with
# 'virsh migrate-getspeed' during the job, and the switch to post-copy once
# the migration is hopeless (allow_postcopy).  The cap (14 MiB/s) is below
# the guest's dirty rate (20 MiB/s), so pre-copy can never end; post-copy
# does, and the guest verifies its memory on the destination.
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

# Host a's policy: the lab's, late beyond 10 s, a cap of 120 Mbit/s
# (floor(15e6 / 2^20) = 14 MiB/s), post-copy allowed, never an abort.
ll_policy_set a '.migration += {threshold_s: 10, max_bandwidth_mbit: 120,
    allow_postcopy: true, when_hopeless: "continue"}'
log=$(ll_host_dir a)/log/virt-lanesd.log

dom=lab-postcopy
"$LAB/boot" "$dom" --on a --mem 512 --working-set 384 --dirty 20 >&2 || t_fail "lab/boot failed"
# As in levers.sh: a prior dirty rate for the monitor's first estimate.
ll_exec a "$(ll_cli)" --socket "$LL_SOCK" estimate "$dom" --measure --json >/dev/null ||
    t_fail "virt-lanes estimate --measure failed on a"
out=$VL_LAB_DIR/levers-postcopy.out
"$LAB/migrate" "$dom" --from a --to b --postcopy --timeout 180 --verify-wait 30 >"$out" &
pid=$!

# During the job: the speed limit as libvirt reports it, once a second.
seen=$VL_LAB_DIR/levers-postcopy.speed
ll_sample_while "$pid" "$seen" a virsh -q -c qemu:///system migrate-getspeed "$dom"
rc=0
wait "$pid" || rc=$?
result=$(cat "$out")
t_log "lab/migrate (exit $rc): $result"
t_log "speed limits read during the job (MiB/s): $(sort -n -u "$seen" | tr '\n' ' ')"
grep 'Outgoing migration of' "$log" >&2 || true

# (a) The cap: applied once, logged with its number, read back.
grep -qx 14 "$seen" || t_fail "virsh migrate-getspeed never showed 14 MiB/s"
caps=$(grep -c "Outgoing migration of '$dom': bandwidth cap 14 MiB/s applied" "$log" || true)
[ "$caps" -eq 1 ] || t_fail "bandwidth cap lines in the daemon's log: $caps"

# (b) The switch to post-copy, after the hysteresis, with its numbers.
line=$(grep "Outgoing migration of '$dom': switch to post-copy applied" "$log" || true)
[ -n "$line" ] || t_fail "no switch to post-copy in the daemon's log"
[[ $line == *"allow_postcopy, hopeless for "*" samples"* ]] || t_fail "post-copy line: $line"
[[ $line == *"threshold 10 s"*"iteration "*"dirty rate "*"remaining "* ]] || t_fail "post-copy line: $line"
t_log "post-copy: $line"
if grep -q "Outgoing migration of '$dom': abort" "$log"; then
    t_fail "the daemon aborted a migration its policy says to keep going"
fi

# (c) Post-copy finished what pre-copy could not: the guest runs on b and
# its memory verified there; nothing is left on a.
jq -e '.result == "ok" and .guest.running_on == "b" and .guest.verified' >/dev/null <<<"$result" ||
    t_fail "the migration did not complete with a verified guest on b: $result"
state=$(ll_exec b virsh -q -c qemu:///system domstate "$dom" | tr -d '[:space:]')
[ "$state" = "running" ] || t_fail "domain on b is '$state'"
state=$(ll_exec a virsh -q -c qemu:///system domstate "$dom" 2>/dev/null | tr -d '[:space:]' || true)
[ "$state" != "running" ] || t_fail "the domain still runs on a"

t_log "PASS"

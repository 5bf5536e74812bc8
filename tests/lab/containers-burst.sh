#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A container really bursts to the peer and comes back. Host a's daemon
# runs one enforcing container (a small guest "burst-1") with host_load
# thresholds and host b as its peer; the host's load comes from a recorded
# "Host:" record ([containers] stats_replay, the test seam), everything else
# is real. Swapping in a recording where the host is at 95 % CPU and then
# 10 % (SIGHUP restarts the replay) must make the daemon live-migrate the
# member to b (migrate_away, through the policy's migration address),
# record it in the state file, and then migrate it back to a (bring_back)
# and clear the record. The guest must be running after each move.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR source=containers-lib.sh
. "$(dirname "$0")/containers-lib.sh"

if [ -z "$T_BUILDDIR" ] || [ ! -x "$T_BUILDDIR/plugin/daemon/virt-lanesd" ]; then
    t_skip "needs VL_LAB_BUILDDIR with a built daemon and CLI"
fi
BUILDDIR=$(readlink -f "$T_BUILDDIR")
t_need_lab
t_need_guest

A=qemu+tcp://198.18.0.11/system
B=qemu+tcp://198.18.0.12/system
dom=burst-1

etc=$(mktemp -d "${TMPDIR:-/tmp}/vl-burst-test.XXXXXX")
trap 'rm -rf "$etc"' EXIT
cl_daemon_conf "$etc" "$A"
cat >"$etc/a/containers.d/burst.json" <<JSON
{
  "migration": {
    "migration_address": "198.19.0.1",
    "peers": [{ "name": "b", "uri": "$B", "migration_address": "198.19.0.2" }]
  },
  "containers": [{
    "name": "burst",
    "members": { "name_globs": ["burst-*"] },
    "min_active": 0,
    "max_active": 2,
    "peers": ["$B"],
    "cooldown_s": 3,
    "host_load": { "cpu": { "under_loaded": 30, "overloaded": 80 }, "hold_s": 0 }
  }]
}
JSON
# In band until the test says otherwise.
cl_write_recording "$etc/a/stats.rec" 50 50
chmod 0755 "$etc/a" "$etc/a/containers.d"
chmod 0644 "$etc/a/virt-lanesd.conf" "$etc/a/containers.d/burst.json" "$etc/a/stats.rec"

t_lab_up_etc "$etc" --links 1 --virt-lanes "$BUILDDIR"

FS=$VL_LAB_DIR/hosts/a/fs
AUDIT=$FS/var/log/virt-lanes/containers-audit.jsonl
STATE=$FS/var/lib/virt-lanes/containers-state.json

cli() {
    "$LAB/host" exec --state-dir "$VL_LAB_DIR/hosts/a" -- \
        "$BUILDDIR/plugin/cli/virt-lanes" --socket /run/virt-lanes/virt-lanesd.sock "$@"
}

wait_for() { # SECONDS WHAT COMMAND...
    local n=$1 what=$2 i
    shift 2
    for ((i = 0; i < n * 2; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    t_log "audit: $(cat "$AUDIT" 2>/dev/null || true)"
    t_log "containers: $(cli containers --json 2>&1 || true)"
    t_fail "timed out waiting for $what"
}


"$LAB/boot" "$dom" --on a --mem 256 --working-set 64 --dirty 1 >&2 ||
    t_fail "lab/boot failed"
member_known() {
    cli containers --json | jq -e '.containers[0].members | length == 1 and .[0].state == "running"'
}
wait_for 60 "the member to be known" member_known
[ ! -s "$AUDIT" ] || t_fail "an action before the host was overloaded: $(cat "$AUDIT")"

# Over (two intervals at 95 %), then 10 % for good.
cl_write_recording "$FS/etc/virt-lanes/stats.rec" 95 95 10
kill -HUP "$(tr -dc '0-9' <"$VL_LAB_DIR/hosts/a/pids/virt-lanesd")"

wait_for 300 "migrate_away to finish" \
    cl_audit_has 'map(select(.action == "migrate_away" and .outcome != "decided")) | length >= 1'
cl_audit_has 'map(select(.action == "migrate_away")) |
           .[0].reason == "host_overloaded" and .[0].members == ["burst-1"] and
           .[-1].outcome == "success"' ||
    t_fail "migrate_away did not succeed: $(cat "$AUDIT")"
t_log "moved: a '$(cl_state_on "$A" "$dom")', b '$(cl_state_on "$B" "$dom")'"
[ "$(cl_state_on "$B" "$dom")" = running ] || t_fail "'$dom' does not run on b"
jq -e --arg b "$B" '.members == [{"name": "burst-1", "container": "burst", "peer": $b,
                                   "since": .members[0].since}]' "$STATE" >/dev/null ||
    t_fail "the state file does not record the burst member: $(cat "$STATE")"

wait_for 300 "bring_back to finish" \
    cl_audit_has 'map(select(.action == "bring_back" and .outcome != "decided")) | length >= 1'
cl_audit_has 'map(select(.action == "bring_back")) |
           .[0].reason == "host_under_loaded" and .[-1].outcome == "success"' ||
    t_fail "bring_back did not succeed: $(cat "$AUDIT")"
t_log "back: a '$(cl_state_on "$A" "$dom")', b '$(cl_state_on "$B" "$dom")'"
[ "$(cl_state_on "$A" "$dom")" = running ] || t_fail "'$dom' does not run on a again"
[ -z "$(cl_state_on "$B" "$dom")" ] || [ "$(cl_state_on "$B" "$dom")" = "shut off" ] ||
    t_fail "'$dom' still '$(cl_state_on "$B" "$dom")' on b"
jq -e '.members == []' "$STATE" >/dev/null ||
    t_fail "the state file still records a burst member: $(cat "$STATE")"
t_log "PASS"

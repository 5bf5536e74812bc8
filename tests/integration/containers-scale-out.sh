#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# An overloaded container starts its standby, for real: "front-1" is tagged
# into container "web" with the CLI (virt-lanes container add), the replayed
# statistics hold it at 90 % CPU, above the 75 % threshold, and the daemon
# starts the standby "web 2; 'x'" (a name with a blank, a quote and a ';').
# libvirt must then report the standby running, the audit log must hold the
# decision and its success, and the containers request must show both.
# shellcheck disable=SC2016,SC2119 # jq programs name $variables in single quotes
set -euo pipefail
# shellcheck source=containers-lib.sh
. "$(dirname "$0")/containers-lib.sh"

STANDBY="web 2; 'x'"

ct_require
ct_setup
ct_write_config 2
ct_write_recording "front-1:90"
ct_write_policy web <<EOF_POLICY
{
  "containers": [{
    "name": "web",
    "min_active": 0,
    "max_active": 2,
    "standby": [$(jq -Rn --arg s "$STANDBY" '$s')],
    "indicators": {
      "cpu": { "substantially_under_loaded": 5, "under_loaded": 10,
               "overloaded": 75, "substantially_overloaded": 99, "hold_s": 0 }
    },
    "cooldown_s": 3600
  }]
}
EOF_POLICY
ct_host_start

ct_define front-1
ct_define "$STANDBY"
ct_start front-1
ct_wait 30 "the standby to be a member" ct_members_are web "$STANDBY:off"

# Tagging it makes front-1 a member: the daemon sees the metadata event.
out=$(ct_vl --connect qemu:///system container add front-1 web)
ct_assert_eq "container add" "Domain 'front-1' added to container 'web'" "$out"
# The daemon may start the standby in the very cycle front-1 joins, before
# a poll here sees the standby still off.
ct_wait 30 "front-1 to join 'web'" ct_member_is web front-1 running

ct_wait 60 "the standby to run" ct_state_is "$STANDBY" running
ct_track_host
ct_wait 30 "the outcome in the audit log" ct_audit_jq 'length == 2'
ct_audit_jq '
    .[0].action == "start_standby" and .[0].reason == "overloaded" and
    .[0].start == $s and .[0].mode == "enforce" and .[0].outcome == "decided" and
    .[0].threshold.indicator == "cpu" and .[0].threshold.crossed == "overloaded" and
    .[0].indicators.cpu >= 89 and .[0].indicators.cpu <= 91 and
    .[1].action == "start_standby" and .[1].outcome == "success"' --arg s "$STANDBY" ||
    ct_fail "Unexpected audit log: $(cat "$CT_STATE/fs$CT_AUDIT")"
ct_wait 30 "the daemon to see the standby running" \
    ct_members_are web "front-1:running,$STANDBY:running"
ct_containers_jq '.containers[0] | .last.action == "start_standby" and
                  .last.outcome == "success" and .in_flight == null and
                  .cooldown_s > 3000' ||
    ct_fail "Unexpected containers reply: $(ct_vl containers --json)"
# Still off: libvirt says the domain the test never started is running.
ct_assert_eq "front-1" running "$(ct_state front-1)"
ct_log "PASS"

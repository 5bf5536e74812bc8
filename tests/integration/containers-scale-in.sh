#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# An under-loaded container shuts a member down, for real: "web-1" and
# "web-2" (members by the policy's glob) idle at 2 % and 3 % CPU in the
# replayed statistics, below the 10 % threshold, so the daemon shuts the
# least loaded, web-1, down. SeaBIOS ignores the ACPI power button, so the
# graceful shutdown times out after shutdown_timeout_s and, with
# destroy_on_timeout, the member is destroyed: libvirt must report it shut
# off, web-2 still running, and the audit log and the containers request
# must say so.
# shellcheck disable=SC2016,SC2119 # jq programs name $variables in single quotes
set -euo pipefail
# shellcheck source=containers-lib.sh
. "$(dirname "$0")/containers-lib.sh"

ct_require
ct_setup
ct_write_config 2
ct_write_recording "web-1:2" "web-2:3"
ct_write_policy web <<'EOF_POLICY'
{
  "containers": [{
    "name": "web",
    "members": { "name_globs": ["web-*"] },
    "min_active": 1,
    "max_active": 2,
    "indicators": {
      "cpu": { "substantially_under_loaded": 1, "under_loaded": 10,
               "overloaded": 75, "substantially_overloaded": 99, "hold_s": 4 }
    },
    "cooldown_s": 3600,
    "shutdown_timeout_s": 3,
    "destroy_on_timeout": true
  }]
}
EOF_POLICY
ct_host_start

ct_define web-1
ct_define web-2
ct_start web-1
ct_start web-2
ct_wait 30 "both members running" ct_members_are web "web-1:running,web-2:running"

ct_wait 90 "web-1 to be shut off" ct_state_is web-1 "shut off"
ct_wait 30 "the outcome in the audit log" ct_audit_jq 'length == 2'
ct_audit_jq '
    .[0].action == "shutdown_member" and .[0].reason == "under_loaded" and
    .[0].members == ["web-1"] and .[0].mode == "enforce" and
    .[0].outcome == "decided" and .[0].threshold.crossed == "under_loaded" and
    .[1].action == "shutdown_member" and .[1].outcome == "success"' ||
    ct_fail "Unexpected audit log: $(cat "$CT_STATE/fs$CT_AUDIT")"
ct_assert_eq "web-2" running "$(ct_state web-2)"
# The graceful shutdown had to give way to destroy: the outcome came no
# sooner than shutdown_timeout_s after the decision (whole seconds).
ct_audit_jq 'map(.time | sub("[.][0-9]+Z$"; "Z") | fromdateiso8601) |
             .[1] - .[0] >= 2' ||
    ct_fail "The shutdown did not wait for its timeout: $(cat "$CT_STATE/fs$CT_AUDIT")"
ct_wait 30 "the daemon to see web-1 off" ct_members_are web "web-1:off,web-2:running"
ct_containers_jq '.containers[0] | .last.action == "shutdown_member" and
                  .last.outcome == "success" and .active == 1 and
                  (.members[] | select(.name == "web-1") | .standby)' ||
    ct_fail "Unexpected containers reply: $(ct_vl containers --json)"
ct_log "PASS"

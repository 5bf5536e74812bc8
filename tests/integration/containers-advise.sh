#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Advice changes nothing: the container of containers-scale-out.sh, held
# at 90 % CPU, either with "mode": "advise" in its policy (argument
# "policy") or with an enforcing policy and 'virt-lanesd --dry-run'
# (argument "dry-run"). Over several cycles the standby must stay shut off
# and the member running, and the audit log must hold only advice: the
# start_standby decision with mode "advise" and outcome "advised".
# shellcheck disable=SC2016 # jq programs name $variables in single quotes
set -euo pipefail
# shellcheck source=containers-lib.sh
. "$(dirname "$0")/containers-lib.sh"

variant=${1:-policy}
case $variant in
policy) mode=advise daemon_args=() ;;
dry-run) mode=enforce daemon_args=(--dry-run) ;;
*) echo "usage: $0 policy|dry-run" >&2; exit 2 ;;
esac

ct_require
ct_setup
ct_write_config 1
ct_write_recording "web-1:90"
ct_write_policy web <<EOF_POLICY
{
  "containers": [{
    "name": "web",
    "mode": "$mode",
    "members": { "name_globs": ["web-*"] },
    "min_active": 0,
    "max_active": 2,
    "standby": ["standby-1"],
    "indicators": {
      "cpu": { "substantially_under_loaded": 5, "under_loaded": 10,
               "overloaded": 75, "substantially_overloaded": 99, "hold_s": 0 }
    },
    "cooldown_s": 2
  }]
}
EOF_POLICY
ct_host_start "${daemon_args[@]}"

# min_active 0: nothing to advise before web-1 runs (below_min_active).
ct_define web-1
ct_define standby-1
ct_start web-1
ct_wait 30 "both members known" ct_members_are web "standby-1:off,web-1:running"

# cooldown_s 2 and tick_s 1: advised again every few cycles.
ct_wait 60 "three pieces of advice" ct_audit_jq 'length >= 3'
ct_audit_jq 'all(.[]; .action == "start_standby" and .start == "standby-1" and
                      .reason == "overloaded" and .mode == "advise" and
                      .outcome == "advised")' ||
    ct_fail "Unexpected audit log: $(cat "$CT_STATE/fs$CT_AUDIT")"
ct_assert_eq "standby-1" "shut off" "$(ct_state standby-1)"
ct_assert_eq "web-1" running "$(ct_state web-1)"
ct_containers_jq '.containers[0] | .effective_mode == "advise" and .mode == $m and
                  .in_flight == null and .last.outcome == "advised"' --arg m "$mode" ||
    ct_fail "Unexpected containers reply: $(ct_vl containers --json)"
if [ "$variant" = dry-run ]; then
    ct_containers_jq '.dry_run == true' || ct_fail "The reply does not say 'dry_run'"
fi
ct_members_are web "standby-1:off,web-1:running" ||
    ct_fail "Members changed: $(ct_members web)"
ct_log "PASS"

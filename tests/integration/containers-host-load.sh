#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The host's own load, decided live: the recording says the host is busy
# (95 % CPU, a "Host:" record) while the container itself is in band, and
# the container has a peer and host_load thresholds. In advise mode the
# daemon must advise migrate_away of the running members to peers[0]
# (reason host_overloaded), show the host's values and its judgement in
# the containers reply, and change nothing: the member keeps running
# here and the state file records nobody as away.
# shellcheck disable=SC2016,SC2119 # jq programs name $variables in single quotes
set -euo pipefail
# shellcheck source=containers-lib.sh
. "$(dirname "$0")/containers-lib.sh"

ct_require
ct_setup
ct_write_config 1
CT_HOST_CPU=95 CT_HOST_MEMORY=40 ct_write_recording "web-1:50"
ct_write_policy web <<'EOF_POLICY'
{
  "containers": [{
    "name": "web",
    "mode": "advise",
    "members": { "name_globs": ["web-*"] },
    "min_active": 0,
    "max_active": 2,
    "peers": ["qemu+tcp://198.51.100.9/system"],
    "indicators": {
      "cpu": { "substantially_under_loaded": 5, "under_loaded": 10,
               "overloaded": 75, "substantially_overloaded": 99, "hold_s": 0 }
    },
    "host_load": {
      "cpu": { "under_loaded": 40, "overloaded": 85 },
      "memory": { "under_loaded": 60, "overloaded": 90 },
      "hold_s": 1
    },
    "cooldown_s": 30
  }]
}
EOF_POLICY
ct_host_start

ct_define web-1
ct_start web-1
ct_wait 30 "the member known" ct_members_are web "web-1:running"

ct_wait 60 "the host-overloaded advice" ct_audit_jq 'length >= 1'
ct_audit_jq 'length == 1 and
             (.[0] | .action == "migrate_away" and .reason == "host_overloaded" and
                     .members == ["web-1"] and .mode == "advise" and
                     .outcome == "advised")' ||
    ct_fail "Unexpected audit log: $(cat "$CT_STATE/fs$CT_AUDIT")"
ct_containers_jq '
    (.last_cycle.host.cpu | . > 94.9 and . < 95.1) and
    (.last_cycle.host.memory | . > 39.9 and . < 40.1) and
    .containers[0].host_load.state == "over" and
    .containers[0].host_load.cpu.overloaded == 85 and
    .containers[0].last.action == "migrate_away" and
    .containers[0].last.peer == "qemu+tcp://198.51.100.9/system"' ||
    ct_fail "Unexpected containers reply: $(ct_vl containers --json)"
text=$(ct_vl containers)
if ! grep -q '^Host load: CPU 95.0 %, memory 40.0 %$' <<<"$text" ||
    ! grep -q '^  host load:  over (bring back below, move away above, cpu 40.0..85.0 %, memory 60.0..90.0 %; held 1 s)$' <<<"$text"; then
    ct_fail "Unexpected 'virt-lanes containers' output: $text"
fi
ct_assert_eq "web-1" running "$(ct_state web-1)"
ct_members_are web "web-1:running" || ct_fail "Members changed: $(ct_members web)"
if [ -e "$CT_STATE/fs/var/lib/virt-lanes/containers-state.json" ]; then
    jq -e '.members == []' "$CT_STATE/fs/var/lib/virt-lanes/containers-state.json" >/dev/null ||
        ct_fail "Advice recorded a member as away: $(cat "$CT_STATE/fs/var/lib/virt-lanes/containers-state.json")"
fi
ct_log "PASS"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The real sampler path: no recording, so the daemon asks libvirt
# (the active domains, then virDomainListGetStats in slices, and the
# host's virNodeGetCPUStats/virNodeGetMemoryStats) every cycle. The host
# must get a CPU and a memory percentage. A running TCG guest must get
# a known CPU value (SeaBIOS idles in a loop, so anything from 0 to 100),
# a defined one none, and the cycle must report what it sampled; the
# container is in advise mode, so nothing is started or stopped.
# shellcheck disable=SC2016,SC2119 # jq programs name $variables in single quotes
set -euo pipefail
# shellcheck source=containers-lib.sh
. "$(dirname "$0")/containers-lib.sh"

ct_require
ct_setup
ct_write_config 1
sed -i '/^stats_replay/d' "$CT_STATE/fs$CT_CONFIG"
ct_write_policy web <<'EOF_POLICY'
{
  "containers": [{
    "name": "web",
    "mode": "advise",
    "members": { "name_globs": ["web-*"] },
    "min_active": 0,
    "max_active": 2,
    "indicators": {
      "cpu": { "substantially_under_loaded": 0, "under_loaded": 0.001,
               "overloaded": 99.98, "substantially_overloaded": 99.99 }
    }
  }]
}
EOF_POLICY
ct_host_start

ct_define web-1
ct_define web-2
ct_start web-1
ct_wait 30 "both members known" ct_members_are web "web-1:running,web-2:off"

# Two samples of web-1 give its first rate.
ct_wait 60 "a CPU value for web-1" ct_containers_jq \
    '.containers[0].members[] | select(.name == "web-1") | .values.cpu | type == "number"'
ct_containers_jq '
    .stats_source == "libvirt" and .last_cycle.error == null and
    .last_cycle.domains == 1 and .last_cycle.sample_ms >= 0 and
    (.containers[0].members[] | select(.name == "web-1") |
        .values.cpu >= 0 and .values.cpu <= 100) and
    (.containers[0].members[] | select(.name == "web-2") | .values.cpu == null) and
    (.containers[0].indicators[0] | .indicator == "cpu" and (.value | type == "number")) and
    (.last_cycle.host.cpu | type == "number" and . >= 0 and . <= 100) and
    (.last_cycle.host.memory | type == "number" and . > 0 and . <= 100)' ||
    ct_fail "Unexpected containers reply: $(ct_vl containers --json)"
ct_assert_eq "web-2" "shut off" "$(ct_state web-2)"
ct_log "PASS"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A plain live migration over one lane completes, and the guest is alive on
# the destination with its memory verified there (no lost writes while it
# was dirtying pages during the migration).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

t_need_lab
t_need_guest
t_lab_up --links 1

# A smaller guest than the default keeps the suite quick; it still dirties
# memory while it moves, which is what catches lost writes.
dom="lab test: plain \"one\" 'lane'"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 256 --dirty 5 >&2 ||
    t_fail "lab/boot failed"
out=$("$LAB/migrate" "$dom" --from a --to b --timeout 300) || true
t_log "result: $out"
[ -n "$out" ] || t_fail "lab/migrate printed nothing"

check() { # JQ-EXPR DESCRIPTION
    jq -e "$1" >/dev/null <<<"$out" || t_fail "$2"
}
check '.result == "ok"' "migration did not succeed"
check '.guest.running_on == "b" and .guest.alive' "guest is not running on b"
check '.guest.ready and (.guest.corrupt | not)' "guest console shows corruption or no READY"
check '.guest.verify_ok_after >= 2 and .guest.verified' "guest memory not verified on b"
check '.job.memory_processed_bytes > 256 * 1048576' "job stats missing or too small"
check '.lane_tx_bytes[0] > 256 * 1048576' "lane 0 did not carry the migration"
check '.wall_s > 0 and .job.downtime_ms >= 0' "no wall time or downtime"

# The domain must be gone from a (only defined there) and running on b.
st=$(virsh -q -c qemu+tcp://198.18.0.11/system domstate --domain "$dom")
[ "${st%% *}" = "shut" ] || t_fail "domain still '$st' on a"
t_log "PASS"

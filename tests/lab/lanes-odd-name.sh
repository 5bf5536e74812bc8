#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A domain whose name holds spaces, both kinds of quotes and a ';'
# migrates over lanes like any other: the plan id is built from it, the
# hook and the daemons pass it along, the guest verifies on the
# destination and no lane is left.
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

dom="lab \"lanes\" it's; odd"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 256 --dirty 5 >&2 || t_fail "lab/boot failed"
console=$(ll_console a "$dom")
out=$VL_LAB_DIR/migrate.out
rc=0
ll_migrate a b "$dom" "$out" --threshold 8 || rc=$?
off=$(stat -c %s "$console")
t_log "output: $(grep -v '"progress"' "$out")"
t_log "stderr: $(cat "$out.err")"
[ "$rc" -eq 0 ] || t_fail "virt-lanes migrate exited $rc"
lanes=$(ll_event "$out" lanes)
jq -e '.up == ["lane1", "lane2"] and (.plan_id | test("^lab__lanes__it_s__odd\\."))' \
    >/dev/null <<<"$lanes" || t_fail "lanes: $lanes"
jq -e --arg d "$dom" '.domain == $d and .outcome == "completed" and .links == 3' \
    >/dev/null <<<"$(ll_event "$out" summary)" || t_fail "summary: $(ll_event "$out" summary)"
ll_verify_guest "$dom" b "$console" "$off" "odd name"
ll_expect_clean a "odd name"
ll_expect_clean b "odd name"
# The plan is not left in the migrated domain's XML.
if virsh -q -c qemu+tcp://198.18.0.12/system dumpxml --domain "$dom" | grep -q 'virt-lanes.org/xmlns/plan'; then
    t_fail "the plan stayed in the domain's XML on b"
fi
t_log "PASS"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# virt-lanes migrate over the threshold: lanes 1 and 2 come up on both
# hosts while the guest moves (the source's daemon on "lanes-up", the
# destination's on the hook's "migrate begin" with the plan in the XML),
# 6 multifd channels spread over the base path and the two lanes, every
# lane carries its share (within +-25 % here; bench/lanes reports the real
# spread), the guest verifies its memory on the destination, and nothing
# of the lanes is left on either host afterwards (links, rules, routes,
# nftables, journals, incoming plans).
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

dom="lab lanes over"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 256 --dirty 5 >&2 || t_fail "lab/boot failed"
console=$(ll_console a "$dom")
out=$VL_LAB_DIR/migrate.out
tx0=$(ll_tx a)

ll_migrate a b "$dom" "$out" --threshold 8 &
pid=$!
max_a=0
max_b=0
while kill -0 "$pid" 2>/dev/null; do
    n=$(ll_lanes_up_on a)
    [ "$n" -le "$max_a" ] || max_a=$n
    n=$(ll_lanes_up_on b)
    [ "$n" -le "$max_b" ] || max_b=$n
    sleep 0.3
done
rc=0
wait "$pid" || rc=$?
off=$(stat -c %s "$console")
tx1=$(ll_tx a)
t_log "output: $(grep -v '"progress"' "$out")"
t_log "stderr: $(cat "$out.err")"
[ "$rc" -eq 0 ] || t_fail "virt-lanes migrate exited $rc"

plan=$(ll_event "$out" plan)
lanes=$(ll_event "$out" lanes)
summary=$(ll_event "$out" summary)
jq -e '.plan.chosen.links == 3 and .plan.chosen.channels == 6' >/dev/null <<<"$plan" ||
    t_fail "the plan is not 3 links, 6 channels: $plan"
jq -e '.up == ["lane1", "lane2"] and (.failed | length == 0) and .links == 3' \
    >/dev/null <<<"$lanes" || t_fail "lanes: $lanes"
jq -e '.outcome == "completed" and .links == 3 and .channels == 6 and .predicted_s > 0' \
    >/dev/null <<<"$summary" || t_fail "summary: $summary"
[ "$max_a" -eq 2 ] || t_fail "host a had $max_a lanes routed at most, not 2"
[ "$max_b" -eq 2 ] || t_fail "host b had $max_b lanes routed at most, not 2"

bytes=$(ll_lane_bytes "$tx0" "$tx1")
t_log "bytes per lane on a: $bytes"
jq -e '(add / 3) as $share | all(.[]; . > 0.75 * $share and . < 1.25 * $share) and add > 256 * 1048576' \
    >/dev/null <<<"$bytes" || t_fail "lanes not within 25 % of their share: $bytes"

ll_verify_guest "$dom" b "$console" "$off" "over the threshold"
ll_expect_clean a "over the threshold"
ll_expect_clean b "over the threshold"
# The destination took its lanes down itself: its log says so.
grep -q "lane1" "$(ll_host_dir b)/log/virt-lanesd.log" ||
    t_fail "the destination's daemon never mentions lane1"
t_log "PASS"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# virt-lanes migrate under the threshold: the plan is the base path alone,
# no lane comes up on either host (lanes 1 and 2 carry ~nothing), the
# migration completes over lane 0 and the guest verifies its memory on the
# destination; the run is recorded in the source's history.
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

dom="lab lanes under"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 256 --dirty 5 >&2 || t_fail "lab/boot failed"
console=$(ll_console a "$dom")
out=$VL_LAB_DIR/migrate.out
tx0=$(ll_tx a)

ll_migrate a b "$dom" "$out" --threshold 600 &
pid=$!
max_up=0
while kill -0 "$pid" 2>/dev/null; do
    for h in a b; do
        n=$(ll_lanes_up_on "$h")
        [ "$n" -le "$max_up" ] || max_up=$n
    done
    sleep 0.5
done
rc=0
wait "$pid" || rc=$?
off=$(stat -c %s "$console")
tx1=$(ll_tx a)
t_log "output: $(cat "$out")"
t_log "stderr: $(cat "$out.err")"
[ "$rc" -eq 0 ] || t_fail "virt-lanes migrate exited $rc"

plan=$(ll_event "$out" plan)
summary=$(ll_event "$out" summary)
jq -e '.plan.chosen.links == 1 and .plan.stop_reason == "within the threshold"' \
    >/dev/null <<<"$plan" || t_fail "the plan is not the base path alone: $plan"
[ -z "$(ll_event "$out" lanes)" ] || t_fail "lanes were asked for"
jq -e '.outcome == "completed" and .links == 1 and .channels == 2 and .downtime_ms >= 0' \
    >/dev/null <<<"$summary" || t_fail "summary: $summary"
[ "$max_up" -eq 0 ] || t_fail "a lane came up during the migration ($max_up rules seen)"
grep -q '^{"event":"progress"' "$out" || t_fail "no progress lines"

bytes=$(jq -n -c --argjson a "$tx0" --argjson b "$tx1" \
    '[range(0; 3) | "lane\(.)" as $k | $b[$k] - $a[$k]]')
t_log "bytes per lane on a: $bytes"
jq -e '.[0] > 256 * 1048576 and .[1] < 1048576 and .[2] < 1048576' >/dev/null <<<"$bytes" ||
    t_fail "the migration did not go over lane 0 alone: $bytes"

ll_verify_guest "$dom" b "$console" "$off" "under the threshold"
ll_expect_clean a "under the threshold"
ll_expect_clean b "under the threshold"
hist=$(ll_exec a cat "$LL_HISTORY" | tail -n 1)
jq -e --arg d "$dom" '.domain == $d and .lanes == 0 and .channels == 2 and .predicted_time_s > 0' \
    >/dev/null <<<"$hist" || t_fail "no history record: $hist"
t_log "PASS"

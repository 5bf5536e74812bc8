#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The live estimator against one real migration: with the daemon on both
# lab hosts, boot a guest that dirties 10 MiB/s and migrate it once a->b
# (the first migration in a new lab is 3-5 s slower than the next ones,
# which no input shows: docs/estimator.md; the sweep in bench/estimator
# warms up the same way). The history must
# hold that run; it is then emptied, so that the measured run starts
# from the policy alone. b's daemon measures the guest (`virt-lanes
# estimate --measure`: the daemon's measurements, the policy's declared
# base rate, no history), the guest migrates back over the base path
# alone (0 lanes: lab/migrate, plain virsh migrate), and the predicted
# job time must be within 15 % of the measured one (docs/estimator.md: a
# single run's bound; bench/estimator measures MAPE over many) with the
# right convergence verdict. Then the daemon must have learned: the
# history holds the run, and the next estimate takes its bandwidth from
# the history.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

if [ -z "$T_BUILDDIR" ] || [ ! -x "$T_BUILDDIR/plugin/daemon/virt-lanesd" ]; then
    t_skip "needs VL_LAB_BUILDDIR with a built daemon and CLI"
fi
BUILDDIR=$(readlink -f "$T_BUILDDIR")
t_need_lab
t_need_guest
# shellcheck source-path=SCRIPTDIR source=../../bench/estimator/lab-etc.sh
. "$T_SRC/bench/estimator/lab-etc.sh"

etc=$(mktemp -d "${TMPDIR:-/tmp}/vl-est-test.XXXXXX")
trap 'rm -rf "$etc"' EXIT
history=$VL_LAB_DIR/estimator-history.jsonl
est_lab_etc "$etc" "5,10,20" 600 "$history"
t_lab_up_etc "$etc" --links 3 --virt-lanes "$BUILDDIR"

dom="est test; \"quoted\" 'name'"
"$LAB/boot" "$dom" --on a --mem 1024 --working-set 512 --dirty 10 >&2 ||
    t_fail "lab/boot failed"

# The warm-up: the lab's first migration, which a's daemon records.
out=$("$LAB/migrate" "$dom" --from a --to b --timeout 300) || true
t_log "warm-up migration: $out"
jq -e '.result == "ok" and .guest.verified' >/dev/null <<<"$out" ||
    t_fail "warm-up migration did not succeed with a verified guest"
for _ in $(seq 1 20); do
    [ -s "$history" ] && break
    sleep 0.5
done
jq -e --arg d "$dom" 'select(.domain == $d and .lanes == 0 and .memory_bps > 0)' \
    "$history" >/dev/null ||
    t_fail "no history line for the warm-up migration: $(cat "$history" 2>/dev/null)"
# Estimates read the history file each time: emptied, it teaches nothing.
: >"$history"

# The background sampler on b began when the guest arrived: --measure
# discards that and measures each length now.
est=$(est_cli b estimate "$dom" --to a --lanes 0 --measure --json) ||
    t_fail "virt-lanes estimate --measure failed"
t_log "estimate: $est"
jq -e '.inputs.dirty_source == "sampled" and .inputs.dirty_fresh and
       .inputs.measurements >= 3' >/dev/null <<<"$est" ||
    t_fail "estimate does not rest on fresh samples"
jq -e '.inputs.dirty_rate_bps > 5 * 1048576 and .inputs.dirty_rate_bps < 15 * 1048576' \
    >/dev/null <<<"$est" || t_fail "sampled dirty rate far from the guest's 10 MiB/s"
jq -e '.rows[0].bandwidth_source == "declared"' >/dev/null <<<"$est" ||
    t_fail "first estimate should use the policy's declared lane rate"
# The table in text form names the inputs and the verdict.
text=$(est_cli b estimate "$dom" --to a --no-measure) || t_fail "text estimate failed"
t_log "$text"
grep -q '^Dirty rate: .*sampled' <<<"$text" || t_fail "text output lacks the sampled rate"
grep -Eq '^ +2 +3 +6 .*declared .*converges' <<<"$text" ||
    t_fail "text output lacks the row of 2 lanes (3 links)"

predicted=$(jq -r '.rows[0].total_time_s' <<<"$est")
converges=$(jq -r '.rows[0].converges' <<<"$est")
out=$("$LAB/migrate" "$dom" --from b --to a --timeout 300) || true
t_log "migration: $out"
jq -e '.result == "ok" and .guest.verified' >/dev/null <<<"$out" ||
    t_fail "migration did not succeed with a verified guest"
measured=$(jq -r '.job.time_ms / 1000' <<<"$out")
[ "$converges" = true ] || t_fail "estimator said it would not converge; it did in ${measured}s"
err=$(awk -v p="$predicted" -v m="$measured" 'BEGIN { e = (p - m) / m; if (e < 0) e = -e; printf "%.3f", e }')
t_log "predicted ${predicted}s, measured ${measured}s, error $(awk -v e="$err" 'BEGIN { printf "%.1f", 100 * e }') %"
awk -v e="$err" 'BEGIN { exit !(e <= 0.15) }' ||
    t_fail "prediction ${predicted}s is more than 15 % off the measured ${measured}s"

# Learned: b's daemon wrote the completed migration into the history...
for _ in $(seq 1 20); do
    [ -s "$history" ] && break
    sleep 0.5
done
jq -e --arg d "$dom" 'select(.domain == $d and .lanes == 0 and .memory_bps > 0
                         and .predicted_time_s > 0)' "$history" >/dev/null ||
    t_fail "no history line for the migration: $(cat "$history" 2>/dev/null)"
# ...and a's daemon, now the source, estimates one lane from it, with
# what its background sampler measured since the guest came back.
est_wait_samples a "$dom" 1 120 || t_fail "daemon on a did not sample '$dom'"
est2=$(est_cli a estimate "$dom" --to b --lanes 0 --no-measure --json) ||
    t_fail "second estimate failed"
jq -e '.rows[0].bandwidth_source == "history" and .inputs.history_records >= 1 and
       .inputs.dirty_source == "sampled"' \
    >/dev/null <<<"$est2" || t_fail "second estimate did not use the history: $est2"

# While nothing migrates, status on b shows the guest's last migration
# there: the one out, completed (on a it is the one in).
st=$(est_cli b status --json) || t_fail "status failed"
jq -e --arg d "$dom" '.domains[] | select(.name == $d) | .migration |
    .direction == "out" and .outcome == "completed" and (.active | not)' \
    >/dev/null <<<"$st" || t_fail "status on b lacks the completed migration: $st"
st=$(est_cli a status --json) || t_fail "status failed"
jq -e --arg d "$dom" '.domains[] | select(.name == $d) | .migration |
    .direction == "in" and .outcome == "completed"' \
    >/dev/null <<<"$st" || t_fail "status on a lacks the incoming migration: $st"
t_log "PASS"

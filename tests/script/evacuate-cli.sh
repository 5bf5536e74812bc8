# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# 'virt-lanes evacuate' as an admin runs it: usage errors (exit 2, a
# message, nothing on stdout), runtime errors (exit 1), and real runs
# against libvirt's test driver holding tests/data/evacuate/node.xml:
# the members of container "web" (by glob and by tag, names with
# spaces, quotes and ';'), the plan's order along the declared
# affinities, and a migration that fails (the test driver has none):
# nothing more starts, and the summary says what moved and what did not.
#
# Usage: sh evacuate-cli.sh CLI SRCDIR

set -u
CLI=$1
SRC=$2
DATA=$SRC/tests/data/evacuate
URI="test://$DATA/node.xml"
POLICY=$DATA/policy.json
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vl-evacuate-test.XXXXXX")
FAILURES=0
CODE=0
trap 'rm -rf "$TMP"' EXIT

command -v jq >/dev/null 2>&1 || { echo "jq not installed: skipping"; exit 77; }

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    FAILURES=$((FAILURES + 1))
}

# run ARGS...: sets CODE, fills $TMP/out and $TMP/err; never hangs.
run() {
    CODE=0
    timeout 60 "$CLI" -c "$URI" evacuate "$@" >"$TMP/out" 2>"$TMP/err" || CODE=$?
}

expect_usage() {
    run "$@"
    if [ "$CODE" -ne 2 ]; then
        fail "evacuate $*: exit $CODE, not 2"
    elif [ -s "$TMP/out" ]; then
        fail "evacuate $*: a usage error printed on stdout"
    elif ! grep -q 'virt-lanes evacuate: ' "$TMP/err"; then
        fail "evacuate $*: no message on stderr"
    fi
}

# ---- usage ------------------------------------------------------------------
expect_usage
expect_usage --to test:///default
expect_usage --host
expect_usage --host --to ""
expect_usage --container web --host --to test:///default
expect_usage --container "" --to test:///default
expect_usage --host --to test:///default --concurrency 0
expect_usage --host --to test:///default --concurrency 17
expect_usage --host --to test:///default --concurrency -1
expect_usage --host --to test:///default --concurrency "2; reboot"
expect_usage --host --to test:///default --observe 61
expect_usage --host --to test:///default --dirty-sample x
expect_usage --host --to test:///default extra
grep -q "Unexpected argument 'extra'" "$TMP/err" || fail "the stray argument is not named"
expect_usage --host --to test:///default --no-such-option

# ---- runtime errors -----------------------------------------------------------
run --container "no such" --to test:///default --policy "$POLICY" --dry-run
[ "$CODE" -eq 1 ] || fail "unknown container: exit $CODE, not 1"
grep -q "No container 'no such'" "$TMP/err" || fail "unknown container: not named"

run --host --to test:///default --policy "$TMP/missing.json" --dry-run
[ "$CODE" -eq 1 ] || fail "missing policy: exit $CODE, not 1"

CODE=0
timeout 60 "$CLI" -c test:///no/such/file.xml evacuate --host --to test:///default \
    --policy "$POLICY" --dry-run >"$TMP/out" 2>"$TMP/err" || CODE=$?
[ "$CODE" -eq 1 ] || fail "unreachable libvirt: exit $CODE, not 1"

# ---- the plan ------------------------------------------------------------------
# The history is the test's own, never the machine's.
FAST="--observe 0 --dirty-sample 0 --history $TMP/history.jsonl"
# shellcheck disable=SC2086 # FAST is several options
run --container web --to test:///default --policy "$POLICY" $FAST --dry-run --json
[ "$CODE" -eq 0 ] || fail "dry run: exit $CODE: $(cat "$TMP/err")"
plan=$(jq -c 'select(.event == "plan") | .plan' "$TMP/out")
[ -n "$plan" ] || fail "dry run: no plan event"
names=$(printf '%s' "$plan" | jq -r '.moves[].domain' | sort | tr '\n' '|')
# globs "web*" and the tag; not 'web-other' (tagged "other"),
# 'web-orphan' (tagged for a container the policy lacks), 'web-spare'
# (container "early" comes first and claims it) or 'web-tmpl' (the
# template)
[ "$names" = "db'x|web \"2\"|web 1|web;3|" ] || fail "members: $names"
# the affinities make a path: the plan walks it, stretch 1
[ "$(printf '%s' "$plan" | jq '.max_stretch')" = 1 ] || fail "max stretch: $plan"
[ "$(printf '%s' "$plan" | jq '.optimal')" = true ] || fail "not optimal: $plan"
order=$(printf '%s' "$plan" | jq -r '.moves[].domain' | tr '\n' '|')
case $order in
    "web 1|db'x|web;3|web \"2\"|" | "web \"2\"|web;3|db'x|web 1|") ;;
    *) fail "order does not follow the affinities: $order" ;;
esac
# every move has an estimate over the base path; none started
[ "$(printf '%s' "$plan" | jq '[.moves[] | select(.estimated and .links == ["base"])] | length')" = 4 ] ||
    fail "estimates: $plan"
grep -q '"event":"started"' "$TMP/out" && fail "a dry run started a move"

# two at a time: the same order, each estimate gets half the bandwidth
# shellcheck disable=SC2086
run --container web --to test:///default --policy "$POLICY" $FAST --dry-run --json --concurrency 2
plan2=$(jq -c 'select(.event == "plan") | .plan' "$TMP/out")
[ "$(printf '%s' "$plan2" | jq -r '.moves[].domain' | tr '\n' '|')" = "$order" ] ||
    fail "concurrency changed the order"
half=$(jq -n --argjson a "$plan" --argjson b "$plan2" \
    '[$a.moves, $b.moves] | transpose | all(.[1].bandwidth_bps * 2 - .[0].bandwidth_bps | fabs < 1e-6)')
[ "$half" = true ] || fail "concurrency 2 did not halve each move's bandwidth"
[ "$(printf '%s' "$plan2" | jq '.moves[1].start_s')" = 0 ] || fail "the second move does not start at once"

# the fixed cost per move: the default (2 s) without history, each move's
# time its job plus it; then the median of the history's last lines that
# carry one (2.0, 5.0, 4.0 -> 4.0), and --no-history back to the default
[ "$(printf '%s' "$plan" | jq '.move_overhead_s')" = 2 ] || fail "default fixed cost: $plan"
[ "$(printf '%s' "$plan" | jq '[.moves[] | select(.duration_s - .job_s - .overhead_s | fabs < 1e-9)] | length')" = 4 ] ||
    fail "duration is not job + fixed cost: $plan"
[ "$(printf '%s' "$plan" | jq '.lanes_up_s')" = 0 ] || fail "lanes counted without lanes: $plan"
n=0
for c in 2.0 null 5.0 4.0; do
    n=$((n + 1))
    # distinct runs (other bytes): the loader merges one run's two lines
    jq -nc --argjson c "$c" --argjson n "$n" '{v: 1, time: 1700000000, domain: "h",
        memory_bytes: 1, processed_bytes: $n, total_time_s: 1, memory_bps: 1,
        iterations: 1, downtime_ms: 1, dirty_rate_bps: 0, lanes: 1, channels: 0}
        + (if $c == null then {} else {move_overhead_s: $c} end)' >>"$TMP/history.jsonl"
done
# shellcheck disable=SC2086
run --container web --to test:///default --policy "$POLICY" $FAST --dry-run --json
plan3=$(jq -c 'select(.event == "plan")' "$TMP/out")
[ "$(printf '%s' "$plan3" | jq '.plan.move_overhead_s')" = 4 ] || fail "learned fixed cost: $plan3"
[ "$(printf '%s' "$plan3" | jq '.move_overhead_runs')" = 3 ] || fail "learned from: $plan3"
first=$(printf '%s' "$plan3" | jq '.plan.moves[0] | .overhead_s == 4 and (.duration_s - .job_s - 4 | fabs < 1e-9)')
[ "$first" = true ] || fail "first move's fixed cost: $plan3"
# shellcheck disable=SC2086
run --container web --to test:///default --policy "$POLICY" $FAST --dry-run
grep -q "besides its job (the median of the last 3 in the history)" "$TMP/out" ||
    fail "text plan: $(cat "$TMP/out")"
run --container web --to test:///default --policy "$POLICY" --observe 0 --dirty-sample 0 \
    --no-history --dry-run --json
[ "$(jq -c 'select(.event == "plan") | .plan.move_overhead_s' "$TMP/out")" = 2 ] ||
    fail "--no-history: $(cat "$TMP/out")"
# a history that cannot be read: said, and the default
mkdir "$TMP/history-dir"
run --container web --to test:///default --policy "$POLICY" --observe 0 --dirty-sample 0 \
    --history "$TMP/history-dir" --dry-run
[ "$CODE" -eq 0 ] || fail "unreadable history: exit $CODE"
grep -q "Not reading the history: " "$TMP/out" || fail "unreadable history: $(cat "$TMP/out")"
grep -q "besides its job (the default: no history of it)" "$TMP/out" ||
    fail "unreadable history: $(cat "$TMP/out")"

# --host: every running domain, names and all, in text
# shellcheck disable=SC2086
run --host --to test:///default --policy "$POLICY" $FAST --dry-run
[ "$CODE" -eq 0 ] || fail "--host dry run: exit $CODE"
grep -q "8 domains" "$TMP/out" || fail "--host: not 8 domains: $(cat "$TMP/out")"
grep -q "'web \"2\"'" "$TMP/out" || fail "--host: a quoted name is not shown as it is"

# ---- a run that fails ------------------------------------------------------------
# The test driver cannot migrate: the first move fails, no other starts.
# shellcheck disable=SC2086
run --container web --to test:///default --policy "$POLICY" $FAST --json
[ "$CODE" -eq 1 ] || fail "failing run: exit $CODE, not 1"
[ "$(grep -c '"event":"started"' "$TMP/out")" = 1 ] || fail "more than one move started after a failure"
summary=$(jq -c 'select(.event == "summary")' "$TMP/out")
[ "$(printf '%s' "$summary" | jq '.moved | length')" = 0 ] || fail "summary: $summary"
[ "$(printf '%s' "$summary" | jq '.not_moved | length')" = 4 ] || fail "summary: $summary"
[ "$(printf '%s' "$summary" | jq -r '.moves[0].state')" = failed ] || fail "summary: $summary"
printf '%s' "$summary" | jq -r '.moves[0].error' | grep -q 'not supported' ||
    fail "the failure does not carry libvirt's message: $summary"
[ "$(printf '%s' "$summary" | jq '[.moves[] | select(.state == "pending")] | length')" = 3 ] ||
    fail "summary: $summary"

# two at once: both start before the first failure is seen, then nothing more
# shellcheck disable=SC2086
run --container web --to test:///default --policy "$POLICY" $FAST --concurrency 2
[ "$CODE" -eq 1 ] || fail "failing run, 2 at once: exit $CODE, not 1"
grep -q "Moved 0 of 4" "$TMP/out" || fail "text summary: $(cat "$TMP/out")"
[ "$(grep -c ': not started$' "$TMP/out")" = 2 ] || fail "text summary: $(cat "$TMP/out")"

if [ "$FAILURES" -gt 0 ]; then
    echo "$FAILURES failure(s)"
    exit 1
fi
echo "PASS"

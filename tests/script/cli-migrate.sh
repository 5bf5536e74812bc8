# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# virt-lanes migrate from the outside: bad arguments exit 2 with the
# usage, an unknown peer or domain exits 1 naming it, --dry-run against
# test:///default prints the plan the threshold and max_lanes call for,
# and with no daemon the command says so (or refuses with
# --require-lanes) without touching anything.
#
#   sh cli-migrate.sh VIRT_LANES

set -u

VL=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vl-cli-migrate.XXXXXX")
FAILURES=0
CODE=0
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    FAILURES=$((FAILURES + 1))
}

# run ARGS...: virt-lanes with a socket nobody listens on; sets CODE.
run() {
    timeout 60 "$VL" --socket "$TMP/no-daemon.sock" --connect test:///default \
        "$@" >"$TMP/out" 2>"$TMP/err"
    CODE=$?
}

expect_usage() {
    what=$1
    shift
    run migrate "$@"
    [ "$CODE" -eq 2 ] || fail "$what: exit $CODE, expected 2 ($(head -c 300 "$TMP/err"))"
    grep -q "Usage:" "$TMP/err" || fail "$what: no usage on stderr"
    [ ! -s "$TMP/out" ] || fail "$what: wrote to stdout"
}

cat >"$TMP/policy.json" <<'EOF'
{ "migration": { "threshold_s": 30, "lane_up_max_s": 2.5,
  "migration_address": "198.19.0.1", "max_lanes": 2, "channels_per_lane": 2,
  "peers": [ { "name": "host-b", "uri": "qemu+tcp://198.18.0.12/system",
    "migration_address": "198.19.0.2", "base_bandwidth_mbit": 200,
    "lanes": [
      { "interface": "lane1", "address": "198.18.11.1/24", "peer_address": "198.18.11.2", "bandwidth_mbit": 200 },
      { "interface": "lane2", "address": "198.18.12.1/24", "peer_address": "198.18.12.2", "bandwidth_mbit": 200 } ] } ] } }
EOF
P="--policy $TMP/policy.json --no-history --dirty-rate 0"
B=qemu+tcp://198.18.0.12/system

# ---- usage errors: exit 2, usage, nothing done --------------------------------
expect_usage "no arguments"
expect_usage "one argument" test
expect_usage "three arguments" test "$B" extra
expect_usage "empty domain" "" "$B"
expect_usage "unknown option" --no-such-option test "$B"
expect_usage "parallel 0" --parallel-connections 0 test "$B"
expect_usage "parallel 256" --parallel-connections 256 test "$B"
expect_usage "parallel text" --parallel-connections six test "$B"
expect_usage "parallel negative" --parallel-connections -3 test "$B"
expect_usage "bandwidth 0" --bandwidth 0 test "$B"
expect_usage "downtime 0" --max-downtime 0 test "$B"
expect_usage "downtime huge" --max-downtime 60001 test "$B"
expect_usage "threshold 0" --threshold 0 test "$B"
expect_usage "threshold nan" --threshold nan test "$B"
expect_usage "threshold inf" --threshold inf test "$B"
expect_usage "threshold trailing" --threshold 10s test "$B"
expect_usage "max-lanes -1" --max-lanes -1 test "$B"
expect_usage "max-lanes 17" --max-lanes 17 test "$B"
expect_usage "dirty-rate negative" --dirty-rate -1 test "$B"
expect_usage "dirty-sample 61" --dirty-sample 61 test "$B"
grep -q -- "--dirty-sample" "$TMP/err" || fail "dirty-sample 61: the option is not named"
expect_usage "control characters" --threshold "$(printf '1\033[2J')" test "$B"
if grep -q "$(printf '\033')" "$TMP/err"; then
    fail "control characters: echoed raw to the terminal"
fi

# ---- runtime errors: exit 1 naming what is wrong ---------------------------------
# shellcheck disable=SC2086 # $P is several options on purpose
run migrate $P --peer "no such peer" test "$B"
[ "$CODE" -eq 1 ] || fail "unknown peer: exit $CODE, expected 1"
grep -q "Peer 'no such peer' is not in the migration policy" "$TMP/err" ||
    fail "unknown peer: not named ($(cat "$TMP/err"))"

# shellcheck disable=SC2086
run migrate $P test "qemu+tcp://elsewhere/system"
[ "$CODE" -eq 1 ] || fail "unknown URI: exit $CODE, expected 1"
grep -q "qemu+tcp://elsewhere/system" "$TMP/err" || fail "unknown URI: not named"

# shellcheck disable=SC2086
run migrate $P "no 'such' dom;ain" "$B"
[ "$CODE" -eq 1 ] || fail "unknown domain: exit $CODE, expected 1"
grep -q "Failed to find domain 'no 'such' dom;ain'" "$TMP/err" ||
    fail "unknown domain: not named ($(cat "$TMP/err"))"

run migrate --policy "$TMP/missing" test "$B"
[ "$CODE" -eq 1 ] || fail "missing policy: exit $CODE, expected 1"
grep -q "$TMP/missing" "$TMP/err" || fail "missing policy: path not named"

printf '{ "migration": { "max_lane": 3 } }\n' >"$TMP/bad.json"
run migrate --policy "$TMP/bad.json" test "$B"
[ "$CODE" -eq 1 ] || fail "bad policy: exit $CODE, expected 1"
grep -q "unknown key 'max_lane'" "$TMP/err" || fail "bad policy: key not named"

# ---- the policy decides whether post-copy and auto-converge may be used -------------------
for flag in --postcopy --auto-converge; do
    key=$(printf '%s' "$flag" | sed 's/^--//; s/-/_/g; s/^/allow_/')
    # shellcheck disable=SC2086
    run migrate $P --dry-run "$flag" test "$B"
    [ "$CODE" -eq 1 ] || fail "$flag, policy says no: exit $CODE, expected 1"
    grep -q "$key" "$TMP/err" || fail "$flag, policy says no: '$key' not named ($(cat "$TMP/err"))"
    grep -q "$TMP/policy.json" "$TMP/err" || fail "$flag, policy says no: policy file not named"
    [ ! -s "$TMP/out" ] || fail "$flag, policy says no: printed a plan"
    sed "s/\"threshold_s\": 30,/\"threshold_s\": 30, \"$key\": true,/" "$TMP/policy.json" >"$TMP/allow.json"
    run migrate --policy "$TMP/allow.json" --no-history --dirty-rate 0 --dry-run "$flag" test "$B"
    [ "$CODE" -eq 0 ] || fail "$flag, policy allows it: exit $CODE ($(cat "$TMP/err"))"
done

# ---- dry runs: the plan follows the threshold and max_lanes ----------------------------
# shellcheck disable=SC2086
run migrate $P --dry-run --threshold 3600 test "$B"
[ "$CODE" -eq 0 ] || fail "dry run, long threshold: exit $CODE ($(cat "$TMP/err"))"
grep -q "^Plan: 1 link, 2 channels (within the threshold)" "$TMP/out" ||
    fail "dry run, long threshold: not one link ($(cat "$TMP/out"))"

# shellcheck disable=SC2086
run migrate $P --dry-run --threshold 5 test "$B"
[ "$CODE" -eq 0 ] || fail "dry run, short threshold: exit $CODE"
grep -q "^Plan: 3 links, 6 channels (max_lanes reached)" "$TMP/out" ||
    fail "dry run, short threshold: not three links ($(cat "$TMP/out"))"

grep -q "+lane2" "$TMP/out" || fail "dry run: the step adding lane2 is not printed"

# shellcheck disable=SC2086
run migrate $P --dry-run --threshold 5 --max-lanes 0 test "$B"
grep -q "^Plan: 1 link, 2 channels (max_lanes reached)" "$TMP/out" ||
    fail "dry run, --max-lanes 0: ($(cat "$TMP/out"))"

# shellcheck disable=SC2086
run migrate $P --dry-run --threshold 5 --max-lanes 1 --parallel-connections 5 test "$B"
grep -q "^Plan: 2 links, 6 channels (max_lanes reached)" "$TMP/out" ||
    fail "dry run, --max-lanes 1: ($(cat "$TMP/out"))"

# shellcheck disable=SC2086
run migrate $P --dry-run --json --threshold 5 test "$B"
[ "$CODE" -eq 0 ] || fail "dry run --json: exit $CODE"
grep -q '^{"event":"plan",.*"chosen":{"links":3,"channels":6}' "$TMP/out" ||
    fail "dry run --json: ($(cat "$TMP/out"))"
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "dry run --json: more than one line"

# ---- no daemon: warn and go plain, or refuse with --require-lanes ------------------------
# (test:///default cannot migrate: the attempt itself fails, after the
# decision this checks.)
# shellcheck disable=SC2086
run migrate $P --threshold 5 test "$B"
[ "$CODE" -eq 1 ] || fail "no daemon: exit $CODE, expected 1 (test:/// cannot migrate)"
grep -q "virt-lanesd does not answer at '$TMP/no-daemon.sock': migrating over the base path only" \
    "$TMP/err" || fail "no daemon: no warning ($(cat "$TMP/err"))"
grep -q "^Migrating 'test' to 'host-b' over 1 link with 2 channels" "$TMP/out" ||
    fail "no daemon: did not go plain ($(cat "$TMP/out"))"

# shellcheck disable=SC2086
run migrate $P --threshold 5 --require-lanes test "$B"
[ "$CODE" -eq 1 ] || fail "--require-lanes: exit $CODE, expected 1"
grep -q "does not answer .* (--require-lanes): not migrating" "$TMP/err" ||
    fail "--require-lanes: ($(cat "$TMP/err"))"
if grep -q "^Migrating" "$TMP/out"; then
    fail "--require-lanes: it migrated anyway"
fi

if [ "$FAILURES" -gt 0 ]; then
    printf '%d failure(s)\n' "$FAILURES" >&2
    exit 1
fi
exit 0

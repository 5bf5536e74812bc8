#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# 'virt-lanes evacuate' on a real host: three small guests of container
# "evac" (names with spaces and quotes) run on host a; the policy
# declares who talks to whom (a path ev-1 - ev-3 - ev-2, which name
# order would break); the daemon on a is told to reload; the CLI, run
# inside host a, plans and moves them to b.  Asserted: every guest moved,
# in the planned order (the CLI's own events and the destination
# daemon's hook events agree), the plan follows the affinities, and
# every guest's memory checks out on b (two verify passes on its console
# after the evacuation, no CORRUPT ever).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# vl_virsh, vl_guest_host
# shellcheck source=../../lab/lib.sh
. "$LAB/lib.sh"

t_need_lab
[ -n "$T_BUILDDIR" ] || t_skip "needs VL_LAB_BUILDDIR (the build to install)"
for f in hook/virt-lanes-hook plugin/daemon/virt-lanesd plugin/cli/virt-lanes; do
    [ -x "$T_BUILDDIR/$f" ] || t_skip "not built: $T_BUILDDIR/$f"
done
t_need_guest
t_lab_up --links 3 --virt-lanes "$T_BUILDDIR"

HOST_A=$VL_LAB_DIR/hosts/a
G1='ev-1 web'
G2='ev-2 "db"'
G3='ev-3 cache'
for g in "$G1" "$G2" "$G3"; do
    "$LAB/boot" "$g" --on a --mem 256 --working-set 32 >&2 || t_fail "lab/boot '$g' failed"
done

# The container and its affinities, next to lab/up's 10-lab.json (which
# names host b as a peer with its migration address).
policy=$HOST_A/fs/etc/virt-lanes/policies.d/20-evacuate.json
jq -n --arg g1 "$G1" --arg g2 "$G2" --arg g3 "$G3" '{
    description: "tests/lab/evacuate.sh",
    containers: [ { name: "evac", members: { name_globs: [ "ev-*" ] },
                    affinities: [ { a: $g1, b: $g3, weight: 2 },
                                  { a: $g3, b: $g2, weight: 1 } ] } ] }' >"$policy"
chmod 0644 "$policy"
daemon_pid=$(cat "$HOST_A/pids/virt-lanesd")
kill -HUP "$daemon_pid"
for _ in $(seq 1 50); do
    grep -q "Reloaded the policy" "$HOST_A/log/virt-lanesd.log" && break
    sleep 0.1
done
grep -q "Reloaded the policy" "$HOST_A/log/virt-lanesd.log" ||
    t_fail "the daemon on a did not reload its policy"

vl_cli() { # HOST ARGS...: the CLI inside a lab host
    local h=$1
    shift
    "$LAB/host" exec --state-dir "$VL_LAB_DIR/hosts/$h" -- \
        "$T_BUILDDIR/plugin/cli/virt-lanes" -c qemu:///system \
        --socket /run/virt-lanes/virt-lanesd.sock "$@"
}

out=$VL_LAB_DIR/evacuate.jsonl
rc=0
vl_cli a evacuate --container evac --to qemu+tcp://198.18.0.12/system \
    --json --observe 1 --dirty-sample 3 >"$out" || rc=$?
t_log "evacuate exited $rc; its output:"
cat "$out" >&2
[ "$rc" -eq 0 ] || t_fail "evacuate exited $rc"

# The plan: all three, along the declared path (ev-3 in the middle).
plan=$(jq -c 'select(.event == "plan") | .plan' "$out")
[ -n "$plan" ] || t_fail "no plan in the output"
mapfile -t planned < <(jq -r '.moves[].domain' <<<"$plan")
[ "${#planned[@]}" -eq 3 ] || t_fail "planned ${#planned[@]} moves, not 3"
[ "${planned[1]}" = "$G3" ] || t_fail "the plan does not follow the affinities: ${planned[*]}"
jq -e '.max_stretch == 1 and .optimal and ([.moves[] | select(.estimated)] | length) == 3' \
    >/dev/null <<<"$plan" || t_fail "plan: $plan"
# each guest's dirty rate was measured (page sampling), its memory read
jq -e '[.moves[] | select(.dirty_rate_bps != null and .memory_bytes == 268435456)] | length == 3' \
    >/dev/null <<<"$plan" || t_fail "dirty rates or memory missing: $plan"
jq -s -e 'map(select(.event == "plan"))[0].traffic.observed' "$out" >/dev/null ||
    t_fail "the connection tracking table of host a was not read"

# The moves, in the planned order, one at a time.
mapfile -t started < <(jq -r 'select(.event == "started") | .domain' "$out")
mapfile -t finished < <(jq -r 'select(.event == "finished" and .state == "moved") | .domain' "$out")
[ "${started[*]}" = "${planned[*]}" ] || t_fail "started [${started[*]}], planned [${planned[*]}]"
[ "${finished[*]}" = "${planned[*]}" ] || t_fail "moved [${finished[*]}], planned [${planned[*]}]"
jq -e 'select(.event == "summary") | .ok and (.moved | length) == 3' "$out" >/dev/null ||
    t_fail "the summary does not say all three moved"

# The destination's daemon saw them arrive in that order: the time of
# each domain's "migrate begin" hook event on b.
status_b=$(vl_cli b status --json)
arrived=()
for g in "${planned[@]}"; do
    t=$(jq -r --arg d "$g" '.domains[] | select(.name == $d) | .events[]
        | select(.source == "hook" and .event == "migrate begin") | .time' <<<"$status_b" | tail -n 1)
    [ -n "$t" ] || t_fail "the daemon on b saw no incoming migration of '$g'"
    arrived+=("$t")
done
if ! [[ "${arrived[0]}" < "${arrived[1]}" && "${arrived[1]}" < "${arrived[2]}" ]]; then
    t_fail "arrival times on b out of order: ${arrived[*]}"
fi

# Every guest runs on b and its memory checks out there.
declare -A offset=()
for g in "${planned[@]}"; do
    [ "$(vl_guest_host "$g")" = b ] || t_fail "'$g' is not running on b"
    uuid=$(vl_virsh b domuuid --domain "$g" | tr -d '[:space:]')
    console=$VL_LAB_DIR/console/$uuid.log
    offset[$g]=$(stat -c %s "$console")
done
deadline=$(($(date +%s) + 90))
for g in "${planned[@]}"; do
    uuid=$(vl_virsh b domuuid --domain "$g" | tr -d '[:space:]')
    console=$VL_LAB_DIR/console/$uuid.log
    n=0
    while [ "$(date +%s)" -lt "$deadline" ]; do
        n=$(tail -c +"$((offset[$g] + 1))" "$console" | grep -ac '^VERIFY OK ' || true)
        [ "$n" -lt 2 ] || break
        sleep 1
    done
    [ "$n" -ge 2 ] || t_fail "'$g': $n verify passes on b after the evacuation, not 2"
    grep -aq '^READY ' "$console" || t_fail "'$g' never printed READY"
    if grep -aqE '^(CORRUPT|VERIFY FAILED)' "$console"; then
        t_fail "'$g': memory corrupted by the migration"
    fi
done
t_log "PASS: moved ${planned[*]}"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# 'virt-lanes evacuate' on real hosts.  Three small guests of container
# "evac" (names with spaces and quotes) run on host a; the policy
# declares who talks to whom (a path ev-1 - ev-3 - ev-2, which name order
# would break); the daemons are told to reload; the CLI runs inside the
# hosts.
#
# 1. a -> b, one at a time: every guest moved, in the planned order (the
#    CLI's events and the destination daemon's hook events agree), the
#    plan follows the affinities, dirty rates were measured.
# 2. b -> a, two at a time, --dynamic: all moved, never more than two in
#    flight, the first two started before either ended.
# 3. a -> b, interrupted (SIGINT) early in the first move: exit 1, that
#    move cancelled and its guest still running on a, nothing else
#    started.
# After each phase every guest's memory checks out where it runs (two
# verify passes on its console afterwards, no CORRUPT ever), and neither
# host holds a lane.  In phases 1 and 2 the lanes came up once and went
# down once for the whole evacuation, not per move.  Each phase logs its
# predicted and measured times (docs/evacuate.md, "Measured in the lab").
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

URI_A=qemu+tcp://198.18.0.11/system
URI_B=qemu+tcp://198.18.0.12/system
G1='ev-1 web'
G2='ev-2 "db"'
G3='ev-3 cache'
for g in "$G1" "$G2" "$G3"; do
    "$LAB/boot" "$g" --on a --mem 256 --working-set 32 >&2 || t_fail "lab/boot '$g' failed"
done

# The container and its affinities on both hosts, next to lab/up's
# 10-lab.json (which names the other host as a peer with its migration
# address); each daemon reloads on SIGHUP.
for h in a b; do
    dir=$VL_LAB_DIR/hosts/$h
    jq -n --arg g1 "$G1" --arg g2 "$G2" --arg g3 "$G3" '{
        description: "tests/lab/evacuate.sh",
        containers: [ { name: "evac", members: { name_globs: [ "ev-*" ] },
                        affinities: [ { a: $g1, b: $g3, weight: 2 },
                                      { a: $g3, b: $g2, weight: 1 } ] } ] }' \
        >"$dir/fs/etc/virt-lanes/policies.d/20-evacuate.json"
    chmod 0644 "$dir/fs/etc/virt-lanes/policies.d/20-evacuate.json"
    kill -HUP "$(cat "$dir/pids/virt-lanesd")"
    for _ in $(seq 1 50); do
        grep -q "Reloaded the policy" "$dir/log/virt-lanesd.log" && break
        sleep 0.1
    done
    grep -q "Reloaded the policy" "$dir/log/virt-lanesd.log" ||
        t_fail "the daemon on $h did not reload its policy"
done

cli_argv() { # HOST -> the CLI inside that lab host, as words in CLI[]
    CLI=("$LAB/host" exec --state-dir "$VL_LAB_DIR/hosts/$1" --
         "$T_BUILDDIR/plugin/cli/virt-lanes" -c qemu:///system
         --socket /run/virt-lanes/virt-lanesd.sock)
}

# check_guests HOST: every guest runs on HOST and verifies there: READY,
# two VERIFY OK passes after now, never CORRUPT or VERIFY FAILED.
check_guests() {
    local host=$1 g uuid console n deadline
    declare -A offset=()
    for g in "$G1" "$G2" "$G3"; do
        [ "$(vl_guest_host "$g")" = "$host" ] || t_fail "'$g' is not running on $host"
        uuid=$(vl_virsh "$host" domuuid --domain "$g" | tr -d '[:space:]')
        offset[$g]=$(stat -c %s "$VL_LAB_DIR/console/$uuid.log")
    done
    deadline=$(($(date +%s) + 90))
    for g in "$G1" "$G2" "$G3"; do
        uuid=$(vl_virsh "$host" domuuid --domain "$g" | tr -d '[:space:]')
        console=$VL_LAB_DIR/console/$uuid.log
        n=0
        while [ "$(date +%s)" -lt "$deadline" ]; do
            n=$(tail -c +"$((offset[$g] + 1))" "$console" | grep -ac '^VERIFY OK ' || true)
            [ "$n" -lt 2 ] || break
            sleep 1
        done
        [ "$n" -ge 2 ] || t_fail "'$g': $n verify passes on $host, not 2"
        grep -aq '^READY ' "$console" || t_fail "'$g' never printed READY"
        if grep -aqE '^(CORRUPT|VERIFY FAILED)' "$console"; then
            t_fail "'$g': memory corrupted"
        fi
    done
}

# lanes_gone: neither host's daemon holds a lane or an incoming plan
# (the destination releases its side when it sees the migration end).
lanes_gone() {
    local h reply=
    for h in a b; do
        cli_argv "$h"
        for _ in $(seq 1 40); do
            reply=$("${CLI[@]}" lanes --json 2>/dev/null || true)
            jq -e '.ok and (.lanes | length == 0) and ((.incoming // []) | length == 0)' \
                >/dev/null 2>&1 <<<"$reply" && break
            sleep 0.5
        done
        jq -e '.ok and (.lanes | length == 0) and ((.incoming // []) | length == 0)' \
            >/dev/null 2>&1 <<<"$reply" || t_fail "lanes left on $h: $reply"
    done
}

# lanes_once OUT: the lanes came up once and went down once for the run,
# and every move used them (3 links).
lanes_once() {
    local out=$1 n
    n=$(jq -s '[.[] | select(.event == "note" and (.note | startswith("lanes up for the whole evacuation")))] | length' "$out")
    [ "$n" -eq 1 ] || t_fail "$out: the lanes came up $n times, not once"
    n=$(jq -s '[.[] | select(.event == "note" and (.note | startswith("lanes down")))] | length' "$out")
    [ "$n" -eq 1 ] || t_fail "$out: the lanes went down $n times, not once"
    n=$(jq -s '[.[] | select(.event == "note" and (.note | startswith("3 links")))] | length' "$out")
    [ "$n" -eq 3 ] || t_fail "$out: $n moves over 3 links, not 3"
}

# recorded SRC: every guest moved from SRC has a history line there with
# its fixed cost (move_overhead_s, wall - job - lane wait); logged.
recorded() {
    local src=$1 g line
    local hist=$VL_LAB_DIR/hosts/$src/fs/var/lib/virt-lanes/history.jsonl
    for g in "$G1" "$G2" "$G3"; do
        line=$(jq -c --arg d "$g" 'select(.domain == $d and .move_overhead_s != null)
            | {domain, total_time_s, move_overhead_s, lanes, channels}' "$hist" 2>/dev/null | tail -n 1)
        [ -n "$line" ] || t_fail "no history line with a fixed cost for '$g' on $src"
        t_log "  recorded on $src: $line"
    done
}

# timings OUT: predicted (plan) and measured (started..finished) times per
# move and in total, for docs/evacuate.md.
timings() {
    jq -s -r '
        (map(select(.event == "plan"))[0].plan) as $p
        | (map(select(.event == "started")) | map({(.domain): .time_us}) | add) as $s
        | (map(select(.event == "finished")) | map({(.domain): .time_us}) | add) as $f
        | ([$s[]] | min) as $t0 | ([$f[]] | max) as $t1
        | "lanes up \($p.lanes_up_s) s, fixed cost \($p.move_overhead_s) s per move (from \(map(select(.event == "plan"))[0].move_overhead_runs) history lines)",
          ($p.moves[] | "  \(.domain): predicted \(.duration_s * 10 | round / 10) s (job \(.job_s * 10 | round / 10) s), starts at \(.start_s * 10 | round / 10) s; measured \((($f[.domain] - $s[.domain]) / 1e5 | round) / 10) s, started at \((($s[.domain] - $t0) / 1e5 | round) / 10) s"),
          "  total: predicted \($p.total_s * 10 | round / 10) s, measured \((($t1 - $t0) / 1e5 | round) / 10) s"' "$1" |
        while IFS= read -r line; do t_log "$line"; done
    t_log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- 1. a -> b, one at a time ------------------------------------------------
out=$VL_LAB_DIR/evacuate-1.jsonl
rc=0
cli_argv a
"${CLI[@]}" evacuate --container evac --to "$URI_B" --json --observe 1 \
    >"$out" || rc=$?
t_log "phase 1: evacuate exited $rc; its output:"
cat "$out" >&2
[ "$rc" -eq 0 ] || t_fail "evacuate exited $rc"

plan=$(jq -c 'select(.event == "plan") | .plan' "$out")
[ -n "$plan" ] || t_fail "no plan in the output"
mapfile -t planned < <(jq -r '.moves[].domain' <<<"$plan")
[ "${#planned[@]}" -eq 3 ] || t_fail "planned ${#planned[@]} moves, not 3"
[ "${planned[1]}" = "$G3" ] || t_fail "the plan does not follow the affinities: ${planned[*]}"
jq -e '.max_stretch == 1 and .optimal and ([.moves[] | select(.estimated)] | length) == 3' \
    >/dev/null <<<"$plan" || t_fail "plan: $plan"
# each guest's dirty rate is known (virt-lanesd's sampling or our own
# measurement), its memory read
jq -e '[.moves[] | select(.dirty_rate_bps != null and .memory_bytes == 268435456)] | length == 3' \
    >/dev/null <<<"$plan" || t_fail "dirty rates or memory missing: $plan"
jq -s -e 'map(select(.event == "plan"))[0].traffic.observed' "$out" >/dev/null ||
    t_fail "the connection tracking table of host a was not read"

mapfile -t started < <(jq -r 'select(.event == "started") | .domain' "$out")
mapfile -t finished < <(jq -r 'select(.event == "finished" and .state == "moved") | .domain' "$out")
[ "${started[*]}" = "${planned[*]}" ] || t_fail "started [${started[*]}], planned [${planned[*]}]"
[ "${finished[*]}" = "${planned[*]}" ] || t_fail "moved [${finished[*]}], planned [${planned[*]}]"
jq -s -e 'map(select(.event == "summary"))[0] | .ok and (.moved | length) == 3' "$out" \
    >/dev/null || t_fail "the summary does not say all three moved"

# The destination's daemon saw them arrive in that order: the time of
# each domain's "migrate begin" hook event on b.
cli_argv b
status_b=$("${CLI[@]}" status --json)
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
check_guests b
lanes_once "$VL_LAB_DIR/evacuate-1.jsonl"
lanes_gone
t_log "phase 1 (a -> b, 1 at a time):"
timings "$VL_LAB_DIR/evacuate-1.jsonl"
recorded a

# ---- 2. b -> a, two at a time, dynamic ------------------------------------------
out=$VL_LAB_DIR/evacuate-2.jsonl
rc=0
cli_argv b
"${CLI[@]}" evacuate --container evac --to "$URI_A" --json --observe 1 --dirty-sample 0 \
    --concurrency 2 --dynamic >"$out" || rc=$?
t_log "phase 2: evacuate exited $rc; its output:"
cat "$out" >&2
[ "$rc" -eq 0 ] || t_fail "evacuate back exited $rc"
# never more than two in flight; the first two start before any ends
inflight=$(jq -s '[.[] | select(.event == "started" or .event == "finished")
    | if .event == "started" then 1 else -1 end]
    | reduce .[] as $d ({n: 0, max: 0}; .n += $d | .max = ([.max, .n] | max)) | .max' "$out")
[ "$inflight" -eq 2 ] || t_fail "$inflight moves in flight at most, not 2"
first_two=$(jq -s -r '[.[] | select(.event == "started" or .event == "finished") | .event][0:2] | join(",")' "$out")
[ "$first_two" = "started,started" ] || t_fail "the first two events were $first_two"
jq -s -e 'map(select(.event == "summary"))[0] | .ok and (.moved | length) == 3' "$out" \
    >/dev/null || t_fail "not all three moved back"
check_guests a
lanes_once "$out"
lanes_gone
t_log "phase 2 (b -> a, 2 at a time, --dynamic):"
timings "$out"
# (no lines on b: the guests arrived there transient, and libvirt keeps
# no completed job statistics for a transient domain that left)

# ---- 3. a -> b, interrupted -------------------------------------------------------
out=$VL_LAB_DIR/evacuate-3.jsonl
cli_argv a
# lab/host exec execs nsenter, which execs the CLI: $! is the CLI.
"${CLI[@]}" evacuate --container evac --to "$URI_B" --json --observe 0 --dirty-sample 0 \
    >"$out" &
pid=$!
for _ in $(seq 1 300); do
    grep -q '"event":"started"' "$out" && break
    sleep 0.1
done
grep -q '"event":"started"' "$out" || t_fail "phase 3: no move started"
# Early in the move: with the lanes up in 0.2 s a small idle guest can
# switch over 3 s after its start, and an abort after that comes too
# late (the move is then rightly reported as moved).
sleep 0.5
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
t_log "phase 3: evacuate exited $rc after SIGINT; its output:"
cat "$out" >&2
[ "$rc" -eq 1 ] || t_fail "an interrupted evacuation exited $rc, not 1"
summary=$(jq -s -c 'map(select(.event == "summary"))[0]' "$out")
jq -e '.cancelled and (.moved | length) == 0 and .moves[0].state == "cancelled"
       and ([.moves[] | select(.state == "pending")] | length) == 2' >/dev/null <<<"$summary" ||
    t_fail "summary after SIGINT: $summary"
[ "$(grep -c '"event":"started"' "$out")" -eq 1 ] || t_fail "a move started after SIGINT"
check_guests a
lanes_gone
# phase 3's plan learned the fixed cost from phase 1's lines on a
t_log "phase 3 plan: fixed cost $(jq -s -c 'map(select(.event == "plan"))[0] | {move_overhead_s: .plan.move_overhead_s, move_overhead_runs}' "$out")"
[ "$(jq -s 'map(select(.event == "plan"))[0].move_overhead_runs' "$out")" -ge 3 ] ||
    t_fail "phase 3 did not learn the fixed cost from phase 1's history on a"
t_log "PASS: moved ${planned[*]} to b and back two at a time; an interrupted move left its guest on a"

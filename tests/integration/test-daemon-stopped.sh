#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-daemon-stopped.sh
#
# The worst daemon for libvirtd is one that accepts and never answers:
# libvirtd waits for its hooks without a timeout, so a hook that waited for
# such a daemon would stall every guest on the host. Stop the running daemon
# (SIGSTOP: its socket still accepts, nothing replies), start and destroy a
# guest, and check that every hook call gave up within its bound (the
# hook's 3 s IPC timeout, plus 2 s of slack for this shared machine),
# exited 0 and printed nothing. Then let the daemon go on (SIGCONT): it must
# survive the replies it owes to hooks that have left, answer status, and
# record a second start and destroy normally, with fast hook calls.
# jq programs name their $variables in single quotes; it_host_start takes
# only optional options.
# shellcheck disable=SC2016,SC2119
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

it_require
it_setup

CALLS=$IT_TMP/hook-calls.tsv
WRAPPER=$IT_TMP/hook-wrapper
it_hook_wrapper "$CALLS" >"$WRAPPER"
chmod 0755 "$WRAPPER"
it_host_start --hook "$WRAPPER"

DOM=vl-it-stopped
it_define "$DOM" >/dev/null
DPID=$(it_daemon_pid)

kill -STOP "$DPID"
it_log "daemon (pid $DPID) stopped"
before=$(wc -l <"$CALLS")
it_start_domain "$DOM"
it_destroy_domain "$DOM"
it_check_hook_calls "daemon stopped" "$DOM" 5000 "$CALLS" "$before"

kill -CONT "$DPID"
it_log "daemon (pid $DPID) continued"
it_wait_until 30 "the daemon to answer again" it_daemon_connected
vl_pid_alive "$DPID" || it_fail "The daemon (pid $DPID) died after SIGCONT"
it_snapshot "$IT_TMP/after-stop.json"
it_log "recorded for '$DOM' while stopped (informational): $(
    jq -c --arg n "$DOM" '[.domains[] | select(.name == $n) | .events[] | .event]' "$IT_TMP/after-stop.json")"

# Back to normal: the next start and destroy are recorded, hook calls fast.
n0=$(it_count_events "$DOM" hook)
before=$(wc -l <"$CALLS")
it_start_domain "$DOM"
it_destroy_domain "$DOM"
it_check_hook_calls "daemon running again" "$DOM" 2000 "$CALLS" "$before"
it_wait_until 30 "five more hook events for '$DOM' in the daemon's status" \
    it_status_jq '[.domains[] | select(.name == $n) | .events[] | select(.source == "hook")] | length >= $k' \
    --arg n "$DOM" --argjson k "$((n0 + 5))"
it_snapshot "$IT_TMP/end.json"
it_assert_eq "the last five hook events of '$DOM'" "$(printf '%s\n' "${IT_HOOK_START_STOP[@]}")" \
    "$(jq -r --arg n "$DOM" '.domains[] | select(.name == $n) | [.events[] | select(.source == "hook") | .event] | .[-5:][]' \
        "$IT_TMP/end.json")"
it_assert_eq "daemon pid" "$DPID" "$(jq -r '.daemon.pid' "$IT_TMP/end.json")"
if grep -i 'hook' "$IT_STATE/log/libvirtd.log" >&2; then
    it_fail "libvirtd logged the lines above about the hook"
fi

it_log "PASS"

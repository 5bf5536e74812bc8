#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-hook-order.sh plain|awkward
#
# A real libvirtd with the built hook installed and the built daemon running:
# define, start and destroy a small QEMU guest, then check the daemon's
# status. For that domain it must list, from the hook, exactly
#   prepare begin, start begin, started begin, stopped end, release end
# in this order, and from libvirt "lifecycle started booted" after
# "start begin" and "lifecycle stopped destroyed" after "stopped end" (or
# within 2 s of it: the two arrive over different sockets). "awkward" names
# the guest  it's a "vm"; x  (blank, both quotes, ';'), which must reach
# the daemon byte for byte, through argv and XML only.
# jq programs name their $variables in single quotes; it_host_start takes
# only optional options.
# shellcheck disable=SC2016,SC2119
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

case ${1:-} in
plain) DOM="vl-it-plain" ;;
awkward) DOM="it's a \"vm\"; x" ;;
*)
    echo "Usage: $0 plain|awkward" >&2
    exit 2
    ;;
esac

it_require
it_setup
it_host_start

UUID=$(it_define "$DOM")
it_log "defined '$DOM' ($UUID)"

it_start_domain "$DOM"
it_wait_until 30 "'lifecycle started booted' for '$DOM' in the daemon's status" \
    it_has_event "$DOM" libvirt "lifecycle started booted"
it_wait_until 30 "the daemon to report '$DOM' as running" \
    it_status_jq '[.domains[] | select(.name == $n and .state == "running")] | length == 1' \
    --arg n "$DOM"

it_destroy_domain "$DOM"
it_wait_until 30 "'lifecycle stopped destroyed' for '$DOM' in the daemon's status" \
    it_has_event "$DOM" libvirt "lifecycle stopped destroyed"

SNAP=$IT_TMP/status.json
it_snapshot "$SNAP"

# One domain on this private host, known by its exact name and UUID.
it_assert_eq "domains in the daemon's status" 1 "$(jq '.domains | length' "$SNAP")"
it_assert_eq "name of the one domain" "$DOM" "$(jq -r '.domains[0].name' "$SNAP")"
it_assert_eq "UUID of '$DOM'" "$UUID" \
    "$(jq -r --arg n "$DOM" '.domains[] | select(.name == $n) | .uuid' "$SNAP")"
it_wait_until 30 "the daemon to report '$DOM' as shut off" \
    it_status_jq '[.domains[] | select(.name == $n and .state == "shutoff")] | length == 1' \
    --arg n "$DOM"
it_check_event_records "$SNAP" "$DOM"

# libvirt's lifecycle events, once each.
for ev in "lifecycle started booted" "lifecycle stopped destroyed"; do
    it_assert_eq "count of libvirt '$ev' for '$DOM'" 1 \
        "$(jq -r --arg n "$DOM" --arg e "$ev" \
            '[.domains[] | select(.name == $n) | .events[] | select(.source == "libvirt" and .event == $e)] | length' \
            "$SNAP")"
done
# The hook's side (after the libvirt side, so that a failure here leaves
# the above proven).
it_wait_until 30 "hook 'release end' for '$DOM' in the daemon's status" \
    it_has_event "$DOM" hook "release end"
it_snapshot "$SNAP"
it_log "events of '$DOM':"
jq -r --arg n "$DOM" '.domains[] | select(.name == $n) | .events[] | "  \(.time) \(.source): \(.event)"' \
    "$SNAP" >&2
it_check_event_records "$SNAP" "$DOM"
# The hook's calls landed on the same entry: a name mangled on the way
# (argv, JSON, the daemon) would have made a second one.
it_assert_eq "domains in the daemon's status, hook events included" 1 "$(jq '.domains | length' "$SNAP")"

# Exactly the five hook calls, in libvirtd's order, each once, interleaved
# with libvirt's events.
HOOK_EVENTS=$(jq -r --arg n "$DOM" \
    '.domains[] | select(.name == $n) | .events[] | select(.source == "hook") | .event' "$SNAP")
it_assert_eq "hook events of '$DOM'" "$(printf '%s\n' "${IT_HOOK_START_STOP[@]}")" "$HOOK_EVENTS"

i_start_begin=$(it_event_index "$SNAP" "$DOM" hook "start begin")
i_started=$(it_event_index "$SNAP" "$DOM" libvirt "lifecycle started booted")
i_stopped_end=$(it_event_index "$SNAP" "$DOM" hook "stopped end")
i_stopped=$(it_event_index "$SNAP" "$DOM" libvirt "lifecycle stopped destroyed")
[ "$i_started" -gt "$i_start_begin" ] ||
    it_fail "'lifecycle started booted' (#$i_started) is not after hook 'start begin' (#$i_start_begin)"
[ "$i_stopped" -gt "$(it_event_index "$SNAP" "$DOM" hook "started begin")" ] ||
    it_fail "'lifecycle stopped destroyed' (#$i_stopped) is not after hook 'started begin'"
if [ "$i_stopped" -lt "$i_stopped_end" ]; then
    gap=$(($(it_event_ms "$SNAP" "$DOM" "$i_stopped_end") - $(it_event_ms "$SNAP" "$DOM" "$i_stopped")))
    [ "$gap" -le 2000 ] ||
        it_fail "'lifecycle stopped destroyed' came ${gap} ms before hook 'stopped end'"
    it_log "note: 'lifecycle stopped destroyed' listed ${gap} ms before hook 'stopped end'"
fi

# The daemon is still the one lab/host started, and still connected.
it_assert_eq "daemon pid in status" "$(it_daemon_pid)" "$(jq -r '.daemon.pid' "$SNAP")"
it_assert_eq "connection.connected" true "$(jq -r '.connection.connected' "$SNAP")"

it_log "PASS"

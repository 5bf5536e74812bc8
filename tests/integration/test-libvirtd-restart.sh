#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-libvirtd-restart.sh
#
# The daemon must outlive its libvirtd. With a guest running, kill the host's
# libvirtd (SIGKILL, by its pid), and check that the daemon keeps answering
# and reports connected=false; start libvirtd again and check that the
# daemon reconnects by itself (connected=true, reconnects one more than
# before) and that events flow again: libvirtd's reconnect to the running
# guest calls the hook ("reconnect begin"), a guest started after the
# restart gets "lifecycle started booted", and destroying the guest that
# ran across the restart gets "lifecycle stopped destroyed".
# jq programs name their $variables in single quotes; it_host_start takes
# only optional options.
# shellcheck disable=SC2016,SC2119
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

it_require
it_setup
it_host_start

OLD=vl-it-before
NEW=vl-it-after
it_define "$OLD" >/dev/null
it_define "$NEW" >/dev/null
it_start_domain "$OLD"
it_wait_until 30 "'lifecycle started booted' for '$OLD'" \
    it_has_event "$OLD" libvirt "lifecycle started booted"

SNAP=$IT_TMP/before.json
it_snapshot "$SNAP"
R0=$(jq -r '.connection.reconnects' "$SNAP")
[[ $R0 =~ ^[0-9]+$ ]] || it_fail "connection.reconnects is not a count: '$R0'"
DPID=$(it_daemon_pid)
it_assert_eq "daemon pid in status" "$DPID" "$(jq -r '.daemon.pid' "$SNAP")"
it_log "connected, reconnects=$R0, since=$(jq -r '.connection.since' "$SNAP")"

# libvirtd dies.
LPID=$(it_libvirtd_pid)
it_log "killing libvirtd (pid $LPID)"
T_KILL=$(it_ms_now)
kill -KILL "$LPID"
it_wait_until 10 "libvirtd (pid $LPID) to be gone" it_pid_gone "$LPID"
it_wait_until 60 "the daemon to report connected=false" it_daemon_disconnected
it_log "TIME disconnect-noticed $(awk -v d="$(($(it_ms_now) - T_KILL))" 'BEGIN { printf "%.2f", d / 1000 }')s after the kill"
it_snapshot "$IT_TMP/down.json"
it_log "while down: $(jq -c '.connection' "$IT_TMP/down.json")"
vl_pid_alive "$DPID" || it_fail "The daemon (pid $DPID) died with libvirtd"
# The guest is not libvirtd's child: it runs on.
[ "$(jq -r --arg n "$OLD" '.domains[] | select(.name == $n) | .name' "$IT_TMP/down.json")" = "$OLD" ] ||
    it_fail "The daemon forgot '$OLD' while libvirtd was down"

# libvirtd comes back.
T_UP=$(it_ms_now)
it_time "libvirtd-restart" "$IT_LAB_HOST" restart-libvirtd --state-dir "$IT_STATE" >&2 ||
    it_fail "lab/host restart-libvirtd failed"
it_track_host
[ "$(it_libvirtd_pid)" != "$LPID" ] || it_fail "libvirtd still has the old pid $LPID"
it_wait_until 90 "the daemon to reconnect (connected=true, reconnects > $R0)" \
    it_status_jq '.connection.connected == true and .connection.reconnects > $r0' --argjson r0 "$R0"
it_log "TIME reconnected $(awk -v d="$(($(it_ms_now) - T_UP))" 'BEGIN { printf "%.2f", d / 1000 }')s after libvirtd was started again"
it_snapshot "$IT_TMP/after.json"
it_log "after: $(jq -c '.connection' "$IT_TMP/after.json")"
[ "$(jq -r '.connection.reconnects' "$IT_TMP/after.json")" -ge 1 ] ||
    it_fail "connection.reconnects is below 1 after a reconnect"
it_assert_eq "daemon pid after the restart" "$DPID" "$(jq -r '.daemon.pid' "$IT_TMP/after.json")"
[ "$(it_domstate "$OLD")" = running ] || it_fail "'$OLD' did not survive the libvirtd restart"

# New events arrive over the new connection.
it_start_domain "$NEW"
it_wait_until 30 "'lifecycle started booted' for '$NEW' after the restart" \
    it_has_event "$NEW" libvirt "lifecycle started booted"
it_destroy_domain "$OLD"
it_wait_until 30 "'lifecycle stopped destroyed' for '$OLD' after the restart" \
    it_has_event "$OLD" libvirt "lifecycle stopped destroyed"
it_destroy_domain "$NEW"
it_wait_until 30 "'lifecycle stopped destroyed' for '$NEW'" \
    it_has_event "$NEW" libvirt "lifecycle stopped destroyed"

it_snapshot "$IT_TMP/end.json"
for d in "$OLD" "$NEW"; do
    it_check_event_records "$IT_TMP/end.json" "$d"
    it_log "events of '$d':"
    jq -r --arg n "$d" '.domains[] | select(.name == $n) | .events[] | "  \(.time) \(.source): \(.event)"' \
        "$IT_TMP/end.json" >&2
done
# The hook's side (checked last, so a failure here leaves the libvirt side
# above proven): libvirtd's reconnect to the running guest ran the hook, and
# the daemon recorded it; the guest started afterwards had the usual five.
it_wait_until 30 "hook 'reconnect begin' for '$OLD'" it_has_event "$OLD" hook "reconnect begin"
it_wait_until 30 "hook 'release end' for '$NEW'" it_has_event "$NEW" hook "release end"
it_snapshot "$IT_TMP/end.json"
it_assert_eq "hook events of '$NEW'" "$(printf '%s\n' "${IT_HOOK_START_STOP[@]}")" \
    "$(jq -r --arg n "$NEW" '.domains[] | select(.name == $n) | .events[] | select(.source == "hook") | .event' \
        "$IT_TMP/end.json")"

it_log "PASS"

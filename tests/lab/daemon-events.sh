#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The real virt-lanes hook and daemon on both lab hosts see a live
# migration: the destination's daemon gets the hook calls of an incoming
# migration in libvirt's order and the matching lifecycle events; the
# source's daemon sees QEMU's MIGRATION event (the only early signal of an
# outgoing migration), the iterations, the switch-over and the end.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

t_need_lab
[ -n "$T_BUILDDIR" ] || t_skip "needs VL_LAB_BUILDDIR (the build to install)"
for f in hook/virt-lanes-hook plugin/daemon/virt-lanesd plugin/cli/virt-lanes; do
    [ -x "$T_BUILDDIR/$f" ] || t_skip "not built: $T_BUILDDIR/$f"
done
t_need_guest
t_lab_up --links 1 --virt-lanes "$T_BUILDDIR"

dom="lab test: daemon's \"view\"; of it"
"$LAB/boot" "$dom" --on a --mem 256 --working-set 64 >&2 || t_fail "lab/boot failed"
out=$("$LAB/migrate" "$dom" --from a --to b --timeout 300) || true
t_log "result: $out"
jq -e '.result == "ok" and .guest.verified' >/dev/null <<<"$out" ||
    t_fail "the migration did not complete with the guest verified"

status() { # HOST -> the daemon's status JSON
    "$LAB/host" exec --state-dir "$VL_LAB_DIR/hosts/$1" -- \
        "$T_BUILDDIR/plugin/cli/virt-lanes" \
        --socket /run/virt-lanes/virt-lanesd.sock status --json
}

# events HOST SOURCE: the event strings from SOURCE for $dom, one a line.
# Both daemons may still be digesting the last events when migrate returns,
# so callers poll.
events() {
    status "$1" | jq -r --arg d "$dom" --arg s "$2" \
        '.domains[] | select(.name == $d) | .events[] | select(.source == $s) | .event'
}

# wait_for HOST SOURCE EXPECTED-LINES: until the events of SOURCE, filtered
# to the lines of EXPECTED, equal EXPECTED (so order is asserted too).
wait_for() {
    local host=$1 source=$2 want=$3 got="" _
    for _ in $(seq 1 50); do
        got=$(events "$host" "$source" | grep -Fx -f <(printf '%s\n' "$want") || true)
        [ "$got" = "$want" ] && return 0
        sleep 0.2
    done
    t_fail "host $host, $source events: wanted [${want//$'\n'/, }], got [${got//$'\n'/, }]"
}

# Destination: an incoming migration's hooks, in libvirt's order, then the
# guest arriving and resuming.
wait_for b hook $'migrate begin\nprepare begin\nstart begin\nstarted begin'
wait_for b libvirt $'lifecycle started migrated\nlifecycle resumed migrated'

# Source: QEMU announced the outgoing migration, the guest was paused for
# the switch-over and stopped once the destination had it; then libvirt's
# hooks for the stopped domain.
wait_for a qemu 'qemu MIGRATION setup'
wait_for a libvirt $'lifecycle suspended migrated\nlifecycle stopped migrated'
wait_for a hook $'stopped end\nrelease end'
events a libvirt | grep -Eqx 'migration-iteration [0-9]+' ||
    t_fail "the source's daemon saw no migration-iteration event"

# Both daemons stayed connected to their libvirtd the whole time.
for h in a b; do
    status "$h" | jq -e '.connection.connected and .connection.reconnects == 0' >/dev/null ||
        t_fail "the daemon on $h lost its libvirt connection"
done
t_log "PASS"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-no-daemon.sh
#
# The hook installed, the daemon NOT running: guests must start and stop as
# if there were no hook (it fails open). Twice: with no socket at all, and
# with a stale socket file that nobody listens on (what a crashed daemon
# leaves behind). The built hook is installed behind a recording wrapper
# that hands it libvirtd's argv and stdin unchanged and notes, per call, its
# exit status, how many bytes it wrote to stdout and stderr, and how long it
# took. Every call must exit 0, write nothing to stdout (on migrate and
# restore libvirtd would take that output as replacement XML) and return
# within 2 s; libvirtd's log must hold no hook error.
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

it_host_start --no-daemon --hook "$WRAPPER"
[ -z "$(it_daemon_pid || true)" ] || it_fail "A daemon was started"

DOM=vl-it-nodaemon
it_define "$DOM" >/dev/null

# it_run_phase LABEL -> start and destroy the guest; check the five hook calls
# this made.
it_run_phase() {
    local before
    before=$(wc -l <"$CALLS")
    it_start_domain "$DOM"
    it_destroy_domain "$DOM"
    it_check_hook_calls "$1" "$DOM" 2000 "$CALLS" "$before"
}

SOCK=$IT_STATE/fs$IT_SOCKET
[ ! -e "$SOCK" ] || it_fail "'$SOCK' exists before the test made it"
it_run_phase "no socket"

if command -v python3 >/dev/null 2>&1; then
    # A socket file left by a process that is gone: connect() is refused.
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
    [ -S "$SOCK" ] || it_fail "Could not make a stale socket at '$SOCK'"
    it_run_phase "stale socket"
else
    it_log "note: python3 missing, the stale-socket phase was not run"
fi

if grep -i 'hook' "$IT_STATE/log/libvirtd.log" >&2; then
    it_fail "libvirtd logged the lines above about the hook"
fi

it_log "PASS"

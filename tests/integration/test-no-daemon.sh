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
: >"$CALLS"
{
    echo '#!/bin/bash'
    echo '# SPDX-License-Identifier: LGPL-2.1-or-later'
    echo '# Written by test-no-daemon.sh: runs the built hook as libvirtd would,'
    echo '# records what it did and passes its output on unchanged.'
    printf 'real=%q\n' "$IT_HOOK"
    printf 'calls=%q\n' "$CALLS"
    printf 'dir=%q\n' "$IT_TMP"
    cat <<'EOF'
out=$(mktemp "$dir/hook-out.XXXXXX")
err=$(mktemp "$dir/hook-err.XXXXXX")
t0=$(date +%s%N)
rc=0
"$real" "$@" >"$out" 2>"$err" || rc=$?
t1=$(date +%s%N)
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$rc" \
    "$(stat -c %s "$out")" "$(stat -c %s "$err")" "$(((t1 - t0) / 1000000))" >>"$calls"
cat "$out"
cat "$err" >&2
rm -f "$out" "$err"
exit "$rc"
EOF
} >"$WRAPPER"
chmod 0755 "$WRAPPER"

it_host_start --no-daemon --hook "$WRAPPER"
[ -z "$(it_daemon_pid || true)" ] || it_fail "A daemon was started"

DOM=vl-it-nodaemon
it_define "$DOM" >/dev/null

# it_run_phase LABEL -> start and destroy the guest; check the five hook calls
# this made.
it_run_phase() {
    local label=$1 before lines expected e name op subop rc nout nerr ms
    before=$(wc -l <"$CALLS")
    it_start_domain "$DOM"
    it_destroy_domain "$DOM"
    lines=$(tail -n +"$((before + 1))" "$CALLS")
    it_log "hook calls ($label): name op subop exit stdout-bytes stderr-bytes ms"
    while IFS= read -r e; do
        printf '  %s\n' "${e//$'\t'/ }"
    done <<<"$lines" >&2
    expected=$(for e in "${IT_HOOK_START_STOP[@]}"; do
        printf '%s\t%s\t%s\n' "$DOM" "${e% *}" "${e#* }"
    done)
    it_assert_eq "hook calls ($label)" "$expected" "$(cut -f1-3 <<<"$lines")"
    while IFS=$'\t' read -r name op subop rc nout nerr ms; do
        it_assert_eq "exit status of hook '$op $subop' ($label)" 0 "$rc"
        it_assert_eq "stdout bytes of hook '$op $subop' ($label)" 0 "$nout"
        [ "$ms" -lt 2000 ] || it_fail "Hook '$op $subop' ($label) took $ms ms to fail open"
        [ "$nerr" -eq 0 ] || it_log "note: hook '$op $subop' ($label) wrote $nerr bytes to stderr"
        : "$name"
    done <<<"$lines"
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

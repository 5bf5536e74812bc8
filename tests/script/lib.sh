# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# Shared helpers for the hook's script tests.  Sourced by each test as
#   . lib.sh HOOK FAKE_DAEMON
# HOOK is the built virt-lanes-hook, FAKE_DAEMON tests/fixtures/fake-daemon.
# Every run of the hook is wrapped in timeout(1): a hook that hangs fails
# the test (exit 124) instead of hanging it.

set -u

HOOK=$1
FAKE=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vl-hook-test.XXXXXX")
SOCK=$TMP/vl.sock
FAKE_PID=
FAILURES=0
CODE=0

cleanup() {
    stop_fake
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    FAILURES=$((FAILURES + 1))
}

# start_fake MODE [fake-daemon options...]: waits until it listens.
start_fake() {
    mode=$1
    shift
    rm -f "$SOCK"
    "$FAKE" --socket "$SOCK" --mode "$mode" --lifetime 60 "$@" &
    FAKE_PID=$!
    tries=0
    # The fixture renames its socket into place once listening.
    while [ ! -S "$SOCK" ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ] || ! kill -0 "$FAKE_PID" 2>/dev/null; then
            fail "fake daemon ($mode) did not start"
            return 1
        fi
        sleep 0.05
    done
}

stop_fake() {
    if [ -n "$FAKE_PID" ]; then
        kill "$FAKE_PID" 2>/dev/null
        wait "$FAKE_PID" 2>/dev/null
        FAKE_PID=
    fi
    rm -f "$SOCK"
}

# run_hook ARGS...: stdin is the caller's; sets CODE, fills $TMP/out, $TMP/err.
run_hook() {
    VL_HOOK_SOCKET=$SOCK VL_HOOK_LOG_STDERR=1 \
        timeout 20 "$HOOK" "$@" >"$TMP/out" 2>"$TMP/err"
    CODE=$?
}

# expect_quiet_success WHAT: exit 0 and nothing at all on stdout.
expect_quiet_success() {
    if [ "$CODE" -ne 0 ]; then
        fail "$1: exit $CODE, expected 0 ($(head -c 300 "$TMP/err"))"
    fi
    if [ -s "$TMP/out" ]; then
        fail "$1: wrote to stdout"
    fi
}

finish() {
    if [ "$FAILURES" -gt 0 ]; then
        printf '%d failure(s)\n' "$FAILURES" >&2
        exit 1
    fi
    exit 0
}

# A realistic domain XML with a secret, as libvirtd sends it on migrate.
write_domain_xml() {
    cat <<'XML'
<domain type='kvm'>
  <name>web-1</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <graphics type='vnc' port='-1' autoport='yes' passwd='s3cr3t-VNC'/>
  </devices>
</domain>
XML
}

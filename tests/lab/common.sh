# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Shared by the tests in tests/lab. Exit codes follow the automake/meson
# convention: 0 pass, 1 fail, 77 skip (not root, no netns or tun support,
# a lab already up, no kernel for the guest).

T_NAME=$(basename "$0" .sh)
T_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$T_SRC/lab
# The C build dir (hook, daemon, CLI) once it exists; the tests use
# stand-ins so they run without it.
# shellcheck disable=SC2034 # for the tests that source this file
T_BUILDDIR=${VL_LAB_BUILDDIR:-}
export VL_LAB_DIR=${VL_LAB_DIR:-/run/vl-lab}

t_log() {
    printf '%s: %s\n' "$T_NAME" "$*" >&2
}

t_skip() {
    t_log "SKIP: $*"
    exit 77
}

t_fail() {
    t_log "FAIL: $*"
    exit 1
}

t_need_cmds() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || t_skip "needs '$c'"
    done
}

t_need_root() {
    [ "$(id -u)" -eq 0 ] || t_skip "needs root"
    t_need_cmds unshare nsenter libvirtd virtlogd virsh
    unshare -m -u true 2>/dev/null || t_skip "no mount/UTS namespace support"
}

t_need_lab() {
    t_need_root
    [ -c /dev/net/tun ] || t_skip "no /dev/net/tun"
    unshare -n true 2>/dev/null || t_skip "no network namespace support"
    t_need_cmds ip tc jq
    if [ -e "$VL_LAB_DIR/created" ] || ip netns list 2>/dev/null | grep -q '^vl-lab-'; then
        t_skip "a lab is already up (lab/down first)"
    fi
}

t_need_guest() {
    t_need_cmds qemu-system-x86_64 gcc cpio
    if ! "$LAB/guest/build" >&2; then
        [ -e "$LAB/cache/vmlinuz" ] || t_skip "could not fetch the guest kernel"
        t_fail "lab/guest/build failed"
    fi
}

# t_lab_up ARGS...: bring a lab up and make sure it goes down on every exit.
# The trap is set only once lab/up succeeded: a lab/up that fails (another
# lab already up, say) has torn down what it made itself, and a trap set
# before would tear down a lab that is not this test's.
t_lab_up() {
    "$LAB/up" "$@" >&2 || t_fail "lab/up $* failed"
    trap '"$LAB/down" --quiet >&2 || true' EXIT
}

# t_lab_up_etc DIR ARGS...: as t_lab_up, with DIR as the hosts' private
# /etc/virt-lanes (lab/up --daemon-etc DIR), which the exit removes too.
# Only a lab this test made is its to take down: lab/up refuses when another
# came up since t_need_lab looked (the test is skipped then), and cleans up
# after itself on failure.
t_lab_up_etc() {
    local etc=$1
    shift
    # shellcheck disable=SC2064 # the directory is known now
    trap "rm -rf '$etc'" EXIT
    if ! "$LAB/up" "$@" --daemon-etc "$etc" >&2; then
        if [ -e "$VL_LAB_DIR/created" ]; then
            t_skip "another lab came up meanwhile"
        fi
        t_fail "lab/up $* failed"
    fi
    # shellcheck disable=SC2064
    trap "\"\$LAB/down\" --quiet >&2 || true; rm -rf '$etc'" EXIT
}

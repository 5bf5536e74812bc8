#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lab/host on its own, as single-host integration tests use it: no network
# namespace, only unix sockets. The hook is installed before libvirtd starts,
# the daemon runs in libvirtd's namespaces, 'exec' reaches the private
# libvirtd, and 'stop' (twice) leaves no process or mount behind.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

t_need_root
dir=$(mktemp -d "${TMPDIR:-/tmp}/vl-host-test.XXXXXX")
trap '"$LAB/host" stop --state-dir "$dir" >&2 || true; rm -rf "$dir"' EXIT
fx=$(dirname "$0")/fixtures

"$LAB/host" start vl-test-single --state-dir "$dir/h" --hook "$fx/recording-hook" \
    --daemon "$fx/fake-daemon" --daemon-args "--uri qemu:///system --socket /run/virt-lanes/x.sock" >&2 ||
    t_fail "lab/host start failed"

[ -x "$dir/h/fs/etc/libvirt/hooks/qemu.d/virt-lanes" ] || t_fail "hook not installed 0755"
uri=$("$LAB/host" exec --state-dir "$dir/h" -- virsh -q -c qemu:///system uri) || t_fail "virsh in host failed"
[ "$uri" = "qemu:///system" ] || t_fail "unexpected URI '$uri'"
hn=$("$LAB/host" exec --state-dir "$dir/h" -- hostname)
[ "$hn" = vl-test-single ] || t_fail "host name is '$hn'"
# Also reachable from outside through the private socket.
virsh -q -c "qemu:///system?socket=$dir/h/fs/run/libvirt/libvirt-sock" uri >/dev/null ||
    t_fail "private socket not reachable from the root namespace"

pids=()
for p in holder virtlogd libvirtd virt-lanesd; do
    pid=$(cat "$dir/h/pids/$p" 2>/dev/null) || t_fail "no pid recorded for $p"
    pids+=("$pid")
done
mnt_libvirtd=$(stat -L -c %i "/proc/${pids[2]}/ns/mnt")
mnt_daemon=$(stat -L -c %i "/proc/${pids[3]}/ns/mnt")
[ "$mnt_libvirtd" = "$mnt_daemon" ] || t_fail "daemon is not in libvirtd's mount namespace"
[ "$mnt_libvirtd" != "$(stat -L -c %i /proc/self/ns/mnt)" ] || t_fail "libvirtd runs in the root mount namespace"
grep -q '^argv: --uri qemu:///system --socket /run/virt-lanes/x.sock$' "$dir/h/log/virt-lanesd.log" ||
    t_fail "daemon args not passed"
[ -e "$dir/h/fs/run/virt-lanes/fake-daemon-was-here" ] || t_fail "daemon did not see the private /run/virt-lanes"
[ ! -e /run/virt-lanes/fake-daemon-was-here ] || t_fail "daemon wrote to the real /run/virt-lanes"

"$LAB/host" stop --state-dir "$dir/h" >&2 || t_fail "stop failed"
"$LAB/host" stop --state-dir "$dir/h" >&2 || t_fail "second stop failed"
for p in "${pids[@]}"; do
    # A process that is still being reaped may vanish between two reads:
    # only a readable status that is not a zombie's counts as survival.
    state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$p/status" 2>/dev/null || true)
    if [ -n "$state" ] && [ "$state" != Z ]; then
        t_fail "pid $p survived stop (state $state)"
    fi
done
if grep -q " $dir/" /proc/[0-9]*/mountinfo 2>/dev/null; then
    t_fail "a mount from '$dir' survived stop"
fi
"$LAB/host" status --state-dir "$dir/h" >/dev/null && t_fail "status says running after stop"
"$LAB/host" stop --state-dir "$dir/h" --purge >&2 || t_fail "purge failed"
[ ! -e "$dir/h" ] || t_fail "purge left '$dir/h'"
t_log "PASS"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lab/down leaves nothing behind: no namespace, no process, no veth, no
# mount, no state dir; and it is safe to run twice.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

t_need_lab
t_need_guest
t_lab_up --links 2

"$LAB/boot" "lab test: down" --on b --mem 256 --working-set 64 >&2 || t_fail "lab/boot failed"

# Everything the lab started, by pid: the hosts' recorded daemons and every
# process in the lab's network namespaces (QEMU among them).
pids=""
for f in "$VL_LAB_DIR"/hosts/*/pids/*; do
    pids="$pids $(cat "$f")"
done
for ns in $(ip netns list | awk '/^vl-lab-/ { print $1 }'); do
    pids="$pids $(ip netns pids "$ns" | tr '\n' ' ')"
done
qemu=$(pgrep -f -- 'guest=lab test: down' || true)
[ -n "$qemu" ] || t_fail "no QEMU process for the guest"
t_log "lab pids before lab/down:$pids (QEMU $qemu)"

"$LAB/down" >&2 || t_fail "lab/down failed"

left=""
for p in $pids $qemu; do
    if [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
        left="$left $p($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-40))"
    fi
done
[ -z "$left" ] || t_fail "processes left:$left"

ns_left=$(ip netns list | awk '/^vl-lab-/ { print $1 }')
[ -z "$ns_left" ] || t_fail "namespaces left: $ns_left"
ip link show dev vl-lab-mgmt >/dev/null 2>&1 && t_fail "veth vl-lab-mgmt left in the root namespace"
links_left=$(ip -br link | awk '$1 ~ /^(vl-lab|lane[0-9])/ { print $1 }')
[ -z "$links_left" ] || t_fail "links left: $links_left"
# No process anywhere may still see a mount from the lab's state dir.
mounts_left=$(grep -l " $VL_LAB_DIR/" /proc/[0-9]*/mountinfo 2>/dev/null || true)
[ -z "$mounts_left" ] || t_fail "mounts under '$VL_LAB_DIR' still seen by: $mounts_left"
[ ! -e "$VL_LAB_DIR" ] || t_fail "state dir '$VL_LAB_DIR' left"
if pgrep -f -- 'guest=lab test: down' >/dev/null; then
    t_fail "a QEMU for the test guest is still running"
fi

out=$("$LAB/down" 2>&1) || t_fail "second lab/down failed: $out"
t_log "second lab/down: $out"
t_log "PASS"

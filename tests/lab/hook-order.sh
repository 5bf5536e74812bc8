#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The order of libvirt hook calls during a live migration, seen by a
# stand-in hook installed the way the real one will be (lab/up --virt-lanes
# BUILDDIR installs BUILDDIR/hook/virt-lanes-hook on every host):
#   destination: migrate begin, prepare begin, start begin, started begin
#   source:      stopped end, release end
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

t_need_lab
t_need_guest

# A build dir made of stand-ins: the recording hook and a fake daemon.
fake=$(mktemp -d "${TMPDIR:-/tmp}/vl-fake-build.XXXXXX")
mkdir -p "$fake/hook" "$fake/plugin/daemon"
install -m 0755 "$(dirname "$0")/fixtures/recording-hook" "$fake/hook/virt-lanes-hook"
install -m 0755 "$(dirname "$0")/fixtures/fake-daemon" "$fake/plugin/daemon/virt-lanesd"
t_lab_up --links 1 --virt-lanes "$fake"
trap '"$LAB/down" --quiet >&2 || true; rm -rf "$fake"' EXIT

# The fake daemon runs inside each host's namespaces.
for h in a b; do
    d=$VL_LAB_DIR/hosts/$h
    [ -e "$d/fs/run/virt-lanes/fake-daemon-was-here" ] ||
        t_fail "daemon stand-in did not run in host $h's private /run/virt-lanes"
    grep -q "^hostname: vl-lab-$h\$" "$d/log/virt-lanesd.log" ||
        t_fail "daemon stand-in on $h did not see the host's name"
done

dom="lab test: hooks 'q' \"x\""
"$LAB/boot" "$dom" --on a --mem 256 --working-set 64 >&2 || t_fail "lab/boot failed"
calls_a=$VL_LAB_DIR/hosts/a/fs/var/log/virt-lanes/hook-calls
calls_b=$VL_LAB_DIR/hosts/b/fs/var/log/virt-lanes/hook-calls
before_a=$(wc -l <"$calls_a")
out=$("$LAB/migrate" "$dom" --from a --to b --timeout 300 --verify-wait 30) || true
t_log "result: $out"
jq -e '.result == "ok" and .guest.verified' >/dev/null <<<"$out" || t_fail "migration failed"

# ops DOMAIN FILE [FROM_LINE]: "OP SUBOP" of each call for DOMAIN, one a line.
ops() {
    tail -n +"${3:-1}" "$2" | awk -F'\t' -v d="$1" '$1 == d { print $2, $3 }'
}
t_log "destination calls: $(ops "$dom" "$calls_b" | paste -sd, -)"
t_log "source calls after boot: $(ops "$dom" "$calls_a" $((before_a + 1)) | paste -sd, -)"

# argv is always DOMAIN OP SUBOP -
awk -F'\t' -v d="$dom" '$1 == d && (NF != 4 || $4 != "-") { bad = 1 } END { exit bad }' \
    "$calls_a" "$calls_b" || t_fail "a hook call's argv is not 'DOMAIN OP SUBOP -'"

want_b=$'migrate begin\nprepare begin\nstart begin\nstarted begin'
[ "$(ops "$dom" "$calls_b")" = "$want_b" ] ||
    t_fail "destination hook order differs from: ${want_b//$'\n'/, }"
want_a=$'stopped end\nrelease end'
[ "$(ops "$dom" "$calls_a" $((before_a + 1)))" = "$want_a" ] ||
    t_fail "source hook calls after migration differ from: ${want_a//$'\n'/, }"
t_log "PASS"

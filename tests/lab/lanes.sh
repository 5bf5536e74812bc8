#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Lanes on real hosts: with this build's hook and daemon installed in the
# lab (lab/up --virt-lanes BUILDDIR, policies from lab/policy),
#   - 'virt-lanes lanes up' on host a brings lane1 and lane2 up there
#     (links, rules, tables, nftables steering);
#   - a live migration a -> b with 6 multifd channels whose XML carries a
#     plan makes host b's daemon bring its lane1 and lane2 up on the hook's
#     'migrate begin', before libvirt goes on;
#   - the channels spread over lane0, lane1 and lane2 (bytes per lane on a);
#   - b's lanes come down when the migration has ended, a's on 'lanes down';
#     afterwards no rule, route table, nftables table or journal entry is
#     left on either host and the spare lanes are DOWN again.
# Needs the real build (VL_LAB_BUILDDIR); skips (77) without it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

t_need_lab
[ -n "$T_BUILDDIR" ] || t_skip "needs VL_LAB_BUILDDIR (the build with hook, daemon and CLI)"
for f in hook/virt-lanes-hook plugin/daemon/virt-lanesd plugin/cli/virt-lanes; do
    [ -x "$T_BUILDDIR/$f" ] || t_skip "no '$T_BUILDDIR/$f'"
done
t_need_cmds nft
t_need_guest
t_lab_up --links 3 --virt-lanes "$T_BUILDDIR"

PLAN=lab-lanes.1
cli() { # HOST ARGS...: the CLI inside host HOST
    local h=$1
    shift
    "$LAB/host" exec --state-dir "$VL_LAB_DIR/hosts/$h" -- \
        "$T_BUILDDIR/plugin/cli/virt-lanes" --socket /run/virt-lanes/virt-lanesd.sock "$@"
}
inns() { # HOST CMD...: in the host's network namespace
    local h=$1
    shift
    ip netns exec "vl-lab-$h" "$@"
}
is_up() { # HOST IF
    inns "$1" ip link show dev "$2" | head -n 1 | grep -q '[<,]UP[,>]'
}
n_lanes() { # HOST: lanes its daemon lists
    cli "$1" lanes --json | jq '.lanes | length'
}
wait_for() { # SECONDS DESCRIPTION CMD...
    local s=$1 what=$2 i
    shift 2
    for ((i = 0; i < s * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    t_fail "timed out waiting for: $what"
}
daemon_log() { # HOST
    cat "$VL_LAB_DIR/hosts/$1/log/virt-lanesd.log"
}
trap '"$LAB/down" --quiet >&2 || true' EXIT

for h in a b; do
    wait_for 20 "daemon on $h" cli "$h" lanes >/dev/null
    inns "$h" nft list tables >"/tmp/vl-lanes-nft-before-$h" 2>&1 || true
done

# --- lanes up on the source ---------------------------------------------------
cli a lanes up host-b --plan "$PLAN" --count 2 >&2 || {
    daemon_log a >&2
    t_fail "lanes up on a failed"
}
for l in lane1 lane2; do
    is_up a "$l" || t_fail "a: $l is not up"
done
# The daemon hands out tables and marks: check what it says it set up.
lane_field() { # IF FIELD: from a's "lanes" reply
    cli a lanes --json | jq -r --arg i "$1" --arg f "$2" '.lanes[] | select(.interface == $i) | .[$f]'
}
for l in lane1 lane2; do
    table=$(lane_field "$l" table)
    mark=$(lane_field "$l" mark)
    [[ $table =~ ^[0-9]+$ && $mark =~ ^[0-9]+$ ]] || t_fail "a: no table or mark for $l in the daemon's reply"
    inns a ip rule show | grep -q "fwmark $(printf '0x%x' "$mark") lookup $table\$" ||
        t_fail "a: no rule for $l (mark $mark, table $table); rules: $(inns a ip rule show | tr '\n' ';')"
    inns a ip route show table "$table" | grep -q "198.19.0.2 via 198.18.1${l#lane}.2 dev $l" ||
        t_fail "a: no route via $l in table $table"
done
inns a nft list table inet virt_lanes_198_19_0_2 | grep -q 'numgen inc mod 3' ||
    t_fail "a: no steering over 3 paths"
[ "$(cli a lanes --json | jq -r '[.lanes[].plans[0]] | unique | .[0]')" = "$PLAN" ] ||
    t_fail "a: lanes not held for $PLAN"
is_up b lane1 && t_fail "b: lane1 is up before the migration"

# --- a migration whose XML carries the plan -----------------------------------
dom="lab test: lanes 'x'"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 384 --dirty 0 >&2 || t_fail "lab/boot failed"
# The plan travels in the domain's metadata, as dest_xml would carry it.
# Without prefix: libvirt puts the element into the --uri namespace
# (vl_migration_plan_format_for_metadata() writes the same).
plan="<plan id='$PLAN' channels='6'>
<source host='host-a' migration-address='198.19.0.1'/>
<lane source-address='198.18.11.1' dest-address='198.18.11.2'/>
<lane source-address='198.18.12.1' dest-address='198.18.12.2'/></plan>"
virsh -q -c qemu+tcp://198.18.0.11/system metadata --domain "$dom" --live \
    --uri https://virt-lanes.org/xmlns/plan/1.0 --key lanesplan --set "$plan" ||
    t_fail "cannot set the plan as metadata"
virsh -q -c qemu+tcp://198.18.0.11/system dumpxml --migratable --domain "$dom" |
    grep -q "id=.$PLAN." || t_fail "the plan is not in the migratable XML"

# b's lanes must come up during the migration: watch for it meanwhile.
seen=/tmp/vl-lanes-seen-$$
rm -f "$seen"
(
    for ((i = 0; i < 600; i++)); do
        if is_up b lane1 && is_up b lane2; then
            echo up >"$seen"
            break
        fi
        sleep 0.1
    done
) &
watcher=$!
out=$("$LAB/migrate" "$dom" --from a --to b --parallel 6 --timeout 300) || true
wait "$watcher" || true
t_log "result: $out"
jq -e '.result == "ok" and .guest.verified' >/dev/null <<<"$out" || {
    daemon_log b >&2
    t_fail "migration failed"
}
[ -s "$seen" ] || t_fail "b's lanes never came up during the migration"
grep -q "Incoming migration of '$dom' from 'host-a' (plan '$PLAN'): bringing up 2 lane(s)" \
    "$VL_LAB_DIR/hosts/b/log/virt-lanesd.log" || t_fail "b's daemon did not act on migrate begin"

# The 6 channels spread over the three lanes: 2 each (+ the main connection).
t_log "bytes per lane on a: $(jq -c '.lane_tx_bytes' <<<"$out")"
jq -e '.lane_tx_bytes as $b | ($b | add) as $t | [$b[] | select(. > $t / 5)] | length == 3' \
    >/dev/null <<<"$out" || t_fail "a lane carried less than a fifth of the bytes"

# --- b's lanes come down with the end of the migration ------------------------
wait_for 20 "b's lanes down" bash -c "! ip netns exec vl-lab-b ip link show dev lane1 | head -n 1 | grep -q '[<,]UP[,>]'"
wait_for 20 "b's daemon to forget the lanes" test "$(n_lanes b)" = 0
inns b ip rule show | grep -q 'lookup 76' && t_fail "b: a lane rule is left"
[ -z "$(inns b ip route show table 7601 2>/dev/null)" ] || t_fail "b: table 7601 is left"
inns b nft list tables >/tmp/vl-lanes-nft-after-b 2>&1 || true
cmp -s /tmp/vl-lanes-nft-before-b /tmp/vl-lanes-nft-after-b || t_fail "b: nftables differ"
jq -e '.lanes | length == 0' "$VL_LAB_DIR/hosts/b/fs/var/lib/virt-lanes/lanes.json" >/dev/null ||
    t_fail "b: the journal is not empty"

# --- and a's on lanes down ------------------------------------------------------
cli a lanes down --plan "$PLAN" >&2 || t_fail "lanes down on a failed"
for l in lane1 lane2; do
    is_up a "$l" && t_fail "a: $l is still up"
done
is_up a lane0 || t_fail "a: lane0 (the base path) went down"
[ "$(n_lanes a)" = 0 ] || t_fail "a: the daemon still lists lanes"
inns a ip rule show | grep -q 'lookup 76' && t_fail "a: a lane rule is left"
inns a nft list tables >/tmp/vl-lanes-nft-after-a 2>&1 || true
cmp -s /tmp/vl-lanes-nft-before-a /tmp/vl-lanes-nft-after-a || t_fail "a: nftables differ"
inns a ip -o addr show dev lane1 | grep -q ' 198.18.11.1/24 ' ||
    t_fail "a: lane1 lost the address the lab gave it"
rm -f "$seen" /tmp/vl-lanes-nft-*
t_log "PASS"

# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# Two throwaway network namespaces joined by P veth pairs, for the lane
# script tests and bench/lane-spread.sh.  Sourced; needs root.
#
#   ln_setup P        namespaces $LN_A and $LN_B (vl-st-a-PID, vl-st-b-PID),
#                     pairs st0..st(P-1) with 198.18.(200+i).1/24 (a) and
#                     .2/24 (b); st0 is up and routes the migration
#                     addresses 198.19.200.1 (a) <-> 198.19.200.2 (b), the
#                     base path; st1 has its addresses but is DOWN (a
#                     spare NIC as in the lab); st2.. have no address and
#                     are DOWN.  Strict reverse-path filtering everywhere
#                     (the lane scripts must cope with it).
#   ln_teardown       deletes both namespaces (safe to call twice)
#   ln_a CMD... / ln_b CMD...  run in a namespace
#   ln_tx NS IF       tx_bytes of IF in NS
#
# Only 198.18.0.0/15, and names distinct from the lab's (vl-lab-*).

LN_A=vl-st-a-$$
LN_B=vl-st-b-$$
LN_MIG_A=198.19.200.1
LN_MIG_B=198.19.200.2

ln_a() {
    ip netns exec "$LN_A" "$@"
}

ln_b() {
    ip netns exec "$LN_B" "$@"
}

ln_teardown() {
    ip netns del "$LN_A" 2>/dev/null
    ip netns del "$LN_B" 2>/dev/null
    return 0
}

ln_setup() {
    ln_paths=$1
    ip netns add "$LN_A" || return 1
    ip netns add "$LN_B" || return 1
    for ns in "$LN_A" "$LN_B"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1 \
            net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 || return 1
        ip netns exec "$ns" ip link set lo up || return 1
    done
    ln_a ip addr add "$LN_MIG_A/32" dev lo || return 1
    ln_b ip addr add "$LN_MIG_B/32" dev lo || return 1
    i=0
    while [ "$i" -lt "$ln_paths" ]; do
        ip link add "st$i" netns "$LN_A" type veth peer name "st$i" netns "$LN_B" || return 1
        if [ "$i" -le 1 ]; then
            ln_a ip addr add "198.18.$((200 + i)).1/24" dev "st$i" || return 1
            ln_b ip addr add "198.18.$((200 + i)).2/24" dev "st$i" || return 1
        fi
        i=$((i + 1))
    done
    ln_a ip link set st0 up || return 1
    ln_b ip link set st0 up || return 1
    ln_a ip route add "$LN_MIG_B/32" via 198.18.200.2 dev st0 src "$LN_MIG_A" || return 1
    ln_b ip route add "$LN_MIG_A/32" via 198.18.200.1 dev st0 src "$LN_MIG_B" || return 1
}

ln_tx() {
    ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_bytes"
}

# ln_lane_args SIDE I: lane-up/lane-down arguments of lane st I on side
# a or b (table and mark 7600 + I), one per line.
ln_lane_args() {
    if [ "$1" = a ]; then
        printf '%s\n' --interface "st$2" --address "198.18.$((200 + $2)).1/24" \
            --peer "198.18.$((200 + $2)).2" --peer-migration-address "$LN_MIG_B" \
            --table "$((7600 + $2))" --mark "$((7600 + $2))"
    else
        printf '%s\n' --interface "st$2" --address "198.18.$((200 + $2)).2/24" \
            --peer "198.18.$((200 + $2)).1" --peer-migration-address "$LN_MIG_A" \
            --table "$((7600 + $2))" --mark "$((7600 + $2))"
    fi
}

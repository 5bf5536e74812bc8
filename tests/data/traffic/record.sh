#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Records the conntrack tables in this directory (root; not run by the
# tests).  A "host" namespace with a bridge br0 (192.168.122.1/24, as
# libvirt's default network) and two "guests" on it, g1 (.11) and g2
# (.12), plus a third guest g3 routed over its own veth (10.0.3.2/24 and
# fd00:3::2/64, the host .1/::1).  The host tracks connections (an nft
# rule using ct state) and forwards.  Traffic: g2 -> g1:5001 TCP
# (bridged), g2 -> g3:5003 TCP and UDP/53 (routed), g1 -> g3:5003 TCP
# (routed), g3 -> host UDP/5353 over IPv6; with NAT also masquerading of
# 192.168.122.0/24 towards v3 and g3 -> host:8080 DNATed to g1:5001.
# The table is read twice, 2 s apart: PREFIX-1.txt and PREFIX-2.txt.
#
#   record.sh PREFIX [--acct 0|1] [--bridge-nf 0|1] [--nat]
set -euo pipefail

prefix=${1:?usage: record.sh PREFIX [--acct 0|1] [--bridge-nf 0|1] [--nat]}
shift
acct=1 brnf=0 nat=
while [ $# -gt 0 ]; do
    case $1 in
    --acct) acct=$2; shift 2 ;;
    --bridge-nf) brnf=$2; shift 2 ;;
    --nat) nat=1; shift ;;
    *) echo "record.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done

H=vl-evac-rec-h
G=(vl-evac-rec-g1 vl-evac-rec-g2 vl-evac-rec-g3)
pids=()
cleanup() {
    local p n
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for n in "$H" "${G[@]}"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
for n in "$H" "${G[@]}"; do
    ip netns add "$n"
    ip -n "$n" link set lo up
done

ip -n "$H" link add br0 type bridge
ip -n "$H" link set br0 up
ip -n "$H" addr add 192.168.122.1/24 dev br0
for i in 1 2; do
    g=${G[i - 1]}
    ip -n "$H" link add "v$i" type veth peer name eth0 netns "$g"
    ip -n "$H" link set "v$i" master br0 up
    ip -n "$g" addr add "192.168.122.1$i/24" dev eth0
    ip -n "$g" link set eth0 up
    ip -n "$g" route add default via 192.168.122.1
done
ip -n "$H" link add v3 type veth peer name eth0 netns "${G[2]}"
ip -n "$H" addr add 10.0.3.1/24 dev v3
ip -n "$H" addr add fd00:3::1/64 dev v3 nodad
ip -n "$H" link set v3 up
ip -n "${G[2]}" addr add 10.0.3.2/24 dev eth0
ip -n "${G[2]}" addr add fd00:3::2/64 dev eth0 nodad
ip -n "${G[2]}" link set eth0 up
ip -n "${G[2]}" route add default via 10.0.3.1

ip netns exec "$H" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$H" sysctl -qw "net.netfilter.nf_conntrack_acct=$acct"
ip netns exec "$H" sysctl -qw "net.bridge.bridge-nf-call-iptables=$brnf"
ip netns exec "$H" nft -f - <<'EOF'
table inet t {
    chain cfwd { type filter hook forward priority 0; ct state established,related accept; }
    chain cinp { type filter hook input priority 0; ct state established,related accept; }
}
EOF
if [ -n "$nat" ]; then
    ip netns exec "$H" nft -f - <<'EOF'
table ip nat {
    chain post { type nat hook postrouting priority 100; ip saddr 192.168.122.0/24 oifname "v3" masquerade; }
    chain pre { type nat hook prerouting priority -100; iifname "v3" tcp dport 8080 dnat to 192.168.122.11:5001; }
}
EOF
fi

# reads every connection in its own thread, so that none stalls
server='
import socket, sys, threading
def drain(c):
    while c.recv(65536):
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(5)
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()'
# sends CHUNK bytes every 0.1 s for 4 s, then holds the connection
client='
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
for i in range(40):
    s.sendall(b"x" * int(sys.argv[3]))
    time.sleep(0.1)
time.sleep(30)'
udp='
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    s.sendto(b"u" * 100, (sys.argv[1], int(sys.argv[2])))'

ip netns exec "${G[0]}" python3 -c "$server" 5001 & pids+=($!)
ip netns exec "${G[2]}" python3 -c "$server" 5003 & pids+=($!)
sleep 0.5
ip netns exec "${G[1]}" python3 -c "$client" 192.168.122.11 5001 100000 & pids+=($!)
ip netns exec "${G[1]}" python3 -c "$client" 10.0.3.2 5003 50000 & pids+=($!)
ip netns exec "${G[0]}" python3 -c "$client" 10.0.3.2 5003 20000 & pids+=($!)
if [ -n "$nat" ]; then
    ip netns exec "${G[2]}" python3 -c "$client" 10.0.3.1 8080 30000 & pids+=($!)
fi
ip netns exec "${G[1]}" python3 -c "$udp" 10.0.3.2 53 3
ip netns exec "${G[2]}" python3 -c "$udp" fd00:3::1 5353 2
sleep 1
for i in 1 2; do
    {
        echo "# SPDX-License-Identifier: LGPL-2.1-or-later"
        echo "# tests/data/traffic/record.sh $prefix --acct $acct --bridge-nf $brnf${nat:+ --nat}, reading $i"
        ip netns exec "$H" cat /proc/net/nf_conntrack
    } >"$prefix-$i.txt"
    [ "$i" = 2 ] || sleep 2
done

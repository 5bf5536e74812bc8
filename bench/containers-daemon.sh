#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/containers-daemon.sh [N_RUNNING] [N_OFF] [CYCLES]: the daemon's cost
# with the real sampler path (virConnectGetAllDomainStats on a private
# libvirtd, lab/host): N_RUNNING small diskless TCG guests (default 4) and
# N_OFF defined ones (default 2) in one container, tick_s = 1, CYCLES cycles
# (default 30). Prints one table: the per-cycle statistics call (elapsed and
# the worker thread's CPU), the container ticks' CPU on the main loop, the
# daemon's whole CPU per cycle (utime + stime over the run) and its VmRSS
# and VmHWM. Needs root, libvirtd, QEMU and jq. Not a test: nothing is
# asserted.
# shellcheck disable=SC2016,SC2119 # jq programs name $variables in single quotes
set -euo pipefail
# shellcheck source=../tests/integration/containers-lib.sh
. "$(dirname "$0")/../tests/integration/containers-lib.sh"

running=${1:-4}
off=${2:-2}
cycles=${3:-30}

ct_require
ct_setup
# The libvirt source: the config without stats_replay.
ct_write_config 1
sed -i '/^stats_replay/d' "$CT_STATE/fs$CT_CONFIG"
ct_write_policy bench <<'EOF_POLICY'
{ "containers": [{ "name": "bench", "mode": "advise",
    "members": { "name_globs": ["bench-*"] }, "min_active": 0, "max_active": 64,
    "indicators": {
      "cpu": { "substantially_under_loaded": 0, "under_loaded": 0.001,
               "overloaded": 99.98, "substantially_overloaded": 99.99 },
      "net_rx": { "substantially_under_loaded": 0, "under_loaded": 0.001,
                  "overloaded": 999998, "substantially_overloaded": 999999 } } }] }
EOF_POLICY
ct_host_start
for i in $(seq 1 $((running + off))); do
    ct_define "bench-$i"
    [ "$i" -gt "$running" ] || ct_start "bench-$i"
done
ct_wait 60 "every domain to be a member" ct_containers_jq \
    '.containers[0].members | length == $n' --argjson n $((running + off))

pid=$(tr -dc '0-9' <"$CT_STATE/pids/virt-lanesd")
cpu_ticks() {
    local stat fields
    stat=$(cat "/proc/$pid/stat")
    read -r -a fields <<<"${stat##*) }"
    echo $((fields[11] + fields[12]))
}
c0=$(ct_vl containers --json | jq .cycles)
t0=$(cpu_ticks)
samples=()
while :; do
    out=$(ct_vl containers --json)
    c=$(jq .cycles <<<"$out")
    if [ "$c" -ne "${last:-$c0}" ]; then
        samples+=("$(jq -r '.last_cycle | "\(.domains) \(.sample_ms) \(.sample_cpu_ms) \(.tick_cpu_ms)"' <<<"$out")")
    fi
    last=$c
    [ $((c - c0)) -lt "$cycles" ] || break
    sleep 0.3
done
t1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
printf '%s\n' "${samples[@]}" | awk -v cyc="$((last - c0))" -v ticks="$((t1 - t0))" -v hz="$hz" \
    -v rss="$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")" \
    -v hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")" '
    { n++; d = $1; s[n] = $2; sc[n] = $3; t[n] = $4 }
    function median(a, n,   i, j, x, b) {
        for (i = 1; i <= n; i++) b[i] = a[i]
        for (i = 2; i <= n; i++) { x = b[i]; for (j = i - 1; j > 0 && b[j] > x; j--) b[j + 1] = b[j]; b[j + 1] = x }
        return b[int((n + 1) / 2)]
    }
    function max(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
    END {
        printf "%-44s %10s %10s\n", "per cycle (" n " cycles, " d " domains sampled)", "median", "max"
        printf "%-44s %10.3f %10.3f\n", "GetAllDomainStats + indicators, elapsed ms", median(s, n), max(s, n)
        printf "%-44s %10.3f %10.3f\n", "  of which worker-thread CPU, ms", median(sc, n), max(sc, n)
        printf "%-44s %10.3f %10.3f\n", "container ticks on the main loop, CPU ms", median(t, n), max(t, n)
        printf "%-44s %10.2f\n", "whole daemon CPU per cycle, ms (utime+stime)", ticks * 1000 / hz / cyc
        printf "%-44s %10.1f\n", "VmRSS, MiB", rss / 1024
        printf "%-44s %10.1f\n", "VmHWM, MiB", hwm / 1024
    }'

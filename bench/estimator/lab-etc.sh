# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Sourced by bench/estimator/run and tests/lab/estimate-accuracy.sh: the
# /etc/virt-lanes of lab hosts a and b (lab/up --daemon-etc), i.e. a daemon
# config with an [estimator] section and a policy whose one peer is the
# other host. As in lab/policy (docs/lanes.md): lane0 is the base path
# (200 Mbit/s, base_bandwidth_mbit), lane1 and lane2 are the spare lanes
# 'virt-lanes migrate' brings up (max_lanes 2: up to 3 links). The policy
# file replaces the 10-lab.json that lab/up writes.

# est_lab_etc DIR PERIODS SAMPLE_PERIOD_S HISTORY_FILE
est_lab_etc() {
    local dir=$1 periods=$2 every=$3 history=$4 h p k pk i lanes scripts
    scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/qemu-scripts
    for h in a b; do
        case $h in a) k=1 p=b pk=2 ;; b) k=2 p=a pk=1 ;; esac
        mkdir -p "$dir/$h/policies.d"
        cat >"$dir/$h/virt-lanesd.conf" <<CONF
# Written by est_lab_etc for lab host $h.
[daemon]
verbose = true
policy_dir = /etc/virt-lanes/policies.d
[lanes]
journal = /var/lib/virt-lanes/lanes.json
script_dir = $scripts
[estimator]
sample_period_s = $every
sample_periods = $periods
history_file = $history
CONF
        lanes=""
        for i in 1 2; do
            [ -z "$lanes" ] || lanes="$lanes,"
            lanes="$lanes
          { \"interface\": \"lane$i\", \"address\": \"198.18.1$i.$k/24\",
            \"peer_address\": \"198.18.1$i.$pk\", \"bandwidth_mbit\": 200 }"
        done
        cat >"$dir/$h/policies.d/10-lab.json" <<JSON
{
  "description": "Lab host $h: the base path (lane0) and lanes 1-2 towards host $p",
  "migration": {
    "threshold_s": 30,
    "lane_up_max_s": 5,
    "migration_address": "198.19.0.$k",
    "max_lanes": 2,
    "channels_per_lane": 2,
    "incoming_lanes": true,
    "peers": [
      { "name": "$p", "uri": "qemu+tcp://198.18.0.1$pk/system",
        "migration_address": "198.19.0.$pk",
        "base_bandwidth_mbit": 200,
        "lanes": [$lanes
        ] }
    ]
  }
}
JSON
        chmod 0755 "$dir/$h" "$dir/$h/policies.d"
        chmod 0644 "$dir/$h/virt-lanesd.conf" "$dir/$h/policies.d/10-lab.json"
    done
}

# est_cli HOST ARGS...: the virt-lanes CLI inside lab host HOST.
est_cli() {
    local h=$1
    shift
    "$LAB/host" exec --state-dir "$VL_LAB_DIR/hosts/$h" -- \
        "$BUILDDIR/plugin/cli/virt-lanes" --socket /run/virt-lanes/virt-lanesd.sock "$@"
}

# est_wait_samples HOST DOMAIN N TIMEOUT_S: until the daemon on HOST has N
# dirty-rate measurements of DOMAIN (0 on success, 1 on timeout).
est_wait_samples() {
    local h=$1 dom=$2 n=$3 limit=$4 t0 got
    t0=$(date +%s)
    while :; do
        got=$(est_cli "$h" estimate "$dom" --no-measure --json 2>/dev/null |
            jq -r '.inputs.measurements // 0' 2>/dev/null || echo 0)
        [ "${got:-0}" -lt "$n" ] || return 0
        [ $(($(date +%s) - t0)) -lt "$limit" ] || return 1
        sleep 3
    done
}

# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for the lab tests of container moves (tests/lab/containers-*.sh).

# cl_write_recording FILE HOST_PERCENT... -> a statistics recording
# ([containers] stats_replay, the daemon's test seam) with one sample every
# 10 s, the host's CPU busy at each given percentage over the interval
# before it (the first sample only starts the counters); the last interval
# goes on for ever.
cl_write_recording() {
    local file=$1 t=0 busy=0 pct
    shift
    {
        echo "# $(basename "$0")"
        echo "@sample 0"
        echo "Host:"
        echo "  cpu.kernel=0"
        echo "  cpu.user=0"
        echo "  cpu.idle=0"
        for pct in "$@"; do
            t=$((t + 10))
            busy=$((busy + pct * 100000000))
            echo "@sample $t"
            echo "Host:"
            echo "  cpu.kernel=0"
            echo "  cpu.user=$busy"
            echo "  cpu.idle=$((t * 1000000000 - busy))"
        done
    } >"$file"
}

# cl_daemon_conf DIR HOME_URI [SECTION_LINES...]: DIR/a/virt-lanesd.conf for
# host a's daemon (lab/up --daemon-etc DIR): verbose, the policy in
# /etc/virt-lanes/containers.d (created, empty), a 1 s container cycle,
# HOME_URI, the statistics replayed from /etc/virt-lanes/stats.rec; then
# SECTION_LINES as they are ("[lanes]", "journal = ...").
cl_daemon_conf() {
    local dir=$1 home=$2
    shift 2
    mkdir -p "$dir/a/containers.d"
    {
        echo "[daemon]"
        echo "verbose = true"
        echo "policy_dir = /etc/virt-lanes/containers.d"
        echo "[containers]"
        echo "tick_s = 1"
        echo "home_uri = $home"
        echo "stats_replay = /etc/virt-lanes/stats.rec"
        printf '%s\n' "$@"
    } >"$dir/a/virt-lanesd.conf"
}

# cl_audit_has JQ_FILTER: the container audit log ($AUDIT, set by the test)
# exists and its records, as one array, satisfy JQ_FILTER.
cl_audit_has() {
    [ -s "$AUDIT" ] && jq -e -s "$1" "$AUDIT" >/dev/null
}

# cl_state_on URI DOMAIN: DOMAIN's state on URI, or nothing when it is not
# defined there.
cl_state_on() {
    timeout 30 virsh -q -c "$1" domstate --domain "$2" 2>/dev/null | head -n 1
}

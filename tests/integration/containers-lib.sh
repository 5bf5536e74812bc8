# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2016 # jq programs name $variables in single quotes
#
# tests/integration/containers-lib.sh: sourced by tests/integration/
# containers-*.sh (never executed).
#
# One private libvirt host (lab/host) runs the built virt-lanesd with a
# configuration, a policy and a recording of statistics written into the
# host's /etc/virt-lanes before it starts: the daemon replays the recording
# ([containers] stats_replay, a test-only setting) instead of asking libvirt,
# so a test decides what load the containers see, while every action the
# daemon takes happens to real QEMU guests (small diskless TCG guests: SeaBIOS
# with nothing to boot, 64 MiB). An EXIT trap stops the host on every path
# and fails the test if a process it started is still alive afterwards.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, or libvirtd, virtlogd,
# QEMU, unshare, nsenter, setsid or jq missing).

CT_NAME=$(basename "$0" .sh)
VL_SRCDIR=${VL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VL_BUILDDIR=${VL_BUILDDIR:-$VL_SRCDIR/build}
CT_LAB_HOST=$VL_SRCDIR/lab/host
CT_DAEMON=$VL_BUILDDIR/plugin/daemon/virt-lanesd
CT_CLI=$VL_BUILDDIR/plugin/cli/virt-lanes
# Paths as the host sees them; $CT_STATE/fs<path> from outside.
CT_SOCKET=/run/virt-lanes/virt-lanesd.sock
CT_CONFIG=/etc/virt-lanes/virt-lanesd.conf
CT_POLICY_DIR=/etc/virt-lanes/policies.d
CT_RECORDING=/etc/virt-lanes/stats.rec
CT_AUDIT=/var/log/virt-lanes/containers-audit.jsonl

# shellcheck source=../../lab/lib.sh
. "$VL_SRCDIR/lab/lib.sh"
# shellcheck disable=SC2034 # read by lab/lib.sh's messages
VL_PROG=$CT_NAME

CT_T0=$(date +%s%N)
CT_TMP=""
CT_STATE=""
CT_PIDS=()          # "pid:starttime:what" of everything the test started
CT_NDOMAINS=0

ct_log() {
    printf '%s [%6.1fs] %s\n' "$CT_NAME" \
        "$(awk -v s="$CT_T0" -v e="$(date +%s%N)" 'BEGIN { print (e - s) / 1e9 }')" "$*" >&2
}

ct_fail() {
    ct_log "FAIL: $*"
    exit 1
}

ct_skip() {
    ct_log "SKIP: $*"
    exit 77
}

ct_require() {
    local c
    [ "$(id -u)" -eq 0 ] || ct_skip "Needs root (namespaces, libvirtd)"
    for c in unshare nsenter setsid libvirtd virtlogd virsh qemu-system-x86_64 jq timeout; do
        command -v "$c" >/dev/null 2>&1 || ct_skip "Missing command '$c'"
    done
    for c in "$CT_DAEMON" "$CT_CLI" "$CT_LAB_HOST"; do
        [ -x "$c" ] || ct_fail "Missing executable '$c' (build first)"
    done
}

# Field 22 of /proc/PID/stat (start time), read after the ')' that closes
# the command name, which may contain blanks.
ct_starttime() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -r -a fields <<<"${stat##*) }"
    printf '%s\n' "${fields[19]}"
}

ct_track() {
    local pid=$1 what=$2 st e
    vl_pid_alive "$pid" || return 0
    st=$(ct_starttime "$pid") || return 0
    for e in "${CT_PIDS[@]}"; do
        [ "${e%%:*}" = "$pid" ] && return 0
    done
    CT_PIDS+=("$pid:$st:$what")
}

# The host's daemons (recorded pids) and everything in its mount namespace.
ct_track_host() {
    local p mnt
    [ -n "$CT_STATE" ] && [ -d "$CT_STATE/pids" ] || return 0
    for p in holder virtlogd libvirtd virt-lanesd; do
        [ -s "$CT_STATE/pids/$p" ] && ct_track "$(tr -dc '0-9' <"$CT_STATE/pids/$p")" "$p"
    done
    mnt=$(vl_read_kv "$CT_STATE/host.env" MNT_NS)
    for p in $(vl_pids_in_ns mnt "$mnt"); do
        ct_track "$p" "in the host: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-40)"
    done
}

ct_cleanup() {
    local rc=$? e pid st what left=0 log
    trap - EXIT INT TERM
    set +e
    if [ -n "$CT_STATE" ] && [ -f "$CT_STATE/host.env" ]; then
        ct_track_host
        log=$CT_STATE/log/virt-lanesd.log
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
            echo "----- the daemon's containers" >&2
            ct_vl containers >&2 2>&1
            [ -f "$log" ] && { echo "----- $log" >&2; grep -Ev ' debug: (Add|Update|Remove|Dispatch|Cleanup) (handle|timeout)' "$log" | tail -n 60 >&2; }
            [ -f "$CT_STATE/fs$CT_AUDIT" ] && { echo "----- audit log" >&2; cat "$CT_STATE/fs$CT_AUDIT" >&2; }
        fi
        if ! "$CT_LAB_HOST" stop --state-dir "$CT_STATE" >&2; then
            ct_log "FAIL: lab/host stop failed"
            rc=1
        fi
        if [ -f "$log" ] && grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
            ct_log "FAIL: sanitizer report in the daemon's log"
            grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -n 60 >&2
            rc=1
        fi
        "$CT_LAB_HOST" stop --state-dir "$CT_STATE" --purge >&2 || rc=1
    fi
    for e in "${CT_PIDS[@]}"; do
        pid=${e%%:*}
        st=${e#*:}
        what=${st#*:}
        st=${st%%:*}
        if vl_pid_alive "$pid" && [ "$(ct_starttime "$pid")" = "$st" ]; then
            ct_log "FAIL: pid $pid ($what) outlived the host; killing it"
            kill -KILL "$pid" 2>/dev/null
            left=1
        fi
    done
    [ "$left" -eq 0 ] || rc=1
    if [ -n "$CT_TMP" ] && [ -d "$CT_TMP" ]; then
        if grep -qF " $CT_TMP/" /proc/self/mountinfo; then
            ct_log "FAIL: something is still mounted under '$CT_TMP'; left in place"
            rc=1
        else
            rm -rf "$CT_TMP"
        fi
    fi
    ct_log "exit $rc"
    exit "$rc"
}

ct_setup() {
    CT_TMP=$(mktemp -d "/tmp/vl-ct-$CT_NAME.XXXXXX")
    CT_STATE=$CT_TMP/host
    trap ct_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$CT_STATE/fs$CT_POLICY_DIR" "$CT_STATE/fs/var/log/virt-lanes"
    chmod 0700 "$CT_STATE/fs$CT_POLICY_DIR"
}

# ct_wait TIMEOUT_S DESCRIPTION CMD... -> polls CMD every 0.25 s.
ct_wait() {
    local timeout=$1 desc=$2 deadline
    shift 2
    deadline=$(($(date +%s) + timeout))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || ct_fail "Timed out after ${timeout}s waiting for: $desc"
        sleep 0.25
    done
}

# --- inside the host -----------------------------------------------------------

ct_in_host() {
    "$CT_LAB_HOST" exec --state-dir "$CT_STATE" -- "$@"
}

# Arguments reach virsh as argv, never through a shell string.
ct_virsh() {
    ct_in_host timeout 60 virsh -q -c qemu:///system "$@"
}

ct_vl() {
    ct_in_host timeout 30 "$CT_CLI" --socket "$CT_SOCKET" "$@"
}

# --- what the daemon is given ----------------------------------------------------

# ct_write_config TICK_S -> the daemon's configuration file.
ct_write_config() {
    cat >"$CT_STATE/fs$CT_CONFIG" <<EOF
[daemon]
policy_dir = $CT_POLICY_DIR
[containers]
tick_s = $1
audit_log = $CT_AUDIT
stats_replay = $CT_RECORDING
EOF
}

# ct_write_policy NAME < JSON -> one policy file, as strict as production.
ct_write_policy() {
    local f=$CT_STATE/fs$CT_POLICY_DIR/$1.json
    cat >"$f"
    chmod 0600 "$f"
    jq -e . "$f" >/dev/null || ct_fail "Policy '$1' is not JSON"
}

# ct_write_recording DOMAIN:PERCENT... -> every domain at a steady CPU load
# on one vCPU: two samples 10 s apart, which the replay extrapolates. With
# CT_HOST_CPU=PERCENT (and CT_HOST_MEMORY=PERCENT, default 50) the host's
# own counters are recorded too (a "Host:" record, one host CPU).
ct_write_recording() {
    local spec name pct t busy
    {
        echo "# $CT_NAME: steady CPU loads"
        for t in 0 10; do
            echo "@sample $t"
            if [ -n "${CT_HOST_CPU:-}" ]; then
                busy=$((t * CT_HOST_CPU * 10000000))
                echo "Host:"
                echo "  cpu.kernel=0"
                echo "  cpu.user=$busy"
                echo "  cpu.idle=$((t * 1000000000 - busy))"
                echo "  memory.total=1000000"
                echo "  memory.free=$((1000000 - ${CT_HOST_MEMORY:-50} * 10000))"
            fi
            for spec in "$@"; do
                name=${spec%:*}
                pct=${spec##*:}
                echo "Domain: '$name'"
                echo "  state.state=1"
                echo "  vcpu.current=1"
                echo "  cpu.time=$((t * pct * 10000000))"
            done
        done
    } >"$CT_STATE/fs$CT_RECORDING"
}

# ct_host_start [DAEMON ARG...] -> libvirtd and the daemon, connected.
ct_host_start() {
    local args="--uri qemu:///system --socket $CT_SOCKET --config $CT_CONFIG --verbose"
    [ $# -eq 0 ] || args="$args $*"
    "$CT_LAB_HOST" start "vl-ct-$$" --state-dir "$CT_STATE" \
        --daemon "$CT_DAEMON" --daemon-args "$args" >&2 || {
        ct_track_host
        ct_fail "lab/host start failed"
    }
    ct_track_host
    ct_wait 120 "libvirtd to load its QEMU driver" ct_libvirtd_ready
    ct_wait 60 "the daemon to connect to libvirtd" ct_daemon_connected
    ct_track_host
}

ct_libvirtd_ready() {
    ct_virsh capabilities >/dev/null 2>&1
}

ct_daemon_connected() {
    ct_vl status --json 2>/dev/null | jq -e '.connection.connected == true' >/dev/null 2>&1
}

# --- domains ------------------------------------------------------------------------

ct_xml_text() {
    jq -rn --arg s "$1" '$s | @html'
}

# ct_define NAME -> a diskless TCG guest: SeaBIOS finds nothing to boot and,
# with rebootTimeout -1, waits there; it also ignores ACPI power buttons,
# so a graceful shutdown of it never completes.
ct_define() {
    local xml
    CT_NDOMAINS=$((CT_NDOMAINS + 1))
    xml=$CT_TMP/domain-$CT_NDOMAINS.xml
    cat >"$xml" <<EOF
<domain type='qemu'>
  <name>$(ct_xml_text "$1")</name>
  <uuid>$(cat /proc/sys/kernel/random/uuid)</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <bios rebootTimeout='-1'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    ct_virsh define "$xml" >/dev/null || ct_fail "virsh define of '$1' failed"
}

ct_start() {
    ct_virsh start "$1" >/dev/null || ct_fail "virsh start of '$1' failed"
    ct_track_host
}

ct_state() {
    ct_virsh domstate "$1"
}

ct_state_is() {
    [ "$(ct_state "$1")" = "$2" ]
}

# --- the daemon's view ------------------------------------------------------------

# ct_containers_jq FILTER [JQ ARGS...] -> jq -e FILTER on 'containers --json'.
ct_containers_jq() {
    local filter=$1 out
    shift
    out=$(ct_vl containers --json 2>/dev/null) || return 1
    jq -e "$@" "$filter" <<<"$out" >/dev/null
}

# ct_members CONTAINER -> "name:state" of its members, comma-separated.
ct_members() {
    ct_vl containers --json | jq -r --arg c "$1" \
        '[.containers[] | select(.name == $c) | .members[] | "\(.name):\(.state)"] | join(",")'
}

ct_members_are() {
    [ "$(ct_members "$1")" = "$2" ]
}

# ct_member_is CONTAINER NAME STATE: NAME is a member of CONTAINER in STATE,
# whatever the other members do.
ct_member_is() {
    case ",$(ct_members "$1")," in
        *",$2:$3,"*) return 0 ;;
    esac
    return 1
}

# ct_audit_jq FILTER [JQ ARGS...] -> jq -e FILTER on the audit log as an array.
ct_audit_jq() {
    local f=$CT_STATE/fs$CT_AUDIT filter=$1
    shift
    [ -s "$f" ] || return 1
    jq -se "$@" "$filter" "$f" >/dev/null
}

ct_assert_eq() {
    [ "$2" = "$3" ] || ct_fail "$1: expected '$2', got '$3'"
}

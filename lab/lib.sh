# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers shared by the lab scripts (lab/host, lab/up, lab/down, lab/boot,
# lab/migrate, lab/demo). Sourced, never executed. Everything here works on
# pids and namespace inodes that the lab itself recorded, so that a cleanup can
# never hit a process that merely happens to have a familiar name.

# shellcheck disable=SC2034 # used by the scripts that source this file
VL_LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VL_PROG=${VL_PROG:-$(basename "$0")}

# Default lab state dir. /run is cleared at boot, like the namespaces the lab
# creates, so a stale state dir cannot outlive the objects it describes.
VL_LAB_DIR=${VL_LAB_DIR:-/run/vl-lab}

vl_err() {
    printf '%s: error: %s\n' "$VL_PROG" "$*" >&2
}

vl_die() {
    vl_err "$*"
    exit 1
}

# Usage errors exit 2, as in the rest of the project.
vl_usage_die() {
    printf '%s: %s\n' "$VL_PROG" "$*" >&2
    printf "Try '%s --help'.\n" "$VL_PROG" >&2
    exit 2
}

vl_info() {
    printf '%s: %s\n' "$VL_PROG" "$*" >&2
}

vl_need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        vl_die "Must run as root (namespaces, veths and libvirtd need it)"
    fi
}

vl_need_cmds() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || vl_die "Missing command '$c'"
    done
}

# Monotonic-enough wall clock in seconds with a fraction, for timing reports.
vl_now() {
    date +%s.%N
}

# vl_elapsed START -> seconds since START, one decimal.
vl_elapsed() {
    awk -v s="$1" -v e="$(vl_now)" 'BEGIN { printf "%.1f", e - s }'
}

# vl_ns_inode PID TYPE -> inode of /proc/PID/ns/TYPE, or nothing if PID is gone.
vl_ns_inode() {
    stat -L -c %i "/proc/$1/ns/$2" 2>/dev/null || true
}

# vl_pid_alive PID -> 0 if PID names a live (non-zombie) process.
vl_pid_alive() {
    local state
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# vl_pids_in_ns TYPE INODE -> pids of every process whose TYPE namespace is
# INODE. Used to find what is left in a namespace the lab created (QEMU
# processes, a crashed daemon's children) so they can be ended by pid.
vl_pids_in_ns() {
    local type=$1 inode=$2 p
    [ -n "$inode" ] || return 0
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] && continue
        if [ "$(vl_ns_inode "$p" "$type")" = "$inode" ]; then
            printf '%s\n' "$p"
        fi
    done
}

# vl_kill_pid PID WHAT [MNT_INODE] -> end PID (TERM, then KILL after 10 s).
# With MNT_INODE the pid is only signalled while it still lives in that mount
# namespace, which guards against a recycled pid.
vl_kill_pid() {
    local pid=$1 what=$2 mnt=${3:-}
    vl_pid_alive "$pid" || return 0
    if [ -n "$mnt" ] && [ "$(vl_ns_inode "$pid" mnt)" != "$mnt" ]; then
        vl_info "Not killing pid $pid ($what): it is no longer in the host's mount namespace"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || return 0
    # A zombie counts as gone (vl_pid_alive), so our own exited children do
    # not stall this loop.
    for _ in $(seq 1 100); do
        vl_pid_alive "$pid" || return 0
        sleep 0.1
    done
    vl_info "$what (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        vl_pid_alive "$pid" || return 0
        sleep 0.1
    done
    vl_err "$what (pid $pid) is still alive after SIGKILL"
    return 1
}

# vl_read_kv FILE KEY -> value of KEY=VALUE in FILE (files the lab wrote; read
# line by line instead of sourced so a stray character cannot execute).
vl_read_kv() {
    local file=$1 key=$2 k v
    [ -r "$file" ] || return 0
    while IFS='=' read -r k v; do
        if [ "$k" = "$key" ]; then
            printf '%s\n' "$v"
            return 0
        fi
    done <"$file"
}

# vl_json_escape STRING -> STRING as a JSON string literal (with quotes).
vl_json_str() {
    jq -Rn --arg s "$1" '$s'
}

# vl_xml_escape STRING -> STRING safe for XML text and attribute values.
vl_xml_escape() {
    local s=$1
    # Replacements are quoted: bash 5.2 expands an unquoted '&' in them to
    # the matched text.
    s=${s//&/"&amp;"}
    s=${s//</"&lt;"}
    s=${s//>/"&gt;"}
    s=${s//\"/"&quot;"}
    s=${s//\'/"&apos;"}
    printf '%s' "$s"
}

# vl_is_uint VALUE MIN MAX -> 0 if VALUE is a decimal integer in [MIN, MAX].
vl_is_uint() {
    [[ $1 =~ ^[0-9]{1,9}$ ]] && [ "$((10#$1))" -ge "$2" ] && [ "$((10#$1))" -le "$3" ]
}

# --- lab state (written by lab/up) ---------------------------------------

# vl_lab_need: fail unless a lab is up.
vl_lab_need() {
    [ -r "$VL_LAB_DIR/lab.env" ] || vl_die "No lab is up (no '$VL_LAB_DIR/lab.env'); run lab/up first"
}

vl_lab_get() {
    vl_read_kv "$VL_LAB_DIR/lab.env" "$1"
}

# vl_lab_host NAME -> canonical host letter (accepts A, a, vl-lab-a).
vl_lab_host() {
    local h
    h=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
    h=${h#vl-lab-}
    case " $(vl_lab_get HOSTS) " in
    *" $h "*) printf '%s\n' "$h" ;;
    *) vl_usage_die "Unknown host '$1' (lab hosts: $(vl_lab_get HOSTS))" ;;
    esac
}

vl_lab_uri() {
    vl_lab_get "URI_$1"
}

# vl_virsh HOST ARGS...: virsh against a lab host over the management
# network, bounded in time so a wedged daemon cannot hang the caller.
vl_virsh() {
    local h=$1
    shift
    timeout "${VL_VIRSH_TIMEOUT:-60}" virsh -q -c "$(vl_lab_uri "$h")" "$@"
}

# vl_guest_host NAME -> the lab host on which domain NAME is running, if any.
vl_guest_host() {
    local h st
    for h in $(vl_lab_get HOSTS); do
        st=$(vl_virsh "$h" domstate --domain "$1" 2>/dev/null || true)
        if [ "${st%% *}" = running ] || [ "${st%% *}" = paused ]; then
            printf '%s\n' "$h"
            return 0
        fi
    done
}

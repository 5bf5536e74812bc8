# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2016 # jq programs name $variables in single quotes
#
# tests/integration/lib.sh: what every integration test needs, sourced by
# tests/integration/test-*.sh (never executed).
#
# A test runs one private libvirt host (lab/host) with the hook and the
# daemon built in VL_BUILDDIR, drives it with virsh and the virt-lanes CLI
# inside the host's namespaces, and reads the daemon's status JSON with jq.
# Everything a test starts lives under one mktemp -d directory and is
# stopped by an EXIT trap on every path; the trap then checks that no
# process the test started (recorded by pid and start time) is still alive.
#
# Exit status: 0 pass, 1 fail, 77 skip (not root, or libvirtd, QEMU,
# unshare, nsenter or jq missing).

IT_NAME=$(basename "$0" .sh)
VL_SRCDIR=${VL_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VL_BUILDDIR=${VL_BUILDDIR:-$VL_SRCDIR/build}

IT_LAB_HOST=$VL_SRCDIR/lab/host
IT_HOOK=$VL_BUILDDIR/hook/virt-lanes-hook
IT_DAEMON=$VL_BUILDDIR/plugin/daemon/virt-lanesd
IT_CLI=$VL_BUILDDIR/plugin/cli/virt-lanes
# The daemon's socket as seen inside the host; $IT_STATE/fs$IT_SOCKET outside.
IT_SOCKET=/run/virt-lanes/virt-lanesd.sock

# The five hook calls libvirtd makes for one start and one destroy, in order.
# shellcheck disable=SC2034 # used by the tests
IT_HOOK_START_STOP=("prepare begin" "start begin" "started begin" "stopped end" "release end")

# pid helpers (vl_pid_alive, vl_ns_inode, vl_pids_in_ns, vl_read_kv)
# shellcheck source=../../lab/lib.sh
. "$VL_SRCDIR/lab/lib.sh"
VL_PROG=$IT_NAME

IT_T0=$(date +%s%N)
IT_TMP=""
IT_STATE=""
IT_PIDS=()
IT_NDOMAINS=0

# --- messages ---------------------------------------------------------------

it_ms_now() {
    echo $(($(date +%s%N) / 1000000))
}

it_log() {
    printf '%s [%7.1fs] %s\n' "$IT_NAME" \
        "$(awk -v s="$IT_T0" -v e="$(date +%s%N)" 'BEGIN { printf "%.1f", (e - s) / 1e9 }')" \
        "$*" >&2
}

it_fail() {
    it_log "FAIL: $*"
    exit 1
}

it_skip() {
    it_log "SKIP: $*"
    exit 77
}

# it_time LABEL CMD... -> runs CMD, logs "TIME LABEL N.NNs", keeps its status.
it_time() {
    local label=$1 t0 rc=0
    shift
    t0=$(date +%s%N)
    "$@" || rc=$?
    it_log "TIME $label $(awk -v s="$t0" -v e="$(date +%s%N)" 'BEGIN { printf "%.2f", (e - s) / 1e9 }')s"
    return "$rc"
}

# --- preconditions and set-up ------------------------------------------------

it_require() {
    local c f
    [ "$(id -u)" -eq 0 ] || it_skip "Needs root (namespaces, libvirtd)"
    for c in unshare nsenter setsid libvirtd virtlogd virsh qemu-system-x86_64 jq timeout; do
        command -v "$c" >/dev/null 2>&1 || it_skip "Missing command '$c'"
    done
    for f in "$IT_HOOK" "$IT_DAEMON" "$IT_CLI" "$IT_LAB_HOST"; do
        [ -x "$f" ] || it_fail "Missing executable '$f' (build first)"
    done
}

# Creates the test's directory and installs the trap that always stops the
# host. INT and TERM (meson's timeout) exit, which runs the EXIT trap.
it_setup() {
    IT_TMP=$(mktemp -d "/tmp/vl-it-$IT_NAME.XXXXXX")
    IT_STATE=$IT_TMP/host
    trap it_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    it_log "state dir $IT_STATE"
}

# --- process bookkeeping -------------------------------------------------------

# Start time of PID in clock ticks since boot (field 22 of /proc/PID/stat,
# counted after the ')' that ends the command name, which may hold blanks).
it_pid_starttime() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    awk '{ print $20 }' <<<"$stat"
}

# it_track_pid PID WHAT -> remember PID (with its start time, so a recycled
# pid is never mistaken for ours) to check at exit that it is gone.
it_track_pid() {
    local pid=$1 what=$2 st e
    [ -n "$pid" ] && vl_pid_alive "$pid" || return 0
    st=$(it_pid_starttime "$pid") || return 0
    for e in "${IT_PIDS[@]}"; do
        [ "${e%%:*}" = "$pid" ] && return 0
    done
    IT_PIDS+=("$pid:$st:$what")
}

# Records the host's daemons and everything in its mount namespace (QEMU).
it_track_host() {
    local p mnt
    [ -n "$IT_STATE" ] && [ -d "$IT_STATE/pids" ] || return 0
    for p in holder virtlogd libvirtd virt-lanesd; do
        if [ -r "$IT_STATE/pids/$p" ]; then
            it_track_pid "$(tr -dc '0-9' <"$IT_STATE/pids/$p")" "$p"
        fi
    done
    mnt=$(vl_read_kv "$IT_STATE/host.env" MNT_NS)
    for p in $(vl_pids_in_ns mnt "$mnt"); do
        it_track_pid "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-40)"
    done
}

# Prints the pids (as "pid (what)") that the test started and that still live.
it_alive_pids() {
    local e pid st what
    for e in "${IT_PIDS[@]}"; do
        pid=${e%%:*}
        st=${e#*:}
        what=${st#*:}
        st=${st%%:*}
        if vl_pid_alive "$pid" && [ "$(it_pid_starttime "$pid")" = "$st" ]; then
            printf '%s (%s)\n' "$pid" "$what"
        fi
    done
}

# On failure: the daemon's last status and the end of each log, without the
# event-loop tracing that --verbose adds (libvirt-glib's handle and timeout
# updates, several a second).
it_dump_logs() {
    local f
    if [ -n "$(it_daemon_pid || true)" ]; then
        echo "----- the daemon's status" >&2
        it_status >&2 || echo "(no answer)" >&2
    fi
    for f in "$IT_STATE"/log/*.log; do
        [ -s "$f" ] || continue
        echo "----- last lines of $f" >&2
        grep -Ev '^$| debug: (Add|Update|Remove|Dispatch|Cleanup) (handle|timeout)' "$f" |
            tail -n 40 >&2
    done
}

# Stops the host, then checks what the daemon left in its log: it must have
# ended on SIGTERM (lab/host says when it had to use SIGKILL), and in a
# sanitizer build it must have made no AddressSanitizer, LeakSanitizer or
# UBSan report. Then purges the state dir.
it_stop_host() {
    local out ok=0 log=$IT_STATE/log/virt-lanesd.log dpid
    # A test may have stopped the daemon (SIGSTOP): let it see the SIGTERM.
    dpid=$(it_daemon_pid || true)
    [ -z "$dpid" ] || kill -CONT "$dpid" 2>/dev/null || true
    out=$(it_time "host-stop" "$IT_LAB_HOST" stop --state-dir "$IT_STATE" 2>&1) || {
        it_log "FAIL: lab/host stop failed"
        ok=1
    }
    [ -z "$out" ] || printf '%s\n' "$out" >&2
    if grep -q 'virt-lanesd (pid [0-9]*) ignored SIGTERM' <<<"$out"; then
        it_log "FAIL: the daemon ignored SIGTERM"
        ok=1
    fi
    if [ -f "$log" ] && grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
        it_log "FAIL: sanitizer report in the daemon's log:"
        grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | head -n 80 >&2
        ok=1
    fi
    "$IT_LAB_HOST" stop --state-dir "$IT_STATE" --purge >&2 || {
        it_log "FAIL: lab/host stop --purge failed"
        ok=1
    }
    return "$ok"
}

it_cleanup() {
    local rc=$? left e pid
    trap - EXIT INT TERM
    set +e
    if [ -n "$IT_STATE" ] && [ -f "$IT_STATE/host.env" ]; then
        it_track_host
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
            it_dump_logs
        fi
        it_stop_host || rc=1
    fi
    left=$(it_alive_pids)
    if [ -n "$left" ]; then
        it_log "FAIL: still alive after the host was stopped: $(echo "$left" | tr '\n' ' ')"
        # Ours by pid and start time: end them so nothing outlives the test.
        for e in "${IT_PIDS[@]}"; do
            pid=${e%%:*}
            if vl_pid_alive "$pid" && [ "$(it_pid_starttime "$pid")" = "$(cut -d: -f2 <<<"$e")" ]; then
                kill -KILL "$pid" 2>/dev/null
            fi
        done
        rc=1
    elif [ "${#IT_PIDS[@]}" -gt 0 ]; then
        it_log "none of the ${#IT_PIDS[@]} processes the test started is alive"
    fi
    if [ -n "$IT_TMP" ] && [ -d "$IT_TMP" ]; then
        # Never delete through a mount that leaked out of the host.
        if awk -v d="$IT_TMP/" 'index($5, d) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
            it_log "FAIL: something is still mounted under '$IT_TMP'; left in place"
            rc=1
        else
            rm -rf "$IT_TMP"
        fi
    fi
    it_log "TIME test-total $(awk -v s="$IT_T0" -v e="$(date +%s%N)" 'BEGIN { printf "%.2f", (e - s) / 1e9 }')s (exit $rc)"
    exit "$rc"
}

# --- waiting -------------------------------------------------------------------

# it_wait_until TIMEOUT_S DESCRIPTION CMD... -> polls CMD every 0.2 s until it
# succeeds; fails the test once TIMEOUT_S have passed.
it_wait_until() {
    local timeout=$1 desc=$2 deadline
    shift 2
    deadline=$(($(it_ms_now) + timeout * 1000))
    while ! "$@"; do
        if [ "$(it_ms_now)" -ge "$deadline" ]; then
            it_fail "Timed out after ${timeout}s waiting for: $desc"
        fi
        sleep 0.2
    done
}

it_pid_gone() {
    ! vl_pid_alive "$1"
}

# --- the host ----------------------------------------------------------------

it_in_host() {
    "$IT_LAB_HOST" exec --state-dir "$IT_STATE" -- "$@"
}

# virsh inside the host; arguments go through as argv, never a shell string.
it_virsh() {
    it_in_host timeout 60 virsh -q -c qemu:///system "$@"
}

# The virt-lanes CLI inside the host, on the daemon's socket.
it_vl() {
    it_in_host timeout 30 "$IT_CLI" --socket "$IT_SOCKET" "$@"
}

it_libvirtd_pid() {
    tr -dc '0-9' <"$IT_STATE/pids/libvirtd"
}

it_daemon_pid() {
    [ -r "$IT_STATE/pids/virt-lanesd" ] && tr -dc '0-9' <"$IT_STATE/pids/virt-lanesd"
}

# libvirtd probes QEMU's capabilities at its first start (8-11 s here under
# load), then keeps them in /var/cache/libvirt/qemu/capabilities, checked
# against QEMU's and libvirtd's ctime, the kernel and the CPU at every
# start. The tests keep one copy in the build dir and seed each fresh host
# with it: libvirtd re-probes by itself when the copy no longer fits.
# VL_IT_CAPS_CACHE=0 turns this off (to measure a cold start).
IT_CAPS_CACHE=$VL_BUILDDIR/tests/integration/qemu-capabilities
IT_HOST_CAPS=/var/cache/libvirt/qemu/capabilities

it_caps_seed() {
    [ "${VL_IT_CAPS_CACHE:-1}" != 0 ] || return 0
    compgen -G "$IT_CAPS_CACHE/*.xml" >/dev/null || return 0
    mkdir -p "$IT_STATE/fs$IT_HOST_CAPS"
    cp "$IT_CAPS_CACHE"/*.xml "$IT_STATE/fs$IT_HOST_CAPS/"
    it_log "seeded QEMU capabilities from '$IT_CAPS_CACHE'"
}

# Keeps what this host's libvirtd has in its cache when the build dir has
# nothing yet or something else (libvirtd re-probed: QEMU or libvirt changed).
it_caps_save() {
    local tmp
    [ "${VL_IT_CAPS_CACHE:-1}" != 0 ] || return 0
    compgen -G "$IT_STATE/fs$IT_HOST_CAPS/*.xml" >/dev/null || return 0
    if diff -rq "$IT_STATE/fs$IT_HOST_CAPS" "$IT_CAPS_CACHE" >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p "$(dirname "$IT_CAPS_CACHE")"
    tmp=$(mktemp -d "$IT_CAPS_CACHE.XXXXXX")
    cp "$IT_STATE/fs$IT_HOST_CAPS"/*.xml "$tmp/"
    rm -rf "$IT_CAPS_CACHE"
    mv -T "$tmp" "$IT_CAPS_CACHE" 2>/dev/null || rm -rf "$tmp"
    it_log "saved QEMU capabilities to '$IT_CAPS_CACHE'"
}

# True once libvirtd has loaded its QEMU driver (probed QEMU's capabilities),
# which is what the first define waits for.
it_libvirtd_ready() {
    it_virsh capabilities >/dev/null 2>&1
}

# it_host_start [--no-daemon] [--hook FILE]
# Starts the host with the built hook (or FILE) and, unless --no-daemon, the
# built daemon; waits until libvirtd is ready and the daemon is connected.
it_host_start() {
    local hook=$IT_HOOK daemon=1 args t0
    while [ $# -gt 0 ]; do
        case $1 in
        --no-daemon) daemon=0; shift ;;
        --hook) hook=$2; shift 2 ;;
        *) it_fail "it_host_start: unknown option '$1'" ;;
        esac
    done
    args=(start "vl-it-$$" --state-dir "$IT_STATE" --hook "$hook")
    if [ "$daemon" -eq 1 ]; then
        args+=(--daemon "$IT_DAEMON"
            --daemon-args "--uri qemu:///system --socket $IT_SOCKET --verbose")
    fi
    it_caps_seed
    t0=$(it_ms_now)
    it_time "lab-host-start" "$IT_LAB_HOST" "${args[@]}" >&2 || {
        it_track_host
        it_fail "lab/host start failed"
    }
    it_track_host
    it_wait_until 120 "libvirtd to load its QEMU driver" it_libvirtd_ready
    it_log "TIME libvirtd-ready $(awk -v d="$(($(it_ms_now) - t0))" 'BEGIN { printf "%.2f", d / 1000 }')s (from lab/host start to 'virsh capabilities' answering)"
    it_caps_save
    if [ "$daemon" -eq 1 ]; then
        it_wait_until 60 "the daemon to answer and be connected to libvirtd" it_daemon_connected
        it_track_host
    fi
}

# --- the daemon's status ---------------------------------------------------------

# Prints the daemon's status JSON; fails (status 1) unless it is valid JSON
# with "ok": true.
it_status() {
    local out
    out=$(it_vl status --json 2>/dev/null) || return 1
    jq -e '.ok == true' >/dev/null 2>&1 <<<"$out" || return 1
    printf '%s\n' "$out"
}

# it_status_jq FILTER [JQ ARGS...] -> jq -e FILTER on a fresh status.
it_status_jq() {
    local filter=$1 out
    shift
    out=$(it_status) || return 1
    jq -e "$@" "$filter" <<<"$out" >/dev/null
}

it_daemon_connected() {
    it_status_jq '.connection.connected == true'
}

it_daemon_disconnected() {
    it_status_jq '.connection.connected == false'
}

# it_domain_events NAME -> the domain's events, one "SOURCE<TAB>EVENT" line each.
it_domain_events() {
    local out
    out=$(it_status) || return 1
    jq -r --arg n "$1" '.domains[] | select(.name == $n) | .events[] | [.source, .event] | @tsv' <<<"$out"
}

# it_has_event NAME SOURCE EVENT -> true once the daemon lists that event.
it_has_event() {
    it_status_jq '[.domains[] | select(.name == $n) | .events[]
                   | select(.source == $s and .event == $e)] | length > 0' \
        --arg n "$1" --arg s "$2" --arg e "$3"
}

# it_count_events NAME SOURCE -> how many events from SOURCE the domain has.
it_count_events() {
    local out
    out=$(it_status) || return 1
    jq -r --arg n "$1" --arg s "$2" \
        '[.domains[] | select(.name == $n) | .events[] | select(.source == $s)] | length' <<<"$out"
}

# --- domains -------------------------------------------------------------------

# it_xml_escape STRING -> STRING for XML text and attribute values. The '&'
# in each replacement is quoted: bash 5.2 (patsub_replacement) would
# otherwise put the matched text in its place.
it_xml_escape() {
    local s=$1
    s=${s//'&'/'&amp;'}
    s=${s//'<'/'&lt;'}
    s=${s//'>'/'&gt;'}
    s=${s//'"'/'&quot;'}
    s=${s//"'"/'&apos;'}
    printf '%s' "$s"
}

# --- a recording hook ---------------------------------------------------------

# it_hook_wrapper CALLS_FILE -> prints a hook script that runs the built hook
# as libvirtd would (same argv, stdin and environment), appends one line per
# call to CALLS_FILE (name, op, subop, exit status, stdout bytes, stderr
# bytes, milliseconds; tab-separated) and passes the hook's output and exit
# status on unchanged. Creates CALLS_FILE empty. Install the script with
# it_host_start --hook.
it_hook_wrapper() {
    : >"$1"
    echo '#!/bin/bash'
    echo '# SPDX-License-Identifier: LGPL-2.1-or-later'
    echo '# Written by tests/integration/lib.sh (it_hook_wrapper).'
    printf 'real=%q\n' "$IT_HOOK"
    printf 'calls=%q\n' "$1"
    printf 'dir=%q\n' "$(dirname "$1")"
    cat <<'EOF'
out=$(mktemp "$dir/hook-out.XXXXXX")
err=$(mktemp "$dir/hook-err.XXXXXX")
t0=$(date +%s%N)
rc=0
"$real" "$@" >"$out" 2>"$err" || rc=$?
t1=$(date +%s%N)
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$rc" \
    "$(stat -c %s "$out")" "$(stat -c %s "$err")" "$(((t1 - t0) / 1000000))" >>"$calls"
cat "$out"
cat "$err" >&2
rm -f "$out" "$err"
exit "$rc"
EOF
}

# it_check_hook_calls LABEL NAME MAX_MS CALLS_FILE SKIP -> the calls after the
# first SKIP lines of CALLS_FILE must be exactly one start and destroy of
# NAME (IT_HOOK_START_STOP), each with exit status 0, nothing on stdout (on
# migrate and restore libvirtd would take it as replacement XML) and
# faster than MAX_MS.
it_check_hook_calls() {
    local label=$1 dom=$2 max=$3 lines expected e name op subop rc nout nerr ms
    lines=$(tail -n +"$(($5 + 1))" "$4")
    it_log "hook calls ($label): name op subop exit stdout-bytes stderr-bytes ms"
    while IFS= read -r e; do
        printf '  %s\n' "${e//$'\t'/ }"
    done <<<"$lines" >&2
    expected=$(for e in "${IT_HOOK_START_STOP[@]}"; do
        printf '%s\t%s\t%s\n' "$dom" "${e% *}" "${e#* }"
    done)
    it_assert_eq "hook calls ($label)" "$expected" "$(cut -f1-3 <<<"$lines")"
    while IFS=$'\t' read -r name op subop rc nout nerr ms; do
        it_assert_eq "exit status of hook '$op $subop' ($label)" 0 "$rc"
        it_assert_eq "stdout bytes of hook '$op $subop' ($label)" 0 "$nout"
        [ "$ms" -lt "$max" ] || it_fail "Hook '$op $subop' ($label) took $ms ms (limit $max)"
        [ "$nerr" -eq 0 ] || it_log "note: hook '$op $subop' ($label) wrote $nerr bytes to stderr"
        : "$name"
    done <<<"$lines"
}

# it_domain_xml NAME UUID SERIAL_LOG -> XML of a small diskless QEMU guest.
# TCG, since /dev/kvm on these machines cannot be relied on. SeaBIOS finds
# nothing to boot and, with rebootTimeout -1, waits forever instead of
# rebooting; no disk, no network, no USB, no balloon, no display.
it_domain_xml() {
    cat <<EOF
<domain type='qemu'>
  <name>$(it_xml_escape "$1")</name>
  <uuid>$2</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
    <bios rebootTimeout='-1'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='file'>
      <source path='$(it_xml_escape "$3")'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# it_define NAME -> defines the domain from an XML file (the name never goes
# through a shell string) and prints its UUID.
it_define() {
    local name=$1 uuid xml
    IT_NDOMAINS=$((IT_NDOMAINS + 1))
    uuid=$(cat /proc/sys/kernel/random/uuid)
    xml=$IT_TMP/domain-$IT_NDOMAINS.xml
    it_domain_xml "$name" "$uuid" "$IT_TMP/serial-$IT_NDOMAINS.log" >"$xml"
    it_virsh define "$xml" >/dev/null || it_fail "virsh define of '$name' failed"
    [ "$(it_virsh domuuid "$name")" = "$uuid" ] ||
        it_fail "libvirt does not know domain '$name' by its name"
    printf '%s\n' "$uuid"
}

# it_domstate NAME -> libvirt's state of the domain ("running", "shut off").
it_domstate() {
    it_virsh domstate "$1"
}

it_start_domain() {
    it_time "domain-start" it_virsh start "$1" >/dev/null || it_fail "virsh start '$1' failed"
    [ "$(it_domstate "$1")" = running ] || it_fail "Domain '$1' is not running after start"
    it_track_host
}

it_destroy_domain() {
    it_time "domain-destroy" it_virsh destroy "$1" >/dev/null || it_fail "virsh destroy '$1' failed"
    [ "$(it_domstate "$1")" = "shut off" ] || it_fail "Domain '$1' is not shut off after destroy"
}

# --- assertions -------------------------------------------------------------------

# it_assert_eq WHAT EXPECTED ACTUAL
it_assert_eq() {
    if [ "$2" != "$3" ]; then
        it_fail "$1: expected '$2', got '$3'"
    fi
}

# JSON snapshots: a status saved once and inspected several times, so that
# related assertions see the same moment.

# it_snapshot FILE -> saves a fresh status to FILE.
it_snapshot() {
    it_status >"$1" || it_fail "The daemon did not answer 'status --json'"
}

# it_event_index FILE NAME SOURCE EVENT -> 0-based position of the first such
# event in the domain's list, or -1.
it_event_index() {
    jq -r --arg n "$2" --arg s "$3" --arg e "$4" \
        '[.domains[] | select(.name == $n) | .events | to_entries[]
          | select(.value.source == $s and .value.event == $e) | .key] | first // -1' "$1"
}

# it_event_ms FILE NAME INDEX -> the event's time in ms since the epoch
# (times are "YYYY-MM-DDTHH:MM:SS.mmmZ").
it_event_ms() {
    jq -r --arg n "$2" --argjson i "$3" \
        '.domains[] | select(.name == $n) | .events[$i].time
         | capture("^(?<s>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})[.](?<ms>[0-9]{3})Z$")
         | ((.s + "Z") | fromdateiso8601) * 1000 + (.ms | tonumber)' "$1"
}

# it_check_event_records FILE NAME -> fails unless every event of the domain
# has a time in the fixed format, a known source and a non-empty event, and
# times never go backwards.
it_check_event_records() {
    jq -e --arg n "$2" '
        [.domains[] | select(.name == $n)] | length == 1 and
        (.[0].events | length > 0) and
        (.[0].events | all(
            (.time | type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$")) and
            (.source | IN("hook", "libvirt", "qemu")) and
            (.event | type == "string" and length > 0))) and
        ([.[0].events[].time] as $t | $t == ($t | sort))' "$1" >/dev/null ||
        it_fail "Malformed or out-of-order event records for '$2': $(jq -c --arg n "$2" '.domains[] | select(.name == $n)' "$1")"
}

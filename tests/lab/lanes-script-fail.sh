#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A lane whose lane-up fails: the source's daemon runs a script directory
# whose lane-up refuses lane2. virt-lanes migrate names lane2 and the
# script's error, migrates over the base path and lane1 (4 channels),
# lane2 carries nothing, the guest verifies and no lane is left.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR source=lanes-lib.sh
. "$(dirname "$0")/lanes-lib.sh"

t_need_lab
ll_need_build
t_need_guest
t_lab_up --links 3 --virt-lanes "$T_BUILDDIR"
ll_setup

# The daemon refuses script directories others can write to: a fresh
# 0700 directory of root's, with the real scripts and a lane-up wrapper.
scripts=$(mktemp -d "$VL_LAB_DIR/test-scripts.XXXXXX")
cp -p "$LL_SRC/qemu-scripts/lane-up" "$scripts/lane-up.real"
cp -p "$LL_SRC/qemu-scripts/lane-down" "$LL_SRC/qemu-scripts/lane-steer" "$scripts/"
cat >"$scripts/lane-up" <<WRAP
#!/bin/sh
for a in "\$@"; do
    case \$a in
    lane2 | --interface=lane2)
        echo "lane-up: refusing lane2 for the test" >&2
        exit 1
        ;;
    esac
done
exec "$scripts/lane-up.real" "\$@"
WRAP
chmod 0755 "$scripts/lane-up"
ll_daemon_stop a
ll_daemon_start a "$scripts"

dom="lab lanes script fail"
"$LAB/boot" "$dom" --on a --mem 512 --working-set 256 --dirty 5 >&2 || t_fail "lab/boot failed"
console=$(ll_console a "$dom")
out=$VL_LAB_DIR/migrate.out
tx0=$(ll_tx a)
rc=0
ll_migrate a b "$dom" "$out" --threshold 8 || rc=$?
off=$(stat -c %s "$console")
tx1=$(ll_tx a)
t_log "output: $(grep -v '"progress"' "$out")"
t_log "stderr: $(cat "$out.err")"
[ "$rc" -eq 0 ] || t_fail "virt-lanes migrate exited $rc"

lanes=$(ll_event "$out" lanes)
summary=$(ll_event "$out" summary)
jq -e '.up == ["lane1"] and .failed[0].interface == "lane2" and
       (.failed[0].error | test("refusing lane2 for the test")) and .links == 2 and .channels == 4' \
    >/dev/null <<<"$lanes" || t_fail "lanes: $lanes"
grep -q "warning: Lane 'lane2' did not come up: Script 'lane-up' for 'lane2' failed with exit code 1: lane-up: refusing lane2 for the test" \
    "$out.err" || t_fail "no clear error for lane2 on stderr"
jq -e '.outcome == "completed" and .links == 2 and .channels == 4' >/dev/null <<<"$summary" ||
    t_fail "summary: $summary"

bytes=$(jq -n -c --argjson a "$tx0" --argjson b "$tx1" \
    '[range(0; 3) | "lane\(.)" as $k | $b[$k] - $a[$k]]')
t_log "bytes per lane on a: $bytes"
jq -e '.[0] > 100 * 1048576 and .[1] > 100 * 1048576 and .[2] < 1048576' >/dev/null <<<"$bytes" ||
    t_fail "not spread over lane0 and lane1 alone: $bytes"

ll_verify_guest "$dom" b "$console" "$off" "lane2 failing"
ll_expect_clean a "lane2 failing"
ll_expect_clean b "lane2 failing"
t_log "PASS"

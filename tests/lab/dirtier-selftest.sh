#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The guest's verifier catches what it exists to catch: run the dirtier
# outside a guest, clean (VERIFY OK, paced rate) and with one injected bit
# flip (CORRUPT, VERIFY FAILED, non-zero exit).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

command -v gcc >/dev/null || t_skip "needs gcc"
bin=$(mktemp "${TMPDIR:-/tmp}/vl-dirtier.XXXXXX")
trap 'rm -f "$bin"' EXIT
gcc -static -O2 -Wall -Wextra -Werror -o "$bin" "$LAB/guest/dirtier.c" 2>&1 ||
    gcc -O2 -Wall -Wextra -Werror -o "$bin" "$LAB/guest/dirtier.c" || t_fail "dirtier does not build warning-free"

out=$("$bin" vl.ws=32 vl.dirty=16 vl.verify=1 vl.status=1 vl.seconds=3) || t_fail "clean run failed: $out"
grep -q '^READY ws=32MiB dirty=16MiB/s' <<<"$out" || t_fail "no READY line"
[ "$(grep -c '^VERIFY OK' <<<"$out")" -ge 2 ] || t_fail "fewer than 2 VERIFY OK in 3 s"
grep -q '^CORRUPT' <<<"$out" && t_fail "clean run reported corruption"
rate=$(sed -n 's/^STATUS .*dirty_mibs=\([0-9.]*\).*/\1/p' <<<"$out" | tail -n 1)
awk -v r="$rate" 'BEGIN { exit !(r > 14 && r < 18) }' || t_fail "dirty rate $rate, wanted ~16 MiB/s"

if out=$("$bin" vl.ws=8 vl.verify=1 vl.status=10 vl.seconds=3 vl.inject=1); then
    t_fail "run with an injected bit flip exited 0"
fi
grep -q '^CORRUPT page=1024 ' <<<"$out" || t_fail "injected corruption not reported: $out"
grep -q '^VERIFY FAILED' <<<"$out" || t_fail "no VERIFY FAILED line"
t_log "PASS"

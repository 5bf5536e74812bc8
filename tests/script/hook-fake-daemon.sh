# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# virt-lanes-hook against daemons that misbehave: exit 0 within the
# bound (timeout(1) in run_hook fails a hang), nothing on stdout.

. "$(dirname "$0")/lib.sh"

write_domain_xml >"$TMP/domain.xml"

for mode in garbage silent hangup error; do
    start_fake "$mode" || continue
    run_hook web migrate begin - <"$TMP/domain.xml"
    expect_quiet_success "daemon mode '$mode'"
    grep -q "virt-lanes-hook" "$TMP/err" || fail "$mode: nothing recorded"
    if grep -q "s3cr3t" "$TMP/err"; then
        fail "$mode: the XML reached the log"
    fi
    stop_fake
done

# A daemon that answers "continue" for every op.
start_fake continue
for op in prepare start started stopped release migrate restore reconnect attach; do
    run_hook web "$op" begin - <"$TMP/domain.xml"
    expect_quiet_success "continue on '$op'"
done
stop_fake

finish

# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# A "refuse" verdict stops only the operations libvirtd lets a hook stop.

. "$(dirname "$0")/lib.sh"

write_domain_xml >"$TMP/domain.xml"
start_fake refuse --reason "No free lanes for 'web'"

for op in prepare start started migrate restore; do
    run_hook web "$op" begin - <"$TMP/domain.xml"
    if [ "$CODE" -ne 1 ]; then
        fail "refuse on '$op': exit $CODE, expected 1"
    fi
    if [ -s "$TMP/out" ]; then
        fail "refuse on '$op': wrote to stdout"
    fi
    grep -q "^virt-lanes: No free lanes for 'web'$" "$TMP/err" ||
        fail "refuse on '$op': reason not on stderr"
done

for op in stopped release reconnect attach; do
    run_hook web "$op" end - <"$TMP/domain.xml"
    expect_quiet_success "refuse on '$op' (libvirtd cannot stop it)"
done

finish

# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# virt-lanes-hook with no daemon and with bad argv or stdin: always exit
# 0 within its bound and print nothing on stdout.

. "$(dirname "$0")/lib.sh"

write_domain_xml >"$TMP/domain.xml"

run_hook web prepare begin - <"$TMP/domain.xml"
expect_quiet_success "no daemon"
grep -q "not consulted" "$TMP/err" || fail "no daemon: nothing recorded"
if grep -q "s3cr3t" "$TMP/err"; then
    fail "no daemon: the XML reached the log"
fi

run_hook <"$TMP/domain.xml"
expect_quiet_success "no arguments"
grep -q "Ignoring call" "$TMP/err" || fail "no arguments: nothing recorded"

run_hook web prepare begin <"$TMP/domain.xml"
expect_quiet_success "three arguments"
run_hook web prepare begin - extra <"$TMP/domain.xml"
expect_quiet_success "five arguments"
run_hook "" prepare begin - <"$TMP/domain.xml"
expect_quiet_success "empty name"
run_hook web "" begin - <"$TMP/domain.xml"
expect_quiet_success "empty op"
run_hook web bogus begin - <"$TMP/domain.xml"
expect_quiet_success "unknown op"
run_hook web "$(printf 'pr\377pare')" begin - <"$TMP/domain.xml"
expect_quiet_success "op not UTF-8"
run_hook web "prepare;reboot" begin - <"$TMP/domain.xml"
expect_quiet_success "op with ';'"
run_hook web prepare sideways - <"$TMP/domain.xml"
expect_quiet_success "unknown subop"

# stdin closed, empty, and bigger than the hook keeps.
run_hook web start begin - <&-
expect_quiet_success "stdin closed"
run_hook web start begin - </dev/null
expect_quiet_success "stdin empty"

# The writer must be able to finish: the hook drains past its 1 MiB.
{
    if head -c 5242880 /dev/zero | tr '\0' 'x'; then
        : >"$TMP/writer-done"
    fi
} | run_hook web start begin -
expect_quiet_success "5 MiB on stdin"
[ -e "$TMP/writer-done" ] || fail "5 MiB on stdin: the writer did not finish"

# A writer that never closes stdin: the hook stops reading on its own.
mkfifo "$TMP/fifo"
exec 3<>"$TMP/fifo"
printf '<domain>' >&3
run_hook web start begin - <"$TMP/fifo"
expect_quiet_success "stdin never closed"
exec 3>&-

finish

# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# What virt-lanes-hook sends: the fixture daemon decodes each request
# with vl_hook_event_from_json() and records its fields, byte for byte.

. "$(dirname "$0")/lib.sh"

REC=$TMP/rec

write_domain_xml >"$TMP/domain.xml"
start_fake continue --record "$REC"

# check_field FIELD EXPECTED-BYTES WHAT
check_field() {
    printf '%s' "$2" >"$TMP/expected"
    if ! cmp -s "$TMP/expected" "$REC.$1"; then
        fail "$3: '$1' recorded wrong"
    fi
}

# send NAME OP SUBOP: one call with the domain XML on stdin.
send() {
    rm -f "$REC".*
    run_hook "$1" "$2" "$3" - <"$TMP/domain.xml"
    expect_quiet_success "record '$2 $3'"
    if [ -e "$REC.invalid" ]; then
        fail "invalid request: $(cat "$REC.invalid")"
    fi
}

send web-1 migrate begin
check_field domain "web-1" "plain name"
check_field op migrate "plain name"
check_field subop begin "plain name"
check_field extra - "plain name"
cmp -s "$TMP/domain.xml" "$REC.xml" || fail "the XML is not forwarded intact"
size=$(wc -c <"$TMP/domain.xml" | tr -d ' ')
grep -qx "xml_size=$size" "$REC.meta" || fail "xml_size is not $size"
grep -qx "xml_truncated=0" "$REC.meta" || fail "small XML marked truncated"
grep -qx "name_mangled=0" "$REC.meta" || fail "plain name marked mangled"

# A name that would create $TMP/pwned if anything ran it through a shell.
# shellcheck disable=SC2016 # literal on purpose
pwn='$(touch '"$TMP"'/pwned)'
for name in "web 1" "it's \"quoted\"" "a;reboot;b" "$(printf 'line1\nline2')" \
            "$pwn" "$(printf 'tab\there')" "-"; do
    send "$name" stopped end
    check_field domain "$name" "name '$name'"
    grep -qx "name_mangled=0" "$REC.meta" || fail "'$name' marked mangled"
done
if [ -e "$TMP/pwned" ]; then
    fail "a name was run through a shell"
fi

# Bytes that are not UTF-8 become U+FFFD and are flagged.
send "$(printf 'bad\377name')" prepare begin
check_field domain "$(printf 'bad\357\277\275name')" "non-UTF-8 name"
grep -qx "name_mangled=1" "$REC.meta" || fail "non-UTF-8 name not flagged"

# 2 MiB of XML: the first 1 MiB is forwarded and the size is exact.
head -c 2097152 /dev/zero | tr '\0' 'x' >"$TMP/big.xml"
rm -f "$REC".*
run_hook web start begin - <"$TMP/big.xml"
expect_quiet_success "2 MiB XML"
grep -qx "xml_size=2097152" "$REC.meta" || fail "2 MiB XML: wrong xml_size"
grep -qx "xml_truncated=1" "$REC.meta" || fail "2 MiB XML: not marked truncated"
kept=$(wc -c <"$REC.xml" | tr -d ' ')
[ "$kept" -eq 1048576 ] || fail "2 MiB XML: kept $kept bytes, expected 1048576"

finish

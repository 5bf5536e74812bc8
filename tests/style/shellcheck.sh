# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# Runs shellcheck over the shipped and test shell scripts: qemu-scripts/*,
# lab/* (those that are shell scripts) and tests/**/*.sh.  Skips (77)
# when shellcheck is not installed.
#
# Usage: sh shellcheck.sh SRCDIR

set -u
src=$1

if ! command -v shellcheck >/dev/null 2>&1; then
    echo "shellcheck not installed: skipping"
    exit 77
fi

list=$(mktemp)
trap 'rm -f "$list"' EXIT

is_shell() {
    case $1 in
        *.sh) return 0 ;;
    esac
    head -n 1 "$1" | grep -Eq '^#!.*(/|env )(ba|da|k)?sh([[:space:]]|$)'
}

for dir in "$src/qemu-scripts" "$src/lab"; do
    [ -d "$dir" ] || continue
    find "$dir" -type f ! -name meson.build | sort | while IFS= read -r f; do
        if is_shell "$f"; then
            printf '%s\n' "$f"
        fi
    done >>"$list"
done
find "$src/tests" -type f -name '*.sh' | sort >>"$list"

if [ ! -s "$list" ]; then
    echo "FAIL: no shell scripts found under $src"
    exit 1
fi

status=0
while IFS= read -r f; do
    if ! shellcheck -x --source-path=SCRIPTDIR "$f"; then
        status=1
    fi
done <"$list"
echo "checked $(wc -l <"$list") script(s)"
exit $status

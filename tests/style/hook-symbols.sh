# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# virt-lanes-hook must never load libvirt: libvirtd waits on the hook,
# and a hook that calls back into libvirt deadlocks it.  Checks the
# built binary: no vir* symbol, defined or undefined, and no libvirt
# among the libraries it loads.
#
# Usage: sh hook-symbols.sh HOOK

set -u
hook=$1

for tool in nm ldd; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool not installed: skipping"
        exit 77
    fi
done

dynamic=$(nm -D "$hook") || { echo "FAIL: nm -D $hook failed"; exit 1; }
# A sanity check, so an empty listing cannot pass: the hook uses GLib.
if ! printf '%s\n' "$dynamic" | grep -q ' U g_malloc'; then
    echo "FAIL: nm -D shows no dynamic symbols; cannot check $hook"
    exit 1
fi
# The static symbol table is gone in a stripped binary; that is fine,
# the dynamic table is where libvirt would appear.
static=$(nm "$hook" 2>/dev/null || true)

bad=$(printf '%s\n%s\n' "$dynamic" "$static" | awk '{ print $NF }' |
      grep -E '^_*vir' | sort -u)
if [ -n "$bad" ]; then
    echo "FAIL: virt-lanes-hook has libvirt symbols:"
    printf '%s\n' "$bad"
    exit 1
fi

libs=$(ldd "$hook") || { echo "FAIL: ldd $hook failed"; exit 1; }
if printf '%s\n' "$libs" | grep -qi 'libvirt'; then
    echo "FAIL: virt-lanes-hook loads libvirt:"
    printf '%s\n' "$libs" | grep -i 'libvirt'
    exit 1
fi
echo "virt-lanes-hook loads:"
printf '%s\n' "$libs"
exit 0

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# fetch-busybox.sh - a dynamically linked busybox for the shim tests.
#
# Debian's /bin/busybox is busybox-static (the VM harness needs it for its
# initramfs), and `handoff run` rightly refuses static programs.  Debian's
# `busybox` package is the dynamic build, but installing it would remove
# busybox-static; so it is only downloaded (host apt, no install) and
# unpacked into the VM cache, which the guest reads through the host root:
#
#   ${HANDOFF_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-vm}/busybox/root/bin/busybox
#
# Run it on the host before the VM boots (the guest has no network).
# Idempotent: once unpacked it only prints the path.  Prints the binary's
# path on stdout (export it as HANDOFF_BUSYBOX for the guest: tests/shim
# looks there first); exits non-zero when it cannot be had.
set -euo pipefail

cache=${HANDOFF_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-vm}/busybox
bin=$cache/root/bin/busybox

if [[ -x $bin ]] && file -L "$bin" 2>/dev/null | grep -q "dynamically linked"; then
	echo "$bin"
	exit 0
fi
mkdir -p "$cache/deb"
cd "$cache/deb"
rm -f ./*.deb
opts=()
# apt's download sandbox user (_apt) cannot write into a cache under /root.
[[ $EUID -eq 0 ]] && opts+=(-o APT::Sandbox::User=root)
if ! apt-get "${opts[@]}" -qq download busybox >&2; then
	echo "fetch-busybox.sh: 'apt-get download busybox' failed (try 'apt-get update')" >&2
	exit 1
fi
deb=$(ls ./busybox_*.deb | head -n1)
rm -rf "$cache/root.new"
dpkg-deb -x "$deb" "$cache/root.new"
[[ -x $cache/root.new/bin/busybox ]] || { echo "fetch-busybox.sh: no bin/busybox in $deb" >&2; exit 1; }
rm -rf "$cache/root"
mv "$cache/root.new" "$cache/root"
sha256sum "$deb" >"$cache/deb.sha256"
echo "$bin"

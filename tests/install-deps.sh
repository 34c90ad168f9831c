#!/bin/bash
# Installs what building, testing and the demo need on Debian 12.
# Idempotent: does nothing when everything is there already.
set -euo pipefail

pkgs=(
	# build
	gcc make autoconf automake libtool pkg-config
	libgnutls28-dev nettle-dev libmnl-dev check linux-libc-dev
	# handoffd: config files, kernel keyrings
	libinih-dev libkeyutils-dev keyutils libcap-ng-dev
	# real TLS peers for the interop tests and the demo
	gnutls-bin openssl curl ca-certificates python3 valgrind
	# the VM that carries a kernel with kTLS (tests/vm)
	qemu-system-x86 kmod busybox-static xz-utils iproute2 cpio
	# the benchmark (tests/bench): a peer to compare with, and its plot
	stunnel4 gnuplot-nox
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

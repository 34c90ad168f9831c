#!/bin/bash
# demo.sh - handoff's main job, end to end, on a fresh Debian 12 machine.
#
# Installs what it needs, builds handoff, makes throw-away certificates,
# shows what this machine's kernel can do, then boots a real Linux 6.12
# kernel (qemu) and in it runs a TLS server and clients whose record crypto
# the kernel does: our client, curl and openssl against `handoff serve`.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$top"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing build and test dependencies (apt)"
bash tests/install-deps.sh

say "Building handoff"
if [[ ! -x configure ]]; then autoreconf -fi >/dev/null; fi
if [[ ! -f Makefile ]]; then ./configure --enable-werror >/dev/null; fi
make -j"$(nproc)" >/dev/null
make tests/pki/out/stamp >/dev/null
echo "built ./handoff and libhandoff; throw-away PKI in tests/pki/out"

say "This machine's kernel ('handoff check')"
./handoff check || true
echo
echo "Without kTLS, handoff fails closed rather than sending anything in the clear:"
./handoff connect --ca-file tests/pki/out/ca.pem 127.0.0.1:9 2>&1 | sed 's/^/  /' || true

say "Booting Debian's Linux 6.12 in qemu (first run downloads it, ~110 MB)"
tests/vm/fetch-kernel.sh 6.12
HANDOFF_PKI=$top/tests/pki/out HANDOFF_CLI=$top/handoff \
	tests/vm/run.sh --kernel 6.12 --timeout 300 -- helper/demo/in-vm.sh

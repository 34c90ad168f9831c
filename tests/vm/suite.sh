#!/bin/bash
# suite.sh - the project's own tests on real kernels.
#
# Runs every unit test and interop test that `make check` runs on the host,
# plus the kTLS data-path tests (tests/ktls) and the kernel upcall tests
# served by handoffd (tests/upcall), inside each kernel of the
# matrix, with HANDOFF_TEST_KTLS=1 so that they demand the kernel's record
# layer instead of skipping or falling back.  Run it from the build tree
# after `make check` (or use `make check-vm`, which does both).
#
#   tests/vm/suite.sh [--kernel ID|all] [TEST...]
#
# With TESTs, only those run (paths relative to the build tree).
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
builddir=$(pwd -P)
kernel=${HANDOFF_VM_KERNELS:-all}
if [[ ${1:-} == --kernel ]]; then
	kernel=${2:?--kernel needs an id}
	shift 2
fi

if [[ ! -x $builddir/handoff || ! -f $builddir/tests/pki/out/stamp ]]; then
	echo "suite.sh: run from a build tree after 'make check' (no ./handoff or test PKI here)" >&2
	exit 2
fi

tests=("$@")
if [[ ${#tests[@]} -eq 0 ]]; then
	for t in tests/unit/check_* tests/ktls/ktls_* tests/soak/soak; do
		[[ -f $t && -x $t && $t != *.* ]] && tests+=("$t")
	done
	for t in "$srcdir"/tests/interop/*.sh; do
		[[ $(basename "$t") == lib.sh ]] || tests+=("$t")
	done
	# The kernel's own TLS consumers calling handoffd (NFS over TLS).
	for t in "$srcdir"/tests/upcall/*.sh; do
		tests+=("$t")
	done
	# Many handshakes, then fds and memory back where they were (tests/soak).
	for t in "$srcdir"/tests/soak/*.sh; do
		tests+=("$t")
	done
	# Real programs under the shim (libshim).
	for t in "$srcdir"/tests/shim/*.sh; do
		case $(basename "$t") in lib.sh | fetch-busybox.sh) ;; *) tests+=("$t") ;; esac
	done
fi

# The shim tests run busybox httpd and wget, which needs the dynamic build
# (the guest has no network: fetched here, on the host, into the VM cache).
if bb=$("$srcdir/tests/shim/fetch-busybox.sh" 2>/dev/null); then
	export HANDOFF_BUSYBOX=$bb
else
	echo "suite.sh: no dynamic busybox (tests/shim/fetch-busybox.sh failed): its shim tests will fail" >&2
fi

export HANDOFF_PKI=$builddir/tests/pki/out
export HANDOFF_CLI=$builddir/handoff
export HANDOFF_BUILDDIR=$builddir
# The guest sees the build tree read-only; test files go to its tmpfs.
export HANDOFF_TEST_WORKDIR=/tmp/handoff-work

# One boot per kernel for everything: the NFS and NVMe modules and the NFS
# state for tests/upcall are there for every test (loading them costs about
# a second; a second boot would cost the whole boot again).
exec "$srcdir/tests/vm/run.sh" --kernel "$kernel" --timeout "${HANDOFF_VM_TIMEOUT:-600}" \
	--modules "sunrpc nfsd nfs nfsv4 nvme_keyring nvme_fabrics nvme_tcp nvmet nvmet_tcp" \
	--tmpfs "/var/lib/nfs /srv /mnt" -- "${tests[@]}"

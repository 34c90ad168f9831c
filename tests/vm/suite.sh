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

# HANDOFF_VM_ONCE=1 (tests/run-all.sh, which runs 6.12 from the sanitizer
# build and 7.x from the plain one): a script whose header says
# "# vm-once: asan" or "# vm-once: plain" runs only in the pass of that
# build, and "# vm-once: host" in neither (the host suite runs it, plain
# and under ASan).  Such a script tests user-space logic that no kernel
# difference reaches, or has its kernel side covered by another test, so
# a second kernel would repeat it; its header says why.  By hand every
# test runs in every kernel.
if [[ ${HANDOFF_VM_ONCE:-0} == 1 && ${#tests[@]} -gt 0 ]]; then
	grep -q '^#define HANDOFF_ASAN_RUNTIME' "$builddir/config.h" 2>/dev/null && build=asan || build=plain
	kept=()
	for t in "${tests[@]}"; do
		once=
		[[ $t == *.sh ]] && once=$(sed -n '1,60s/^# vm-once: \([a-z]*\).*/\1/p' "$t" | head -n1)
		if [[ $once == host ]]; then
			echo "suite.sh: ${t#"$srcdir"/} runs on the host only (vm-once: host)"
		elif [[ -n $once && $once != "$build" ]]; then
			echo "suite.sh: ${t#"$srcdir"/} runs once, in the $once build's pass (vm-once)"
		else
			kept+=("$t")
		fi
	done
	tests=("${kept[@]}")
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
exec "$srcdir/tests/vm/run.sh" --kernel "$kernel" --timeout "${HANDOFF_VM_TIMEOUT:-300}" \
	--modules "sunrpc nfsd nfs nfsv4 nvme_keyring nvme_fabrics nvme_tcp nvmet nvmet_tcp" \
	--tmpfs "/var/lib/nfs /srv /mnt" -- "${tests[@]}"

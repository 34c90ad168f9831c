#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# idle-shim.sh - user-space memory per idle TLS connection of a server under
# the shim, minus what the same program costs per plain connection.
#
# The program is tests/bench/idleecho (one thread, epoll, no state of its
# own per connection; HANDOFF_IDLE_PROG names another echo server taking a
# PORT argument, e.g. tests/shim/epoll_echo).  tests/bench/idlemem opens N connections to it, proves
# each one by an echoed byte (through TLS 1.3 under the shim), and reads
# the server's VmRSS and smaps_rollup before and after.  Also the library
# server of tests/bench/dpbench (idle-lib) for comparison.
#
# Needs kernel TLS: run in the VM from a built tree (after `make check`):
#   flock /work/vm.lock tests/vm/suite.sh --kernel 6.12 "$PWD/tests/bench/idle-shim.sh"
# HANDOFF_IDLE_N sets N (default 1000).  Prints lines "idle-shim: ..." and
# the result "idle-shim: shim_minus_plain_bytes_per_conn=X".
set -euo pipefail

B=${HANDOFF_BUILDDIR:-$(pwd -P)}
PKI=${HANDOFF_PKI:-$B/tests/pki/out}
N=${HANDOFF_IDLE_N:-1000}
EE=${HANDOFF_IDLE_PROG:-$B/tests/bench/idleecho}
IM=$B/tests/bench/idlemem
CLI=${HANDOFF_CLI:-$B/handoff}
export HANDOFF_PRELOAD=${HANDOFF_PRELOAD:-$B/.libs/libhandoff-preload.so}
WORK=${HANDOFF_TEST_WORKDIR:-${TMPDIR:-/tmp}}/idle-shim.$$
mkdir -p "$WORK"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

for f in "$EE" "$IM" "$CLI" "$HANDOFF_PRELOAD"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "idle-shim: missing $f (run make check first)" >&2; exit 2; }
done

listening() {
	local i
	for i in $(seq 1 300); do
		ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

kv() { # kv LINE KEY
	tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

# plain program, plain clients
"$EE" 7310 2>"$WORK/plain.err" &
pp=$!
listening 7310 || { echo "idle-shim: plain $(basename "$EE") did not listen" >&2; exit 1; }
plain=$("$IM" --pid "$pp" --port 7310 --n "$N")
kill "$pp"; wait "$pp" 2>/dev/null || true
echo "idle-shim: plain $(basename "$EE"): $plain"

# the same program under the shim, TLS 1.3 clients
"$CLI" run --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --accept "127.0.0.1:7311" \
	--log "$WORK/shim.log" -- "$EE" 7311 2>"$WORK/shim.err" &
sp=$!
listening 7311 || { echo "idle-shim: $(basename "$EE") under the shim did not listen" >&2; cat "$WORK/shim.log" >&2; exit 1; }
shim=$("$IM" --pid "$sp" --port 7311 --n "$N" --tls)
kill "$sp"; wait "$sp" 2>/dev/null || true
echo "idle-shim: $(basename "$EE") under the shim: $shim"

# the library's own idle server (dpbench), for comparison
if [ -x "$B/tests/bench/dpbench" ]; then
	echo "idle-shim: library server (dpbench idle-lib): $("$B/tests/bench/dpbench" idle-lib --n "$N" \
		--cert "$PKI/server.pem" --key "$PKI/server-key.pem" 2>&1 | tail -1)"
fi

for k in vmrss anon dirty; do
	p=$(kv "$plain" "${k}_per_conn")
	s=$(kv "$shim" "${k}_per_conn")
	echo "idle-shim: $k: shim $s - plain $p = $((s - p)) bytes per connection"
done
echo "idle-shim: shim_minus_plain_bytes_per_conn=$(( $(kv "$shim" vmrss_per_conn) - $(kv "$plain" vmrss_per_conn) ))"
rm -rf "$WORK"

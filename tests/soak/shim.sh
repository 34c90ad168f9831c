#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak through the shim: our epoll echo server (a plaintext program) under
# `handoff run`, and HANDOFF_SOAK_N sequential then 200 concurrent TLS
# clients (tests/soak/soak --connect, libhandoff with kTLS).  The server
# process's open fds must come back to exactly their level after a warm-up,
# and its anonymous RSS (RssAnon: code paged in is no leak) to within
# HANDOFF_SOAK_RSS_KB (default 1024).  Needs kernel
# TLS: runs in the VM (tests/vm/suite.sh); skips on the host.
#
# By hand, the full run: HANDOFF_SOAK_N=10000 tests/vm/suite.sh --kernel 6.12 .../tests/soak/shim.sh
# (CI runs 200: about 20 handshakes a second under TCG.)  With
# HANDOFF_SOAK_VALGRIND=1 the server runs under memcheck, which must report
# nothing (use a small HANDOFF_SOAK_N and HANDOFF_SOAK_CONC: it is slow).

# shellcheck source=../shim/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../shim" && pwd -P)/lib.sh"
shim_setup shim-soak
# A sanitizer build preloads ASan into the server, whose allocator keeps
# freed memory: only the plain build can measure it.
if grep -q '^#define HANDOFF_ASAN_RUNTIME' "${HANDOFF_BUILDDIR:-$top_builddir}/config.h" 2>/dev/null; then
	skip "ASan build: memory is not measurable under ASan (the plain build's pass measures it)"
fi

N=${HANDOFF_SOAK_N:-200}
CONC=${HANDOFF_SOAK_CONC:-200}
SLACK=${HANDOFF_SOAK_RSS_KB:-1024}
VG=()
if [ "${HANDOFF_SOAK_VALGRIND:-0}" = 1 ]; then
	need valgrind
	VG=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
		--errors-for-leak-kinds=definite,indirect --log-file="$WORK/valgrind.log")
	SLACK=$((1024 * 1024)) # valgrind's own memory: memcheck judges the leaks
fi
SOAK=${HANDOFF_BUILDDIR:-$top_builddir}/tests/soak/soak
[ -x "$SOAK" ] || { echo "FAIL - no $SOAK (make check builds it)"; exit 1; }
EE=$(epoll_echo_bin) || { echo "FAIL - cannot build tests/shim/epoll_echo"; exit 1; }

# usage PID: "FDS RSSANON_KB" of the process.
usage() {
	local fds rss
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	rss=$(awk '$1 == "RssAnon:" { print $2 }' "/proc/$1/status" 2>/dev/null)
	echo "$fds ${rss:-0}"
}

# clients WHAT SEQUENTIAL CONCURRENT: one run of the soak client, bounded.
clients() {
	local t0=$SECONDS
	if timeout $((120 + $2 / 2)) "$SOAK" --connect "$PORT" -n "$2" -c "$3" >"$WORK/$1.client" 2>&1; then
		echo "# $1: $(tail -n 1 "$WORK/$1.client") ($((SECONDS - t0)) s)"
		return 0
	fi
	fail "$1: the clients failed" "$WORK/$1.client" "$WORK/ee.err" "$WORK/ee.shim.log"
	return 1
}

# judge WHAT: the server's fds exactly back, RSS within the slack.
judge() {
	local fds rss
	sleep 1 # the server's last closes
	read -r fds rss <<<"$(usage "$SPID")"
	if [ "$fds" = "$FDS0" ] && [ "$rss" -le $((RSS0 + SLACK)) ]; then
		pass "$1: server fds $FDS0 -> $fds, anonymous RSS $RSS0 -> $rss KiB"
	else
		fail "$1: server not back to its level: fds $FDS0 -> $fds, anonymous RSS $RSS0 -> $rss KiB (slack $SLACK KiB)" \
			"$WORK/ee.shim.log"
	fi
}

PORT=$(random_port)
start_shim ee "$PORT" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" \
	--accept "127.0.0.1:$PORT" -- "${VG[@]}" "$EE" "$PORT" || finish
# Warm-up: the kernel probe, the allocator, the fd table at its widest.
clients warm-up 20 "$CONC" || finish
sleep 1
read -r FDS0 RSS0 <<<"$(usage "$SPID")"
stat_mark
clients sequential "$N" 0 && judge "$N sequential handshakes through the shim"
clients concurrent 0 "$CONC" && judge "$CONC concurrent handshakes through the shim"
stat_check "soak through the shim"
if grep -q "eof after 9 bytes" "$WORK/ee.err" && ! grep -v "eof after 9 bytes" "$WORK/ee.err" | grep -q "close fd"; then
	pass "every connection ended with a clean EOF at the server ($(grep -c "eof after 9 bytes" "$WORK/ee.err"))"
else
	fail "some connection did not end cleanly at the server" "$WORK/ee.err"
fi
if [ ${#VG[@]} -gt 0 ]; then
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	if [ -f "$WORK/valgrind.log" ] && ! grep -q '^==[0-9]*== ' "$WORK/valgrind.log"; then
		pass "memcheck: no error and no leak in the server under the shim"
	else
		fail "memcheck reported errors or leaks in the server under the shim" "$WORK/valgrind.log"
	fi
fi
finish

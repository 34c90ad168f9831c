# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the interop tests (bash).  Source it, then call setup NAME.
#
# Environment (set by `make check`): HANDOFF_CLI, HANDOFF_PKI, top_builddir.
# HANDOFF_TEST_KTLS=1 means the kernel has kTLS (the VM): no user-space
# fallback is allowed, the summary must say "kTLS: yes", and the kernel's
# TLS counters must move.  Otherwise (no kTLS on the host) every handoff
# command gets --insecure-userspace-fallback and must say "kTLS: no".
#
# Exit codes: 0 pass, 1 fail, 77 skip (automake's convention).

set -u

T_FAILS=0
T_PASSES=0
T_PIDS=()
T_NAME=
WORK=

: "${HANDOFF_CLI:?HANDOFF_CLI must point at the handoff binary}"
: "${HANDOFF_PKI:?HANDOFF_PKI must point at the test PKI (tests/pki/mkcerts.sh)}"
: "${top_builddir:=${HANDOFF_BUILDDIR:-.}}"
# Where each test keeps its files; the VM points this at a tmpfs (its root is read-only).
: "${HANDOFF_TEST_WORKDIR:=$top_builddir/tests/interop/out}"
PKI=$HANDOFF_PKI

# Every external command gets a hard bound: a hang is a failure, not a stuck CI.
TMO=${HANDOFF_TEST_TIMEOUT:-20}

if [ "${HANDOFF_TEST_KTLS:-0}" = 1 ]; then
	KTLS=1
	FALLBACK=()
	EXPECT_KTLS="kTLS: yes"
else
	KTLS=0
	FALLBACK=(--insecure-userspace-fallback)
	EXPECT_KTLS="kTLS: no"
fi

skip() {
	echo "SKIP: $*"
	exit 77
}

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c not installed"
	done
}

pass() {
	T_PASSES=$((T_PASSES + 1))
	echo "ok - $*"
}

# fail MSG [FILE...]: report, and show the files that explain it.
fail() {
	local msg=$1 f
	shift
	T_FAILS=$((T_FAILS + 1))
	echo "FAIL - $msg"
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "---- $f"
		tail -n 30 "$f" | sed 's/^/    /'
	done
}

cleanup() {
	local pid
	for pid in "${T_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${T_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	T_PIDS=()
}

setup() {
	T_NAME=$1
	[ -x "$HANDOFF_CLI" ] || { echo "FAIL - $HANDOFF_CLI is not executable"; exit 1; }
	[ -f "$PKI/ca.pem" ] || { echo "FAIL - no test PKI in $PKI"; exit 1; }
	WORK=$HANDOFF_TEST_WORKDIR/$T_NAME
	rm -rf "$WORK"
	mkdir -p "$WORK" || exit 1
	trap cleanup EXIT
	trap 'cleanup; exit 1' INT TERM
	echo "# $T_NAME: kTLS expected: $KTLS; work dir $WORK"
}

# finish: the test's exit status.
finish() {
	cleanup
	echo "# $T_NAME: $T_PASSES passed, $T_FAILS failed"
	[ "$T_FAILS" -eq 0 ] || exit 1
	[ "$T_PASSES" -gt 0 ] || { echo "FAIL - no case ran"; exit 1; }
	exit 0
}

# handoff ARGS...: the CLI under test, bounded.
handoff() {
	timeout "$TMO" "$HANDOFF_CLI" "$@"
}

# port_listening PORT: a TCP socket listens on PORT (IPv4 or IPv6).
port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	# /proc/net/tcp: "sl local_address rem_address st ...", st 0A = LISTEN
	awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# port_accepts PORT - a real connect to 127.0.0.1:PORT works.  A LISTEN line
# is not enough: gnutls-serv opens its IPv6 socket before the IPv4 one, and
# in a slow (TCG) guest a client can land in between.
port_accepts() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

random_port() {
	local p
	while :; do
		# Below Linux's ephemeral range (32768-60999): a port the kernel
		# gives a client of another test (the floods make 500) is not
		# listening, but binding it fails (EADDRINUSE).
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		port_listening "$p" || { echo "$p"; return; }
	done
}

# start_peer NAME CMD... - run a peer server in the background with @PORT@
# in its arguments replaced by a free port; retries on a port clash.
# Sets PORT and PEER_PID; output in $WORK/NAME.out and NAME.err.
# PEER_LIFETIME (seconds, default 60) bounds the peer's life and
# PEER_START_POLLS (default 200, 50 ms each) its start-up.
start_peer() {
	local name=$1 try i a
	shift
	local -a argv
	for try in 1 2 3 4 5; do
		PORT=$(random_port)
		argv=()
		for a in "$@"; do
			argv+=("${a//@PORT@/$PORT}")
		done
		timeout "${PEER_LIFETIME:-60}" "${argv[@]}" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
		PEER_PID=$!
		T_PIDS+=("$PEER_PID")
		for i in $(seq 1 "${PEER_START_POLLS:-200}"); do
			if port_listening "$PORT" && port_accepts "$PORT"; then
				return 0
			fi
			kill -0 "$PEER_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
	done
	fail "$name: could not start ${1##*/}" "$WORK/$name.err"
	return 1
}

# start_serve NAME ARGS... - our `handoff serve ... 127.0.0.1:0` in the
# background (the ARGS must include the listen address, e.g. 127.0.0.1:0);
# PORT is read from its "listening on" line.
start_serve() {
	local name=$1 i
	shift
	"$HANDOFF_CLI" serve "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	PEER_PID=$!
	T_PIDS+=("$PEER_PID")
	for i in $(seq 1 100); do
		PORT=$(sed -n 's/^handoff: listening on .*:\([0-9]*\)$/\1/p' "$WORK/$name.err" 2>/dev/null)
		[ -n "$PORT" ] && return 0
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "$name: handoff serve did not start" "$WORK/$name.err"
	return 1
}

# stop_peer PID: end a background peer we started.
stop_peer() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# wait_peer PID [SECONDS]: wait for a peer to end on its own; its exit status.
wait_peer() {
	local pid=$1 n=$(( ${2:-10} * 20 )) i
	for i in $(seq 1 "$n"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$pid" 2>/dev/null
	wait "$pid"
}

# has FILE TEXT: FILE contains the fixed string TEXT.
has() {
	grep -qF -- "$2" "$1"
}

# check_summary NAME ERRFILE: the handshake summary says what the kernel did.
check_summary() {
	if has "$2" "$EXPECT_KTLS"; then
		return 0
	fi
	fail "$1: summary lacks '$EXPECT_KTLS'" "$2"
	return 1
}

# payload FILE SIZE: random bytes.
payload() {
	head -c "$2" /dev/urandom >"$1"
}

same() {
	cmp -s "$1" "$2"
}

# The kernel's software kTLS counters: "TX RX" (cumulative), or "" without kTLS.
ktls_counters() {
	[ -r /proc/net/tls_stat ] || return 0
	awk '$1 == "TlsTxSw" { tx = $2 } $1 == "TlsRxSw" { rx = $2 } END { print tx + 0, rx + 0 }' \
		/proc/net/tls_stat
}

# ktls_mark / ktls_check NAME: with kTLS, both counters must have grown.
ktls_mark() {
	KTLS_BEFORE=$(ktls_counters)
}

ktls_check() {
	local after
	[ "$KTLS" = 1 ] || return 0
	after=$(ktls_counters)
	if [ -z "$after" ]; then
		fail "$1: HANDOFF_TEST_KTLS=1 but /proc/net/tls_stat is unreadable"
		return
	fi
	set -- "$1" $KTLS_BEFORE $after
	if [ "$4" -gt "$2" ] && [ "$5" -gt "$3" ]; then
		pass "$1: kernel TLS counters grew (TlsTxSw $2 -> $4, TlsRxSw $3 -> $5)"
	else
		fail "$1: kernel TLS counters did not grow (TlsTxSw $2 -> $4, TlsRxSw $3 -> $5)"
	fi
}

# A fake peer in python: python_peer NAME SCRIPT ARGS... (SCRIPT reads PORT
# from argv[1] and must listen before printing "ready").
need_python() {
	command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
}

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What a peer may legally send in the middle of a connection, through the
# CLI: zero-length application data records (RFC 8446 5.1, RFC 5246
# 6.2.1) read as nothing, and a TLS 1.2 renegotiation is declined with a
# warning no_renegotiation alert (RFC 5246 7.2.2) while the data around it
# flows on.  The peer is tests/interop/tls-peer (GnuTLS, scripted step by
# step; no stock tool sends empty records), plus openssl s_client's R and
# s_server's r, which give up with a fatal alert after the refusal: that
# must be reported as their fatal alert.
. "${top_srcdir:-.}/tests/interop/lib.sh"

TLS_PEER=${HANDOFF_TLS_PEER:-$top_builddir/tests/interop/tls-peer}
[ -x "$TLS_PEER" ] || { echo "FAIL - $TLS_PEER is not built (make check builds it)"; exit 1; }
setup midstream

SERVE=("${FALLBACK[@]}" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --once)
CONNECT=("${FALLBACK[@]}" --ca-file "$PKI/ca.pem")

# wait_for FILE TEXT [SECONDS]: until FILE holds TEXT (a peer's progress, not a guess at timing).
wait_for() {
	local i
	for i in $(seq 1 $(( ${3:-10} * 20 ))); do
		has "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# serve_case NAME SERVE-MODE-ARGS -- TLS-PEER-ARGS: `handoff serve` and
# tls-peer as its client must both finish cleanly.
serve_case() {
	local name=$1 rc src
	shift
	local -a margs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		margs+=("$1")
		shift
	done
	shift
	start_serve "$name" "${SERVE[@]}" "${margs[@]}" 127.0.0.1:0 || return 1
	ktls_mark
	timeout "$TMO" "$TLS_PEER" --connect "$PORT" "$@" >"$WORK/$name.peer" 2>&1
	rc=$?
	wait_peer "$PEER_PID" 10
	src=$?
	if [ $rc -ne 0 ] || [ $src -ne 0 ]; then
		fail "$name: tls-peer exit $rc, handoff serve exit $src" "$WORK/$name.peer" \
			"$WORK/$name.err"
		return 1
	fi
	check_summary "$name" "$WORK/$name.err" || return 1
	pass "$name"
	ktls_check "$name"
}

# Corked: an empty record and the record after it reach the kernel together, which
# is when its recvmsg returns 0 for the empty one (measured on 6.12 and 7.3).
EMPTY_STEPS=(send:one empty:3 send:two expect:onetwo empty send:three expect:three
	cork empty:2 bye uncork eof)
for v in 1.2 1.3; do
	serve_case "empty-records-echo-tls$v" -- "--tls$v" "${EMPTY_STEPS[@]}"
	serve_case "empty-records-exec-tls$v" --exec cat -- "--tls$v" "${EMPTY_STEPS[@]}"
done
# An empty record right before a ClientHello: over kTLS a plain read(2) of that is a
# spurious EOF, so a command on the bare socket (the old --exec) would stop there.
RENEG_STEPS=(send:one expect:one reneg send:two expect:two hello:3:x expect:xx declined
	cork empty hello:1:- uncork declined send:three expect:three)
serve_case renegotiation-echo -- --tls1.2 "${RENEG_STEPS[@]}" bye eof
serve_case renegotiation-exec --exec cat -- --tls1.2 "${RENEG_STEPS[@]}" bye eof

# After the refusal the peer gives up (as OpenSSL does): the peer's alert is the reason.
start_serve reneg-then-fatal "${SERVE[@]}" 127.0.0.1:0 && {
	timeout "$TMO" "$TLS_PEER" --connect "$PORT" --tls1.2 send:one expect:one reneg alert:40 \
		>"$WORK/reneg-then-fatal.peer" 2>&1
	rc=$?
	wait_peer "$PEER_PID" 10
	src=$?
	want="peer sent fatal alert: handshake_failure (Handshake failed) after we declined its renegotiation"
	if [ $rc -eq 0 ] && [ $src -ne 0 ] && has "$WORK/reneg-then-fatal.err" "$want"; then
		pass "reneg-then-fatal: $want"
	else
		fail "reneg-then-fatal: tls-peer exit $rc, serve exit $src" \
			"$WORK/reneg-then-fatal.peer" "$WORK/reneg-then-fatal.err"
	fi
}

# connect_case NAME VERSION TLS-PEER-STEPS...: tls-peer as the server;
# `handoff connect` sends "ping" and keeps its stdin open until it is done.
connect_case() {
	local name=$1 v=$2 rc src
	shift 2
	rm -f "$WORK/$name.port" "$WORK/$name.in"
	timeout "$TMO" "$TLS_PEER" "--tls$v" --listen "$WORK/$name.port" "$@" \
		>"$WORK/$name.peer" 2>&1 &
	PEER_PID=$!
	T_PIDS+=("$PEER_PID")
	wait_for "$WORK/$name.port" "" 10 && [ -s "$WORK/$name.port" ] ||
		{ fail "$name: tls-peer did not listen" "$WORK/$name.peer"; return 1; }
	mkfifo "$WORK/$name.in"
	handoff connect "${CONNECT[@]}" "localhost:$(cat "$WORK/$name.port")" \
		<"$WORK/$name.in" >"$WORK/$name.got" 2>"$WORK/$name.err" &
	local cpid=$!
	exec 3>"$WORK/$name.in"
	printf ping >&3
	wait "$cpid"
	rc=$?
	exec 3>&-
	wait_peer "$PEER_PID" 10
	src=$?
	if [ $rc -ne 0 ] || [ $src -ne 0 ] || [ "$(cat "$WORK/$name.got")" != abc ]; then
		fail "$name: handoff connect exit $rc (got '$(head -c 40 "$WORK/$name.got")'), tls-peer exit $src" \
			"$WORK/$name.err" "$WORK/$name.peer"
		return 1
	fi
	check_summary "$name" "$WORK/$name.err" || return 1
	pass "$name"
}

for v in 1.2 1.3; do
	connect_case "connect-empty-records-tls$v" "$v" expect:ping send:a empty:2 send:b empty \
		send:c sleep:500 cork empty bye uncork
done
connect_case connect-hello-request 1.2 expect:ping send:a sleep:500 cork empty reneg uncork \
	send:b declined send:c sleep:500 cork empty bye uncork

# --- openssl: s_client's R, s_server's r; both end the connection after our refusal
if command -v openssl >/dev/null 2>&1; then
	start_serve openssl-R "${SERVE[@]}" 127.0.0.1:0 && {
		rm -f "$WORK/openssl-R.in"
		mkfifo "$WORK/openssl-R.in"
		timeout "$TMO" openssl s_client -tls1_2 -connect "127.0.0.1:$PORT" \
			-servername localhost -CAfile "$PKI/ca.pem" <"$WORK/openssl-R.in" \
			>"$WORK/openssl-R.out" 2>"$WORK/openssl-R.cli" &
		cpid=$!
		exec 3>"$WORK/openssl-R.in"
		# One line per read(2): s_client takes R as a command only at the start of one.
		# The marker is one s_client's own output never holds ("one" did:
		# "PSK identity: None"), so R goes only after the echo is back.
		wait_for "$WORK/openssl-R.err" "TLS session with" &&
			echo data-7f3a >&3 && wait_for "$WORK/openssl-R.out" data-7f3a && echo R >&3
		wait_peer "$PEER_PID" 10
		src=$?
		exec 3>&-
		wait "$cpid"
		want="peer sent fatal alert: handshake_failure (Handshake failed) after we declined its renegotiation"
		if [ $src -ne 0 ] && has "$WORK/openssl-R.out" data-7f3a && has "$WORK/openssl-R.err" "$want" &&
		   has "$WORK/openssl-R.cli" RENEGOTIATING; then
			pass "openssl-R: data echoed, then $want"
		else
			fail "openssl-R: serve exit $src" "$WORK/openssl-R.err" "$WORK/openssl-R.out" \
				"$WORK/openssl-R.cli"
		fi
	}

	rm -f "$WORK/openssl-r.in" "$WORK/openssl-r.cin"
	mkfifo "$WORK/openssl-r.in" "$WORK/openssl-r.cin"
	# s_server takes commands from its stdin (start_peer would give it /dev/null).
	exec 4<>"$WORK/openssl-r.in"
	PORT=$(random_port)
	timeout "$TMO" openssl s_server -tls1_2 -accept "$PORT" -naccept 1 \
		-cert "$PKI/server.pem" -key "$PKI/server-key.pem" \
		<"$WORK/openssl-r.in" >"$WORK/openssl-r.out" 2>"$WORK/openssl-r.srv" &
	spid=$!
	T_PIDS+=("$spid")
	for i in $(seq 1 200); do
		port_listening "$PORT" && break
		sleep 0.05
	done
	handoff connect "${CONNECT[@]}" "localhost:$PORT" <"$WORK/openssl-r.cin" \
		>"$WORK/openssl-r.got" 2>"$WORK/openssl-r.err" &
	cpid=$!
	exec 3>"$WORK/openssl-r.cin"
	wait_for "$WORK/openssl-r.err" "TLS session with" && echo hello >&4 &&
		wait_for "$WORK/openssl-r.got" hello && echo r >&4
	wait "$cpid"
	rc=$?
	exec 3>&- 4>&-
	wait "$spid" 2>/dev/null
	want="peer sent fatal alert: handshake_failure (Handshake failed) after we declined its renegotiation"
	if [ $rc -ne 0 ] && has "$WORK/openssl-r.got" hello && has "$WORK/openssl-r.err" "$want"; then
		pass "openssl-r: data read, then $want"
	else
		fail "openssl-r: handoff connect exit $rc" "$WORK/openssl-r.err" \
			"$WORK/openssl-r.got" "$WORK/openssl-r.srv"
	fi
fi

finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# handoff against GnuTLS's own tools: our `connect` against gnutls-serv, and
# gnutls-cli against our `serve`.  Every case moves data both ways and
# compares it; the summary must report what the kernel did (see lib.sh).
#
# vm-once: asan (the handshake and hand-off against GnuTLS's tools are the
# same under every kernel, and every kernel's record layer meets an
# independent peer for each cipher in tests/ktls/ktls_datapath;
# openssl-peers.sh takes the plain pass: tests/run-all.sh runs this once,
# in the sanitizer build's pass; tests/vm/suite.sh says how.)
. "${top_srcdir:-.}/tests/interop/lib.sh"

need gnutls-serv gnutls-cli base64 cmp
setup gnutls-peers

# gnutls-serv --echo echoes whole lines only, so payloads are base64 text.
head -c 48000 /dev/urandom | base64 >"$WORK/payload"

CA=(--ca-file "$PKI/ca.pem")

gserv() {	# gserv NAME ARGS...: gnutls-serv --echo with our server cert
	local name=$1
	shift
	start_peer "$name" gnutls-serv --echo -p @PORT@ \
		--x509certfile "$PKI/server.pem" --x509keyfile "$PKI/server-key.pem" "$@"
}

# client_case NAME PORT EXPECT... -- ARGS...: run our connect with the
# payload, compare the echo, and look for each EXPECT line in the summary.
client_case() {
	local name=$1 port=$2 e
	local -a expect=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		expect+=("$1")
		shift
	done
	shift
	handoff connect "${FALLBACK[@]}" "$@" "localhost:$port" \
		<"$WORK/payload" >"$WORK/$name.got" 2>"$WORK/$name.log"
	local rc=$?
	if [ $rc -ne 0 ]; then
		fail "$name: connect exited $rc" "$WORK/$name.log"
		return 1
	fi
	if ! same "$WORK/payload" "$WORK/$name.got"; then
		fail "$name: echoed data differs ($(wc -c <"$WORK/$name.got") of $(wc -c <"$WORK/payload") bytes back)" "$WORK/$name.log"
		return 1
	fi
	check_summary "$name" "$WORK/$name.log" || return 1
	for e in "${expect[@]}"; do
		if ! has "$WORK/$name.log" "$e"; then
			fail "$name: summary lacks '$e'" "$WORK/$name.log"
			return 1
		fi
	done
	pass "$name"
}

ktls_mark

# --- fail closed: with no kTLS and no fallback flag, no TLS session at all.
if [ "$KTLS" = 0 ]; then
	gserv failclosed && {
		handoff connect "${CA[@]}" "localhost:$PORT" </dev/null \
			>"$WORK/failclosed.got" 2>"$WORK/failclosed.log"
		rc=$?
		if [ $rc -ne 0 ] && has "$WORK/failclosed.log" "tls module" &&
		   ! has "$WORK/failclosed.log" "kTLS:"; then
			pass "no kTLS and no fallback: fails closed (exit $rc)"
		else
			fail "no kTLS and no fallback: expected a failure naming the tls module (exit $rc)" \
				"$WORK/failclosed.log"
		fi
		stop_peer "$PEER_PID"
	}
fi

# --- every protocol x cipher the kernel can take
for ver in TLS1.2 TLS1.3; do
	for cipher in AES-128-GCM AES-256-GCM CHACHA20-POLY1305 AES-128-CCM; do
		name="client-$ver-$cipher"
		gserv "$name" --priority "NORMAL:-VERS-ALL:+VERS-$ver:-CIPHER-ALL:+$cipher" || continue
		client_case "$name" "$PORT" "protocol: TLSv${ver#TLS}" "cipher: $cipher" \
			"peer certificate: CN=server.test" -- "${CA[@]}"
		stop_peer "$PEER_PID"
	done
done

# --- our cipher list restricts what we offer
gserv client-ciphers-flag
client_case client-ciphers-flag "$PORT" "cipher: CHACHA20-POLY1305" -- \
	"${CA[@]}" --ciphers CHACHA20-POLY1305
stop_peer "$PEER_PID"

# --- RSA server key, TLS 1.2 (ECDHE-RSA suites)
start_peer client-rsa gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/server-rsa.pem" \
	--x509keyfile "$PKI/server-rsa-key.pem" --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" &&
	client_case client-rsa "$PORT" "protocol: TLSv1.2" -- "${CA[@]}"
stop_peer "$PEER_PID"

# --- a chain through an intermediate the server sends; IP address as name
start_peer client-chain gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/server-chain.pem" \
	--x509keyfile "$PKI/chained-key.pem" &&
	client_case client-chain "$PORT" "server name: 127.0.0.1" -- "${CA[@]}" \
		--servername 127.0.0.1
stop_peer "$PEER_PID"

# --- trust federation: a bundle and a second --ca-file both work
start_peer client-ca2 gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/server2.pem" \
	--x509keyfile "$PKI/server2-key.pem" &&
	client_case client-ca2 "$PORT" "peer certificate: CN=server2.test" -- \
		--ca-file "$PKI/ca.pem" --ca-file "$PKI/ca2.pem"
stop_peer "$PEER_PID"

# --- mutual TLS: the server requires and verifies our certificate
gserv client-mtls --require-client-cert --verify-client-cert --x509cafile "$PKI/ca.pem" &&
	client_case client-mtls "$PORT" -- "${CA[@]}" --cert "$PKI/client.pem" \
		--key "$PKI/client-key.pem"
if has "$WORK/client-mtls.err" "client.test" || has "$WORK/client-mtls.out" "client.test"; then
	pass "client-mtls: gnutls-serv saw CN=client.test"
else
	fail "client-mtls: gnutls-serv did not log our certificate" "$WORK/client-mtls.out"
fi
stop_peer "$PEER_PID"

# --- external PSK, identity from the gnutls-serv style file or given apart
gpsk() {	# gpsk NAME VERSION
	start_peer "$1" gnutls-serv --echo -p @PORT@ --pskpasswd "$PKI/psk.txt" \
		--priority "NORMAL:-VERS-ALL:+VERS-$2:+ECDHE-PSK:+PSK"
}
gpsk client-psk-TLS1.3 TLS1.3 &&
	client_case client-psk-TLS1.3 "$PORT" "PSK identity: handoff-test" \
		"protocol: TLSv1.3" "peer certificate: (none)" -- --psk-file "$PKI/psk.txt"
stop_peer "$PEER_PID"
gpsk client-psk-TLS1.2 TLS1.2 &&
	client_case client-psk-TLS1.2 "$PORT" "PSK identity: handoff-test" \
		"protocol: TLSv1.2" -- --psk-identity handoff-test --psk-file "$PKI/psk.hex"
stop_peer "$PEER_PID"

# --- ALPN
gserv client-alpn --alpn http/1.1 --alpn h2 &&
	client_case client-alpn "$PORT" "ALPN: h2" -- "${CA[@]}" --alpn h2,http/1.1
stop_peer "$PEER_PID"

# --- resumption: the second connection resumes (tickets for 1.3 and 1.2)
for ver in TLS1.3 TLS1.2; do
	gserv "client-resume-$ver" --priority "NORMAL:-VERS-ALL:+VERS-$ver" || continue
	handoff connect "${FALLBACK[@]}" "${CA[@]}" --reconnect 1 "localhost:$PORT" \
		<"$WORK/payload" >"$WORK/client-resume-$ver.got" 2>"$WORK/client-resume-$ver.log"
	rc=$?
	first=$(grep -m1 'resumed:' "$WORK/client-resume-$ver.log")
	last=$(grep 'resumed:' "$WORK/client-resume-$ver.log" | tail -n 1)
	if [ $rc -eq 0 ] && [ "$(grep -c 'resumed:' "$WORK/client-resume-$ver.log")" = 2 ] &&
	   [ "$first" = "  resumed: no" ] && [ "$last" = "  resumed: yes" ] &&
	   same "$WORK/payload" "$WORK/client-resume-$ver.got"; then
		pass "client-resume-$ver: second connection resumed"
	else
		fail "client-resume-$ver: exit $rc, first '$first', last '$last'" \
			"$WORK/client-resume-$ver.log"
	fi
	stop_peer "$PEER_PID"
done

# ------------------------------------------------ gnutls-cli against our serve
SERVE=(--cert "$PKI/server.pem" --key "$PKI/server-key.pem")

# server_case NAME EXPECT-IN-OUR-LOG -- SERVE-ARGS... -- GNUTLS-CLI-ARGS...
server_case() {
	local name=$1 expect=$2
	shift 2
	[ "$1" = -- ] && shift
	local -a sargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		sargs+=("$1")
		shift
	done
	shift
	start_serve "$name" "${FALLBACK[@]}" "${SERVE[@]}" --once "${sargs[@]}" 127.0.0.1:0 ||
		return 1
	timeout "$TMO" gnutls-cli --logfile "$WORK/$name.cli.log" -p "$PORT" \
		--x509cafile "$PKI/ca.pem" "$@" localhost \
		<"$WORK/payload" >"$WORK/$name.got" 2>"$WORK/$name.cli.err"
	local rc=$?
	wait_peer "$PEER_PID" 10
	local src=$?
	if [ $rc -ne 0 ] || [ $src -ne 0 ]; then
		fail "$name: gnutls-cli exited $rc, handoff serve $src" "$WORK/$name.err" \
			"$WORK/$name.cli.err" "$WORK/$name.cli.log"
		return 1
	fi
	if ! same "$WORK/payload" "$WORK/$name.got"; then
		fail "$name: echoed data differs" "$WORK/$name.err" "$WORK/$name.cli.log"
		return 1
	fi
	check_summary "$name" "$WORK/$name.err" || return 1
	if [ -n "$expect" ] && ! has "$WORK/$name.err" "$expect"; then
		fail "$name: our summary lacks '$expect'" "$WORK/$name.err"
		return 1
	fi
	pass "$name"
}

server_case server-tls13 "protocol: TLSv1.3" -- -- --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3"
server_case server-tls12 "protocol: TLSv1.2" -- -- --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2"
server_case server-chacha "cipher: CHACHA20-POLY1305" -- -- \
	--priority "NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305"
server_case server-tls12-ccm "cipher: AES-128-CCM" -- -- \
	--priority "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CCM"
server_case server-mtls "peer certificate: CN=client.test" -- --verify-client \
	--ca-file "$PKI/ca.pem" -- --x509certfile "$PKI/client.pem" \
	--x509keyfile "$PKI/client-key.pem"
server_case server-psk "PSK identity: handoff-test" -- --psk-file "$PKI/psk.txt" -- \
	--pskusername handoff-test --pskkey "$(cat "$PKI/psk.hex")" \
	--priority "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK:-ECDHE-ECDSA:-ECDHE-RSA"
server_case server-alpn "ALPN: http/1.1" -- --alpn http/1.1 -- --alpn http/1.1

# --- gnutls-cli --resume: two connections, the second must resume
for ver in TLS1.3 TLS1.2; do
	name="server-resume-$ver"
	start_serve "$name" "${FALLBACK[@]}" "${SERVE[@]}" --count 2 127.0.0.1:0 || continue
	timeout "$TMO" gnutls-cli --resume -p "$PORT" --x509cafile "$PKI/ca.pem" \
		--priority "NORMAL:-VERS-ALL:+VERS-$ver" localhost \
		<"$WORK/payload" >"$WORK/$name.out.cli" 2>"$WORK/$name.cli.err"
	rc=$?
	wait_peer "$PEER_PID" 10
	if [ $rc -eq 0 ] && has "$WORK/$name.out.cli" "This is a resumed session" &&
	   has "$WORK/$name.err" "resumed: yes"; then
		pass "$name: gnutls-cli --resume resumed"
	else
		fail "$name: no resumption (gnutls-cli exit $rc)" "$WORK/$name.out.cli" \
			"$WORK/$name.err"
	fi
done

ktls_check gnutls-peers
finish

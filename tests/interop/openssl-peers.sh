#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# handoff against OpenSSL: our `connect` against `openssl s_server -rev`
# (which sends every line back reversed) and `openssl s_client` against our
# `serve`.  Data goes both ways and is compared.
#
# vm-once: plain (the handshake and hand-off against OpenSSL are the same
# under every kernel, and every kernel's record layer meets an independent
# peer for each cipher in tests/ktls/ktls_datapath; gnutls-peers.sh takes
# the sanitizer pass: tests/run-all.sh runs this once, in the plain
# build's pass; tests/vm/suite.sh says how.)
. "${top_srcdir:-.}/tests/interop/lib.sh"

need openssl base64 rev cmp
setup openssl-peers

head -c 48000 /dev/urandom | base64 >"$WORK/payload"
rev "$WORK/payload" >"$WORK/payload.rev"
SIZE=$(wc -c <"$WORK/payload")

CA=(--ca-file "$PKI/ca.pem")

sserv() {	# sserv NAME ARGS...: s_server -rev with our server cert
	local name=$1
	shift
	start_peer "$name" openssl s_server -accept @PORT@ -cert "$PKI/server.pem" \
		-key "$PKI/server-key.pem" -rev "$@"
}

# client_case NAME EXPECT... -- ARGS...: connect, payload in, reversed payload out.
client_case() {
	local name=$1 e rc
	local -a expect=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		expect+=("$1")
		shift
	done
	shift
	handoff connect "${FALLBACK[@]}" "$@" "localhost:$PORT" \
		<"$WORK/payload" >"$WORK/$name.got" 2>"$WORK/$name.log"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$name: connect exited $rc" "$WORK/$name.log" "$WORK/$name.out"
		return 1
	fi
	if ! same "$WORK/payload.rev" "$WORK/$name.got"; then
		fail "$name: data from s_server -rev differs ($(wc -c <"$WORK/$name.got") bytes)" \
			"$WORK/$name.log"
		return 1
	fi
	check_summary "$name" "$WORK/$name.log" || return 1
	for e in "${expect[@]}"; do
		has "$WORK/$name.log" "$e" && continue
		fail "$name: summary lacks '$e'" "$WORK/$name.log"
		return 1
	done
	pass "$name"
}

ktls_mark

# --- protocol x cipher
for c in TLS_AES_128_GCM_SHA256:AES-128-GCM TLS_AES_256_GCM_SHA384:AES-256-GCM \
	 TLS_CHACHA20_POLY1305_SHA256:CHACHA20-POLY1305 TLS_AES_128_CCM_SHA256:AES-128-CCM; do
	name="client-tls13-${c#*:}"
	sserv "$name" -tls1_3 -ciphersuites "${c%%:*}" || continue
	client_case "$name" "protocol: TLSv1.3" "cipher: ${c#*:}" -- "${CA[@]}"
	stop_peer "$PEER_PID"
done
for c in ECDHE-ECDSA-AES128-GCM-SHA256:AES-128-GCM ECDHE-ECDSA-AES256-GCM-SHA384:AES-256-GCM \
	 ECDHE-ECDSA-CHACHA20-POLY1305:CHACHA20-POLY1305 ECDHE-ECDSA-AES128-CCM:AES-128-CCM; do
	name="client-tls12-${c#*:}"
	sserv "$name" -tls1_2 -cipher "${c%%:*}" || continue
	client_case "$name" "protocol: TLSv1.2" "cipher: ${c#*:}" -- "${CA[@]}"
	stop_peer "$PEER_PID"
done

# --- RSA key, TLS 1.2
start_peer client-rsa openssl s_server -accept @PORT@ -cert "$PKI/server-rsa.pem" \
	-key "$PKI/server-rsa-key.pem" -rev -tls1_2 &&
	client_case client-rsa "protocol: TLSv1.2" -- "${CA[@]}"
stop_peer "$PEER_PID"

# --- intermediate sent by the server
start_peer client-chain openssl s_server -accept @PORT@ -cert "$PKI/chained.pem" \
	-cert_chain "$PKI/inter.pem" -key "$PKI/chained-key.pem" -rev &&
	client_case client-chain -- "${CA[@]}"
stop_peer "$PEER_PID"

# --- mutual TLS: required by s_server; without our certificate it must fail
sserv client-mtls -Verify 1 -CAfile "$PKI/ca.pem" && {
	client_case client-mtls -- "${CA[@]}" --cert "$PKI/client.pem" --key "$PKI/client-key.pem"
	handoff connect "${FALLBACK[@]}" "${CA[@]}" "localhost:$PORT" <"$WORK/payload" \
		>"$WORK/client-mtls-nocert.got" 2>"$WORK/client-mtls-nocert.log"
	rc=$?
	# TLS 1.3: the client may finish its side first; the server's alert then
	# arrives on the first read.  Either way: an error, and no data back.
	if [ $rc -ne 0 ] && ! [ -s "$WORK/client-mtls-nocert.got" ]; then
		pass "client-mtls-nocert: refused without a client certificate (exit $rc)"
	else
		fail "client-mtls-nocert: data flowed without a client certificate" \
			"$WORK/client-mtls-nocert.log"
	fi
}
stop_peer "$PEER_PID"

# --- TLS 1.3 external PSK
start_peer client-psk openssl s_server -accept @PORT@ -nocert -tls1_3 -rev \
	-psk "$(cat "$PKI/psk.hex")" -psk_identity handoff-test &&
	client_case client-psk "PSK identity: handoff-test" -- --psk-file "$PKI/psk.txt"
stop_peer "$PEER_PID"

# --- ALPN
sserv client-alpn -alpn h2 && client_case client-alpn "ALPN: h2" -- "${CA[@]}" --alpn h2,http/1.1
stop_peer "$PEER_PID"

# --- resumption through our session cache
for v in tls1_3 tls1_2; do
	name="client-resume-$v"
	sserv "$name" "-$v" || continue
	handoff connect "${FALLBACK[@]}" "${CA[@]}" --reconnect 1 "localhost:$PORT" \
		<"$WORK/payload" >"$WORK/$name.got" 2>"$WORK/$name.log"
	rc=$?
	if [ $rc -eq 0 ] && same "$WORK/payload.rev" "$WORK/$name.got" &&
	   [ "$(grep 'resumed:' "$WORK/$name.log" | tr -d ' \n')" = "resumed:noresumed:yes" ]; then
		pass "$name: second connection resumed"
	else
		fail "$name: exit $rc" "$WORK/$name.log"
	fi
	stop_peer "$PEER_PID"
done

# ------------------------------------------------ s_client against our serve
SERVE=(--cert "$PKI/server.pem" --key "$PKI/server-key.pem")

# server_case NAME EXPECT -- SERVE-ARGS -- S_CLIENT-ARGS: our serve runs
# `head -c SIZE`, so the payload comes back byte for byte and the server
# closes; s_client (-quiet implies -ign_eof) reads until close_notify.
server_case() {
	local name=$1 expect=$2 rc src
	shift 2
	[ "$1" = -- ] && shift
	local -a sargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		sargs+=("$1")
		shift
	done
	shift
	start_serve "$name" "${FALLBACK[@]}" "${SERVE[@]}" --once --exec "head -c $SIZE" \
		"${sargs[@]}" 127.0.0.1:0 || return 1
	timeout "$TMO" openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername localhost \
		-verify_return_error -CAfile "$PKI/ca.pem" "$@" \
		<"$WORK/payload" >"$WORK/$name.got" 2>"$WORK/$name.cli.err"
	rc=$?
	wait_peer "$PEER_PID" 10
	src=$?
	if [ $src -ne 0 ]; then
		fail "$name: handoff serve exited $src (s_client $rc)" "$WORK/$name.err" \
			"$WORK/$name.cli.err"
		return 1
	fi
	if ! same "$WORK/payload" "$WORK/$name.got"; then
		fail "$name: data differs ($(wc -c <"$WORK/$name.got") of $SIZE bytes)" \
			"$WORK/$name.err" "$WORK/$name.cli.err"
		return 1
	fi
	check_summary "$name" "$WORK/$name.err" || return 1
	if [ -n "$expect" ] && ! has "$WORK/$name.err" "$expect"; then
		fail "$name: our summary lacks '$expect'" "$WORK/$name.err"
		return 1
	fi
	pass "$name"
}

server_case server-tls13 "protocol: TLSv1.3" -- -- -tls1_3
server_case server-tls12 "protocol: TLSv1.2" -- -- -tls1_2
server_case server-tls13-aes256 "cipher: AES-256-GCM" -- -- -tls1_3 \
	-ciphersuites TLS_AES_256_GCM_SHA384
server_case server-tls12-chacha "cipher: CHACHA20-POLY1305" -- -- -tls1_2 \
	-cipher ECDHE-ECDSA-CHACHA20-POLY1305
server_case server-mtls "peer certificate: CN=client.test" -- --verify-client \
	--ca-file "$PKI/ca.pem" -- -cert "$PKI/client.pem" -key "$PKI/client-key.pem"
server_case server-alpn "ALPN: h2" -- --alpn h2 -- -alpn h2

# --- --file: the server sends a file (sendfile(2) with kTLS), then closes
start_serve server-file "${FALLBACK[@]}" "${SERVE[@]}" --once --file "$WORK/payload" \
	127.0.0.1:0 && {
	timeout "$TMO" openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername localhost \
		-verify_return_error -CAfile "$PKI/ca.pem" </dev/null \
		>"$WORK/server-file.got" 2>"$WORK/server-file.cli.err"
	wait_peer "$PEER_PID" 10
	src=$?
	if [ $src -eq 0 ] && same "$WORK/payload" "$WORK/server-file.got"; then
		pass "server-file: file arrived intact"
	else
		fail "server-file: serve exit $src, $(wc -c <"$WORK/server-file.got") of $SIZE bytes" \
			"$WORK/server-file.err" "$WORK/server-file.cli.err"
	fi
}

# --- s_client -sess_out / -sess_in: the second connection is "Reused"
for v in tls1_3 tls1_2; do
	name="server-resume-$v"
	start_serve "$name" "${FALLBACK[@]}" "${SERVE[@]}" --count 2 --file "$PKI/ca.pem" \
		127.0.0.1:0 || continue
	timeout "$TMO" openssl s_client -ign_eof -connect "127.0.0.1:$PORT" -servername localhost \
		-CAfile "$PKI/ca.pem" "-$v" -sess_out "$WORK/$name.sess" </dev/null \
		>"$WORK/$name.1" 2>&1
	timeout "$TMO" openssl s_client -ign_eof -connect "127.0.0.1:$PORT" -servername localhost \
		-CAfile "$PKI/ca.pem" "-$v" -sess_in "$WORK/$name.sess" </dev/null \
		>"$WORK/$name.2" 2>&1
	wait_peer "$PEER_PID" 10
	src=$?
	if [ $src -eq 0 ] && grep -q '^Reused' "$WORK/$name.2" && ! grep -q '^Reused' "$WORK/$name.1" &&
	   has "$WORK/$name.err" "resumed: yes"; then
		pass "$name: s_client reused the session"
	else
		fail "$name: no resumption (serve exit $src)" "$WORK/$name.2" "$WORK/$name.err"
	fi
done

ktls_check openssl-peers
finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Everything that must fail: bad certificates, old protocols, weak ciphers,
# garbage, peers that vanish or stall.  Each case must end quickly, with a
# non-zero exit and an error that names the actual problem.
#
# vm-once: host (every case fails before any key reaches the kernel, and
# the host suite runs it, plain and under ASan: tests/run-all.sh leaves it
# out of the VM passes; tests/vm/suite.sh says how.)
. "${top_srcdir:-.}/tests/interop/lib.sh"

need gnutls-serv gnutls-cli
need_python
setup bad-input

CA=(--ca-file "$PKI/ca.pem")

# expect_fail NAME TEXT LOG RC: RC non-zero and LOG says TEXT.
expect_fail() {
	local name=$1 text=$2 log=$3 rc=$4
	if [ "$rc" -eq 124 ]; then
		fail "$name: timed out (hang)" "$log"
	elif [ "$rc" -eq 0 ]; then
		fail "$name: succeeded but must fail" "$log"
	elif ! has "$log" "$text"; then
		fail "$name: error does not say '$text' (exit $rc)" "$log"
	else
		pass "$name: $(grep -F -m1 -- "$text" "$log" | cut -c1-150)"
	fi
}

# gserv_cert NAME CERT KEY [ARGS...]: gnutls-serv --echo with that identity.
gserv_cert() {
	local name=$1 cert=$2 key=$3
	shift 3
	start_peer "$name" gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/$cert" \
		--x509keyfile "$PKI/$key" "$@"
}

# connect_case NAME TEXT ARGS...: our connect to localhost:$PORT must fail with TEXT.
connect_case() {
	local name=$1 text=$2
	shift 2
	echo hello | handoff connect "${FALLBACK[@]}" --timeout 5000 "$@" "localhost:$PORT" \
		>"$WORK/$name.got" 2>"$WORK/$name.log"
	expect_fail "$name" "$text" "$WORK/$name.log" $?
}

# --- certificates
gserv_cert wrongname server.pem server-key.pem &&
	connect_case servername-mismatch 'not valid for the name "other.test"' "${CA[@]}" \
		--servername other.test
stop_peer "$PEER_PID"

gserv_cert wrongname-cert wrongname.pem wrongname-key.pem &&
	connect_case wrongname-cert 'not valid for the name "localhost"' "${CA[@]}"
stop_peer "$PEER_PID"

gserv_cert expired expired.pem expired-key.pem &&
	connect_case expired "it has expired" "${CA[@]}"
stop_peer "$PEER_PID"

gserv_cert notyet notyet.pem notyet-key.pem &&
	connect_case notyet "it is not yet valid" "${CA[@]}"
stop_peer "$PEER_PID"

gserv_cert untrusted untrusted.pem untrusted-key.pem &&
	connect_case untrusted "not signed by a trusted CA" "${CA[@]}"
stop_peer "$PEER_PID"

# The other CA's server is not trusted by ca.pem alone (federation is opt-in).
gserv_cert other-ca server2.pem server2-key.pem &&
	connect_case other-ca "not signed by a trusted CA" "${CA[@]}"
stop_peer "$PEER_PID"

gserv_cert revoked revoked.pem revoked-key.pem && {
	connect_case revoked "it is revoked" "${CA[@]}" --crl "$PKI/crl.pem"
	# Control: the same server passes with a CRL that does not list it.
	echo hello | handoff connect "${FALLBACK[@]}" "${CA[@]}" --crl "$PKI/crl-empty.pem" \
		"localhost:$PORT" >"$WORK/revoked-control.got" 2>"$WORK/revoked-control.log"
	if [ $? -eq 0 ] && [ "$(cat "$WORK/revoked-control.got")" = hello ]; then
		pass "revoked-control: accepted with a CRL that does not list it"
	else
		fail "revoked-control: rejected with crl-empty.pem" "$WORK/revoked-control.log"
	fi
}
stop_peer "$PEER_PID"

# --- protocol and cipher policy
gserv_cert tls11-only server-rsa.pem server-rsa-key.pem \
	--priority "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0:%VERIFY_ALLOW_SIGN_WITH_SHA1" &&
	connect_case tls11-only "server sent fatal alert" "${CA[@]}"	# GnuTLS answers handshake_failure
stop_peer "$PEER_PID"

if command -v openssl >/dev/null 2>&1; then
	start_peer openssl-tls11 openssl s_server -accept @PORT@ -cert "$PKI/server-rsa.pem" \
		-key "$PKI/server-rsa-key.pem" -tls1_1 -cipher 'ALL:@SECLEVEL=0' -rev &&
		connect_case openssl-tls11-only "protocol version" "${CA[@]}"
	stop_peer "$PEER_PID"
fi

gserv_cert cbc-only server.pem server-key.pem \
	--priority "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC" &&
	connect_case cbc-only "server sent fatal alert: handshake_failure (Handshake failed)" "${CA[@]}"
stop_peer "$PEER_PID"

# --- our server: a client without the required certificate
start_serve no-client-cert "${FALLBACK[@]}" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" \
	--verify-client --ca-file "$PKI/ca.pem" --once 127.0.0.1:0 && {
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$PORT" \
		--x509cafile "$PKI/ca.pem" localhost >"$WORK/no-client-cert.cli" 2>&1
	wait_peer "$PEER_PID" 10
	expect_fail no-client-cert "client sent no certificate" "$WORK/no-client-cert.err" $?
	if has "$WORK/no-client-cert.cli" hello; then
		fail "no-client-cert: data was echoed to a client without a certificate"
	fi
}

# A client that offers only TLS 1.1 gets refused by our server, too.
start_serve old-client "${FALLBACK[@]}" --cert "$PKI/server-rsa.pem" \
	--key "$PKI/server-rsa-key.pem" --once 127.0.0.1:0 && {
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$PORT" \
		--x509cafile "$PKI/ca.pem" --priority "NORMAL:-VERS-ALL:+VERS-TLS1.1" localhost \
		>"$WORK/old-client.cli" 2>&1
	wait_peer "$PEER_PID" 10
	expect_fail old-client "no protocol version we accept" "$WORK/old-client.err" $?
}

# --- fake peers in python: garbage, a server that hangs up, one that stalls
cat >"$WORK/fake.py" <<'EOF'
import socket, sys, time
mode, arg = sys.argv[1], sys.argv[2]
if mode == "garbage-client":		# arg: port of our server
    s = socket.create_connection(("127.0.0.1", int(arg)), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" + bytes(range(256)) * 4)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    sys.exit(0)
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0))
l.listen(4)
with open(arg, "w") as f:		# arg: where to write our port
    f.write("%d\n" % l.getsockname()[1])
c, _ = l.accept()
c.settimeout(10)
if mode == "close-after-hello":
    c.recv(16384)
    c.close()
elif mode == "stall":
    time.sleep(15)
EOF

# fake_server NAME MODE: start it, PORT from its port file.
fake_server() {
	local name=$1 mode=$2 i
	rm -f "$WORK/$name.port"
	python3 "$WORK/fake.py" "$mode" "$WORK/$name.port" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PEER_PID=$!
	T_PIDS+=("$PEER_PID")
	for i in $(seq 1 100); do
		PORT=$(cat "$WORK/$name.port" 2>/dev/null)
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	fail "$name: fake server did not start" "$WORK/$name.err"
	return 1
}

start_serve garbage "${FALLBACK[@]}" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" \
	--once 127.0.0.1:0 && {
	timeout "$TMO" python3 "$WORK/fake.py" garbage-client "$PORT" >/dev/null 2>&1
	wait_peer "$PEER_PID" 10
	expect_fail garbage-clienthello "client did not speak TLS" "$WORK/garbage.err" $?
}

fake_server hangup close-after-hello &&
	connect_case server-hangs-up "server closed the connection during the handshake" "${CA[@]}"
stop_peer "$PEER_PID"

fake_server stall stall && {
	start=$(date +%s%N)
	echo hello | handoff connect "${FALLBACK[@]}" "${CA[@]}" --timeout 1000 \
		"localhost:$PORT" >"$WORK/timeout.got" 2>"$WORK/timeout.log"
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	expect_fail handshake-timeout "timed out" "$WORK/timeout.log" $rc
	# The lower bound proves the timeout was waited for; the upper one only
	# that it ended (a hang detector, not a speed target: under TCG the
	# per-process kernel probe alone takes over a second).
	if [ "$ms" -lt 900 ] || [ "$ms" -gt 10000 ]; then
		fail "handshake-timeout: took $ms ms for a 1000 ms timeout"
	else
		pass "handshake-timeout: gave up after $ms ms"
	fi
}
stop_peer "$PEER_PID"

# --- a private key every user may read: warned about (named, with what to
# do), not refused (helper/settings/settings.h says why), and served
cp "$PKI/server-key.pem" "$WORK/exposed-key.pem"
chmod 644 "$WORK/exposed-key.pem"
if start_serve exposed-key "${FALLBACK[@]}" --cert "$PKI/server.pem" --key "$WORK/exposed-key.pem" 127.0.0.1:0; then
	if has "$WORK/exposed-key.err" "handoff: warning: key $WORK/exposed-key.pem is readable by every user (mode 0644): chmod 600 it and replace the key"; then
		pass "exposed-key: warned, and serving on $PORT"
	else
		fail "exposed-key: no warning naming the key" "$WORK/exposed-key.err"
	fi
	stop_peer "$PEER_PID"
fi

# --- command line mistakes are usage errors (exit 2), not crashes
handoff connect --protocols tls1.1 localhost:1 >/dev/null 2>"$WORK/usage1.log"
rc=$?
if [ $rc -eq 2 ] && has "$WORK/usage1.log" "tls1.1"; then
	pass "usage: --protocols tls1.1 refused"
else
	fail "usage: --protocols tls1.1: exit $rc" "$WORK/usage1.log"
fi
handoff connect "${CA[@]}" no-port-here >/dev/null 2>"$WORK/usage2.log"
rc=$?
[ $rc -eq 2 ] && pass "usage: HOST without PORT refused" ||
	fail "usage: HOST without PORT: exit $rc" "$WORK/usage2.log"
handoff connect --ca-file "$WORK/does-not-exist.pem" localhost:1 >/dev/null \
	2>"$WORK/usage3.log"
rc=$?
[ $rc -ne 0 ] && has "$WORK/usage3.log" "does-not-exist.pem" &&
	pass "usage: missing CA file named in the error" ||
	fail "usage: missing CA file: exit $rc" "$WORK/usage3.log"

finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad input against programs under the shim, each with the exact errno the
# program sees and the shim's log line:
#   plaintext HTTP to a TLS port        ECONNABORTED, nothing served in plaintext
#   no client certificate (required)    ECONNABORTED
#   untrusted client certificate        ECONNABORTED
#   reset in the middle of a handshake  ECONNRESET
#   truncation (FIN, no close_notify)   the data, then ECONNRESET (not EOF)
#   fatal alert after the hand-off      ECONNRESET (client side)
#   a broken config                     refused at start: FILE:LINE: [section] key
# The programs under the shim are python3 (tests/shim/shimpeer.py server /
# client): they print "ERR errno=N NAME" for what the socket call raised.
#
# Needs kernel TLS (the VM: tests/vm/run.sh); skips (77) elsewhere.
# vm-once: plain (the shim's handling of broken peers and configs, the
# same under every kernel; its parsers and record handling are fuzzed
# under ASan (tests/fuzz): tests/run-all.sh runs it once, in the plain
# build's pass; tests/vm/suite.sh says how.)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-bad-input --map-names
need curl openssl
[ -x "$PY" ] || skip "python3 not installed"

CA=$PKI/ca.pem
SRV=(--cert "$PKI/server.pem" --key "$PKI/server-key.pem")

# expect_out NAME FILE TEXT: the program's output has TEXT.
expect_out() {
	if grep -qF -- "$3" "$2"; then
		pass "$1: $(grep -F -- "$3" "$2" | head -n1)"
	else
		fail "$1: the program's output lacks '$3'" "$2"
	fi
}

# wait_lines FILE N: wait (bounded) until FILE has N lines matching 'conn '.
wait_conn() {
	local i
	for i in $(seq 1 100); do
		grep -q "^conn $2: \(EOF\|recv\)" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

echo "## a TLS server program (python, blocking) and hostile clients"
PORT=$(random_port)
L=$WORK/srv.shim.log
if start_shim srv "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
	"$PY" -u "$SHIM_PY" server "$PORT" 3; then
	O=$WORK/srv.out
	# 1. plaintext HTTP to the TLS port
	timeout "$TMO" "$PY" "$SHIM_PY" plainhttp "$PORT" >"$WORK/plain.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		pass "plaintext HTTP to a TLS port: $(tail -n1 "$WORK/plain.out")"
	else
		fail "plaintext HTTP to a TLS port: plaintext came back" "$WORK/plain.out"
	fi
	wait_conn "$O" 0
	expect_out "plaintext HTTP: the program's recv" "$O" "conn 0: recv: ERR errno=103 ECONNABORTED"
	if grep -q "conn 0: READ" "$O"; then
		fail "plaintext HTTP: the program read the plaintext request" "$O"
	else
		pass "plaintext HTTP: the program never saw the plaintext bytes"
	fi
	log_has "plaintext HTTP" "$L" "handshake failed: client did not speak TLS (malformed record"
	# 2. half a ClientHello, then RST
	timeout "$TMO" "$PY" "$SHIM_PY" rst "$PORT" >"$WORK/rst.out" 2>&1
	wait_conn "$O" 1
	expect_out "reset mid-handshake: the program's recv" "$O" "conn 1: recv: ERR errno=104 ECONNRESET"
	log_has "reset mid-handshake" "$L" "handshake failed: connection to the client failed during the handshake: Connection reset by peer"
	# 3. truncation: data, then FIN without close_notify
	timeout "$TMO" "$PY" "$SHIM_PY" truncate "$PORT" "$CA" hello-then-fin >"$WORK/trunc.out" 2>&1
	wait_conn "$O" 2
	expect_out "truncation: the data arrives" "$O" "conn 2: READ 15 bytes: b'hello-then-fin\\n'"
	expect_out "truncation: then the program's recv fails" "$O" "conn 2: recv: ERR errno=104 ECONNRESET"
	if grep -q "^conn 2: EOF" "$O"; then
		fail "truncation: the program saw a clean EOF (a truncation attack would pass)" "$O"
	fi
	log_has "truncation" "$L" "connection failed: connection closed without close_notify (possible truncation attack)"
	stop_peer "$SPID"
	echo "# the shim's log:"
	sed 's/^/#   /' "$L"
fi

echo "## mutual TLS required: no certificate, untrusted certificate"
PORT=$(random_port)
L=$WORK/mtls.shim.log
if start_shim mtls "$PORT" "${SRV[@]}" --ca-file "$CA" --verify-client --accept "127.0.0.1:$PORT" -- \
	"$PY" -u "$SHIM_PY" server "$PORT" 3; then
	O=$WORK/mtls.out
	timeout "$TMO" curl -sS --cacert "$CA" "https://server.test:$PORT/" -o "$WORK/mt1.out" 2>"$WORK/mt1.err"
	rc=$?
	wait_conn "$O" 0
	if [ "$rc" != 0 ]; then
		pass "no client certificate: curl fails (exit $rc: $(head -c 120 "$WORK/mt1.err"))"
	else
		fail "no client certificate: curl succeeded" "$WORK/mt1.err"
	fi
	expect_out "no client certificate: the program's recv" "$O" "conn 0: recv: ERR errno=103 ECONNABORTED"
	log_has "no client certificate" "$L" "handshake failed: client sent no certificate, but one is required"
	timeout "$TMO" curl -sS --cacert "$CA" --cert "$PKI/untrusted.pem" --key "$PKI/untrusted-key.pem" \
		"https://server.test:$PORT/" -o "$WORK/mt2.out" 2>"$WORK/mt2.err"
	rc=$?
	wait_conn "$O" 1
	if [ "$rc" != 0 ]; then
		pass "untrusted client certificate: curl fails (exit $rc: $(head -c 120 "$WORK/mt2.err"))"
	else
		fail "untrusted client certificate: curl succeeded" "$WORK/mt2.err"
	fi
	expect_out "untrusted client certificate: the program's recv" "$O" "conn 1: recv: ERR errno=103 ECONNABORTED"
	log_has "untrusted client certificate" "$L" "handshake failed: client certificate rejected: it is not signed by a trusted CA"
	# and the good one still works on the same program
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client -quiet -no_ign_eof \
		-connect "127.0.0.1:$PORT" -servername server.test -CAfile "$CA" \
		-cert "$PKI/client.pem" -key "$PKI/client-key.pem" >"$WORK/mt3.out" 2>&1
	wait_conn "$O" 2
	expect_out "trusted client certificate: the program reads the request" "$O" "conn 2: READ 18 bytes: b'GET / HTTP/1.0"
	stop_peer "$SPID"
	echo "# the shim's log:"
	sed 's/^/#   /' "$L"
fi

echo "## a fatal alert after the hand-off (client under the shim)"
start_long salert openssl s_server -accept @PORT@ -www -cert "$PKI/server.pem" -key "$PKI/server-key.pem" &&
	UP=$PORT &&
	PPORT=$(random_port) && {
	timeout 600 "$PY" -u "$SHIM_PY" alertproxy "$PPORT" "$UP" >"$WORK/proxy.out" 2>&1 &
	T_PIDS+=("$!")
	wait_listen "$PPORT" "$!" 20
}
L=$WORK/alert.shim.log
run_shim "$L" --ca-file "$CA" --connect "$PPORT" -- \
	"$PY" "$SHIM_PY" client server.test "$PPORT" >"$WORK/alert.out" 2>&1
if has "$WORK/proxy.out" "corrupted client record"; then
	pass "alert: the proxy corrupted the program's first data record"
else
	fail "alert: the proxy did not corrupt a record" "$WORK/proxy.out"
fi
expect_out "fatal alert after the hand-off: the program's recv" "$WORK/alert.out" "io: ERR errno=104 ECONNRESET"
if grep -q "Ciphers supported" "$WORK/alert.out"; then
	fail "fatal alert: the program got data" "$WORK/alert.out"
fi
log_has "fatal alert after the hand-off" "$L" "connection failed: peer sent fatal alert: bad_record_mac"
echo "# the shim's log:"
sed 's/^/#   /' "$L"

echo "## an exec'd program inherits a connection before its handshake"
# socat ...,fork SYSTEM:...,nofork execs the command with the accepted socket
# itself as stdin/stdout, before any byte was read: the new image's shim
# knows nothing of that fd.  Whatever happens, the program's words must not
# reach a client in plaintext, and a TLS client must not be served them
# unprotected either.
PORT=$(random_port)
if start_shim nofork "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
	socat "TCP-LISTEN:$PORT,bind=127.0.0.1,fork,reuseaddr" SYSTEM:'echo SECRET-BANNER; exec cat',nofork; then
	timeout 10 "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
got = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except OSError as e:
    print("recv:", e)
print("plaintext client got %d bytes: %r" % (len(got), got[:40]))
' "$PORT" >"$WORK/nofork.plain" 2>&1
	if grep -q "SECRET-BANNER" "$WORK/nofork.plain"; then
		# Fixed in f5d2bbf (exec hooks): this was a fail-open across exec of a not-yet-handshaken fd.
		fail "REGRESSION(fail-open across exec, fixed in f5d2bbf) nofork: a plaintext client got the program's banner: $(tail -n1 "$WORK/nofork.plain")" \
			"$WORK/nofork.shim.log"
	else
		pass "nofork: a plaintext client got nothing in plaintext: $(tail -n1 "$WORK/nofork.plain")"
	fi
	timeout 10 "$PY" "$SHIM_PY" banner "$PORT" "$CA" SECRET-BANNER >"$WORK/nofork.tls" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		pass "nofork: a TLS client gets the banner over TLS"
	else
		fail "REGRESSION(exec, fixed in f5d2bbf) nofork: a TLS client does not get the banner over TLS (exit $rc: $(tail -n1 "$WORK/nofork.tls"))" \
			"$WORK/nofork.shim.log" "$WORK/nofork.err"
	fi
	stop_peer "$SPID"
fi

echo "## an exec'd program reads the peer's close_notify as the end of the stream"
# The connection is already TLS when the shell (and, after fork and exec,
# cat) starts: the new images adopt it (libshim/core/inherit.c), so the
# client's close_notify ends cat's input like a plain EOF.  Without that,
# cat's read fails with EIO at that record and it exits 1.
PORT=$(random_port)
if start_shim inherit "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
	socat "TCP-LISTEN:$PORT,bind=127.0.0.1,fork,reuseaddr" SYSTEM:'cat; echo "cat-exit=$?" >&2',nofork; then
	timeout 20 "$PY" "$SHIM_PY" echo "$PORT" "$CA" 100000 >"$WORK/inherit.tls" 2>&1
	rc=$?
	for _ in $(seq 50); do
		grep -q "cat-exit=" "$WORK/inherit.err" && break
		sleep 0.1
	done
	if [ "$rc" = 0 ] && grep -q "cat-exit=0" "$WORK/inherit.err" && ! grep -q "Input/output error" "$WORK/inherit.err"; then
		pass "inherited: 100000 bytes echoed by cat after exec, and the client's close_notify ended its input ($(grep -o 'cat-exit=[0-9]*' "$WORK/inherit.err"))"
	else
		fail "inherited: echo exit $rc, $(tail -n1 "$WORK/inherit.tls"); cat: $(grep -E 'cat-exit|error' "$WORK/inherit.err" | tr '\n' ' ')" \
			"$WORK/inherit.err" "$WORK/inherit.shim.log"
	fi
	stop_peer "$SPID"
fi

echo "## a broken config"
cat >"$WORK/bad.ini" <<EOF
[shim]
log = stderr

[accept 8443]
cert = $PKI/server.pem
key = $PKI/server-key.pem
bogus-key = yes
EOF
cat >"$WORK/badcert.ini" <<EOF
[accept 8443]
cert = $WORK/no-such-cert.pem
key = $PKI/server-key.pem
EOF
cat >"$WORK/good.ini" <<EOF
[shim]
log = $WORK/good.log

[accept 127.0.0.1:8443]
cert = $PKI/server.pem
key = $PKI/server-key.pem
verify-client = yes
ca-file = $CA

[connect server.test:443]
ca-file = $CA
EOF
# config_refused NAME FILE EXPECT-IN-STDERR CMD...
config_refused() {
	local name=$1 file=$2 want=$3 rc
	shift 3
	rm -f "$WORK/started"
	timeout "$TMO" "$@" >"$WORK/cfg.out" 2>"$WORK/cfg.err"
	rc=$?
	if [ "$rc" != 0 ] && grep -qF -- "$want" "$WORK/cfg.err" && [ ! -e "$WORK/started" ]; then
		pass "$name: exit $rc, program not started: $(head -n1 "$WORK/cfg.err")"
	else
		fail "$name: exit $rc, want an error with '$want'$([ -e "$WORK/started" ] && echo ', and the PROGRAM RAN')" \
			"$WORK/cfg.err" "$WORK/cfg.out"
	fi
}
config_refused "handoff run --config bad.ini" bad "$WORK/bad.ini:7: [accept 8443] bogus-key:" \
	"$HANDOFF_CLI" run --config "$WORK/bad.ini" -- touch "$WORK/started"
config_refused "HANDOFF_SHIM_CONFIG=bad.ini LD_PRELOAD=shim" bad "handoff-preload: $WORK/bad.ini:7: [accept 8443] bogus-key:" \
	env HANDOFF_SHIM_CONFIG="$WORK/bad.ini" LD_PRELOAD="$(shim_preload_list)" /usr/bin/touch "$WORK/started"
# Fixed in f5d2bbf: a missing file was reported at its section's line, without the key's name.
config_refused "REGRESSION(config line and key, fixed in f5d2bbf) handoff run --config badcert.ini (missing certificate file)" badcert \
	"$WORK/badcert.ini:2: [accept 8443] cert:" \
	"$HANDOFF_CLI" run --config "$WORK/badcert.ini" -- touch "$WORK/started"
config_refused "LD_PRELOAD=shim without any configuration" none "no configuration" \
	env -u HANDOFF_SHIM_CONFIG -u HANDOFF_SHIM_INI LD_PRELOAD="$(shim_preload_list)" /usr/bin/touch "$WORK/started"
config_refused "handoff run --check-config bad.ini" bad "$WORK/bad.ini:7: [accept 8443] bogus-key:" \
	"$HANDOFF_CLI" run --config "$WORK/bad.ini" --check-config
config_refused "handoff run --accept without a certificate" flags "handoff run" \
	"$HANDOFF_CLI" run --accept 8443 -- touch "$WORK/started"
out=$("$HANDOFF_CLI" run --config "$WORK/good.ini" --check-config 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ "$out" = "configuration ok: 1 accept and 1 connect rules" ]; then
	pass "handoff run --check-config good.ini: '$out'"
else
	fail "handoff run --check-config good.ini: exit $rc, '$out'"
fi
out=$("$HANDOFF_CLI" run "${SRV[@]}" --accept 8443 --check-config 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ "$out" = "configuration ok: 1 accept and 0 connect rules" ]; then
	pass "handoff run --accept 8443 --check-config: '$out'"
else
	fail "handoff run --accept --check-config: exit $rc, '$out'"
fi
finish

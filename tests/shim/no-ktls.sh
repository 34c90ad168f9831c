#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Host side (plain `make check`, no VM): with no kernel TLS the shim fails
# closed.  A plaintext server under `handoff run --accept` refuses TLS
# clients (curl fails), its log says `modprobe tls`, the program's read
# gets an error (ECONNABORTED), and nothing is ever served in plaintext,
# not even to a plaintext client.  Also what needs no kernel at all: a
# static program is refused, a broken config stops the program at start.
#
# Skips (77) where the kernel HAS kTLS (the VM runs the real tests there).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ "${HANDOFF_TEST_KTLS:-0}" = 1 ] || [ -e /proc/net/tls_stat ] ||
	grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
	echo "# shim-no-ktls: 0 passed, 0 failed (this kernel has kTLS: see servers.sh and friends)"
	skip "this kernel has kernel TLS"
fi
shim_setup shim-no-ktls --any-kernel
need curl
[ -x "$PY" ] || skip "python3 not installed"

CA=$PKI/ca.pem
WWW=$WORK/www
mkdir -p "$WWW"
echo "plaintext that must never leave unprotected" >"$WWW/index.html"

PORT=$(random_port)
L=$WORK/py.shim.log
if start_shim py "$PORT" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --accept "127.0.0.1:$PORT" -- \
	"$PY" -m http.server "$PORT" --bind 127.0.0.1 --directory "$WWW"; then
	timeout "$TMO" curl -sS --cacert "$CA" --resolve "server.test:$PORT:127.0.0.1" \
		"https://server.test:$PORT/index.html" -o "$WORK/got" 2>"$WORK/curl.err"
	rc=$?
	if [ "$rc" != 0 ] && ! [ -s "$WORK/got" ]; then
		pass "no kTLS: curl refused (exit $rc: $(head -c 100 "$WORK/curl.err"))"
	else
		fail "no kTLS: curl exit $rc, $(stat -c %s "$WORK/got" 2>/dev/null) bytes" "$WORK/curl.err"
	fi
	log_has "no kTLS" "$L" "modprobe tls"
	timeout "$TMO" "$PY" "$SHIM_PY" plainhttp "$PORT" >"$WORK/plain.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		pass "no kTLS: a plaintext client gets no plaintext: $(tail -n1 "$WORK/plain.out")"
	else
		fail "no kTLS: plaintext served to a plaintext client" "$WORK/plain.out"
	fi
	sleep 0.3
	if grep -q "ConnectionAbortedError: \[Errno 103\]" "$WORK/py.err"; then
		pass "no kTLS: the program's read failed with ECONNABORTED"
	else
		fail "no kTLS: the program did not get ECONNABORTED" "$WORK/py.err"
	fi
	if grep -q '"GET /index.html' "$WORK/py.err"; then
		fail "no kTLS: the program served a request" "$WORK/py.err"
	else
		pass "no kTLS: the program never served a request"
	fi
	stop_peer "$SPID"
fi

# A client under the shim: connect refused or failed, no data.
PORT=$(random_port)
timeout 30 "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); print("listening", flush=True)
while True:
    c, _ = s.accept(); c.recv(4096); c.sendall(b"HTTP/1.0 200 OK\r\n\r\nPLAINTEXT-REPLY\n"); c.close()
' "$PORT" >"$WORK/plainsrv.out" 2>&1 &
T_PIDS+=("$!")
wait_listen "$PORT" "$!" 20
run_shim "$WORK/cli.shim.log" --ca-file "$CA" --verify-address --connect "$PORT" -- \
	curl -sS "http://127.0.0.1:$PORT/" >"$WORK/cli.out" 2>"$WORK/cli.err"
rc=$?
if [ "$rc" != 0 ] && ! grep -q PLAINTEXT-REPLY "$WORK/cli.out"; then
	pass "no kTLS, client side: curl fails (exit $rc: $(head -c 100 "$WORK/cli.err"))"
else
	fail "no kTLS, client side: curl exit $rc, got $(head -c 60 "$WORK/cli.out")" "$WORK/cli.shim.log"
fi
log_has "no kTLS, client side" "$WORK/cli.shim.log" "modprobe tls"

# Needs no kernel: static programs, broken configs.
if file -L /bin/busybox 2>/dev/null | grep -q "statically linked"; then
	out=$("$HANDOFF_CLI" run --ca-file "$CA" --connect 443 -- /bin/busybox true 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && [[ $out == *"statically linked"* ]]; then
		pass "static /bin/busybox refused: exit $rc: $out"
	else
		fail "static /bin/busybox: exit $rc, '$out'"
	fi
fi
printf '[accept 8443]\ncert = %s\nkey = %s\nno-such-key = 1\n' "$PKI/server.pem" "$PKI/server-key.pem" >"$WORK/bad.ini"
rm -f "$WORK/started"
out=$(env HANDOFF_SHIM_CONFIG="$WORK/bad.ini" LD_PRELOAD="$(shim_preload_list)" /usr/bin/touch "$WORK/started" 2>&1)
rc=$?
if [ "$rc" != 0 ] && [ ! -e "$WORK/started" ] &&
	[[ $out == *"$WORK/bad.ini:4: [accept 8443] no-such-key:"* ]]; then
	pass "broken config via HANDOFF_SHIM_CONFIG: program stopped at start: $out"
else
	fail "broken config via HANDOFF_SHIM_CONFIG: exit $rc, '$out'"
fi
out=$("$HANDOFF_CLI" run --config "$WORK/bad.ini" --check-config 2>&1)
rc=$?
if [ "$rc" != 0 ] && [[ $out == *"bad.ini:4: [accept 8443] no-such-key:"* ]]; then
	pass "handoff run --check-config bad.ini: exit $rc: $out"
else
	fail "handoff run --check-config bad.ini: exit $rc, '$out'"
fi
finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Plaintext clients nobody here wrote, made TLS clients by `handoff run
# --connect` (with --ca-file): curl http://, python3 urllib, socat and
# busybox wget, against openssl s_server -www/-WWW and gnutls-serv --http.
# The name sent (SNI) and verified is the one the program resolved; a
# server whose certificate lacks that name gives the program an error, not
# data, and the shim's log names the cause.  Also: `handoff run` refuses a
# static program (Debian's /bin/busybox), and a dynamic busybox (see
# fetch-busybox.sh; HANDOFF_BUSYBOX) serves as a fork-per-connection
# server (httpd) and a client (wget) under the shim.
#
# Needs kernel TLS (the VM: tests/vm/run.sh); skips (77) elsewhere.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-clients --map-names
need curl openssl gnutls-serv socat
[ -x "$PY" ] || skip "python3 not installed"

CA=$PKI/ca.pem
CLI=(--ca-file "$CA")
WWW=$WORK/www
mkdir -p "$WWW"
echo "hello from a TLS server to a client under the shim" >"$WWW/index.html"
head -c 1048576 /dev/urandom >"$WWW/rand.bin"
H_RAND=$(sha "$WWW/rand.bin")

# peers: s_server -www (status page), s_server -WWW (files, for sha256),
# gnutls-serv --http, and s_server with a certificate for other.test only.
start_long sserver openssl s_server -accept @PORT@ -www \
	-cert "$PKI/server.pem" -key "$PKI/server-key.pem" || finish
P_WWW=$PORT
start_long sfiles bash -c "cd '$WWW' && exec openssl s_server -accept @PORT@ -WWW \
	-cert '$PKI/server.pem' -key '$PKI/server-key.pem'" || finish
P_FILES=$PORT
start_long gserv gnutls-serv --http -p @PORT@ --x509certfile "$PKI/server.pem" \
	--x509keyfile "$PKI/server-key.pem" || finish
P_GNUTLS=$PORT
start_long wrong openssl s_server -accept @PORT@ -www -cert "$PKI/wrongname.pem" \
	-key "$PKI/wrongname-key.pem" || finish
P_WRONG=$PORT
start_long sni "$PY" "$SHIM_PY" sniserver @PORT@ "$PKI/server.pem" "$PKI/server-key.pem" || finish
P_SNI=$PORT

echo "## curl http:// under the shim"
stat_mark
L=$WORK/curl.shim.log
run_shim "$L" "${CLI[@]}" --connect "server.test:$P_WWW" -- \
	curl -sS "http://server.test:$P_WWW/" >"$WORK/curl.out" 2>"$WORK/curl.err"
rc=$?
if [ "$rc" = 0 ] && has "$WORK/curl.out" "Ciphers supported in s_server"; then
	pass "curl -> openssl s_server -www: status page received"
else
	fail "curl -> openssl s_server -www: exit $rc" "$WORK/curl.err" "$WORK/curl.out" "$L"
fi
if has "$WORK/curl.out" "TLSv1.3"; then
	pass "curl -> s_server: the server saw TLS 1.3"
else
	fail "curl -> s_server: no 'TLSv1.3' on the status page" "$WORK/curl.out"
fi
log_has "curl" "$L" ", name server.test"
stat_check "curl client"

run_shim "$WORK/curlf.shim.log" "${CLI[@]}" --connect "$P_FILES" -- \
	curl -sS "http://server.test:$P_FILES/rand.bin" -o "$WORK/got.rand" 2>"$WORK/curlf.err"
rc=$?
if [ "$rc" = 0 ] && [ "$(sha "$WORK/got.rand")" = "$H_RAND" ]; then
	pass "curl -> openssl s_server -WWW ([connect PORT] rule): 1 MiB, sha256 matches"
else
	fail "curl -> s_server -WWW: exit $rc, sha256 $(sha "$WORK/got.rand" 2>/dev/null)" \
		"$WORK/curlf.err" "$WORK/curlf.shim.log"
fi

run_shim "$WORK/curlg.shim.log" "${CLI[@]}" --connect "server.test:$P_GNUTLS" -- \
	curl -sS "http://server.test:$P_GNUTLS/" >"$WORK/curlg.out" 2>"$WORK/curlg.err"
rc=$?
if [ "$rc" = 0 ] && has "$WORK/curlg.out" "GnuTLS"; then
	pass "curl -> gnutls-serv --http: page received"
else
	fail "curl -> gnutls-serv --http: exit $rc" "$WORK/curlg.err" "$WORK/curlg.out" "$WORK/curlg.shim.log"
fi

echo "## python3 urllib under the shim (two requests: the second resumes)"
L=$WORK/py.shim.log
run_shim "$L" "${CLI[@]}" --connect "server.test:$P_FILES" -- "$PY" -c '
import hashlib, sys, urllib.request
for i in range(2):
    b = urllib.request.urlopen(sys.argv[1], timeout=20).read()
    print(len(b), hashlib.sha256(b).hexdigest())
' "http://server.test:$P_FILES/rand.bin" >"$WORK/py.out" 2>"$WORK/py.err"
rc=$?
if [ "$rc" = 0 ] && [ "$(grep -c " $H_RAND\$" "$WORK/py.out")" = 2 ]; then
	pass "python3 urllib -> s_server -WWW: 2 x 1 MiB, sha256 matches"
else
	fail "python3 urllib: exit $rc" "$WORK/py.out" "$WORK/py.err" "$L"
fi
if [ "$(grep -c ", resumed" "$L")" -ge 1 ]; then
	pass "python3 urllib: the second connection resumed the first's session (in-process cache)"
else
	fail "python3 urllib: no resumed connection in the shim's log" "$L"
fi

run_shim "$WORK/pyg.shim.log" "${CLI[@]}" --connect "server.test:$P_GNUTLS" -- "$PY" -c '
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode(errors="replace"))
' "http://server.test:$P_GNUTLS/" >"$WORK/pyg.out" 2>"$WORK/pyg.err"
rc=$?
if [ "$rc" = 0 ] && has "$WORK/pyg.out" "GnuTLS"; then
	pass "python3 urllib -> gnutls-serv --http"
else
	fail "python3 urllib -> gnutls-serv: exit $rc" "$WORK/pyg.err" "$WORK/pyg.shim.log"
fi

echo "## SNI: the name the program resolved"
run_shim "$WORK/sni.shim.log" "${CLI[@]}" --connect "$P_SNI" -- \
	"$PY" "$SHIM_PY" client server.test "$P_SNI" 'hi\n' >"$WORK/sni.out" 2>&1
if has "$WORK/sni.out" "SNI=server.test"; then
	pass "SNI: the server got 'server.test' from a program that resolved server.test"
else
	fail "SNI: server did not get server.test" "$WORK/sni.out" "$WORK/sni.shim.log"
fi

echo "## socat under the shim"
printf 'GET / HTTP/1.0\r\n\r\n' | run_shim "$WORK/socat.shim.log" "${CLI[@]}" --connect "server.test:$P_GNUTLS" -- \
	socat - "TCP:server.test:$P_GNUTLS" >"$WORK/socat.out" 2>"$WORK/socat.err"
rc=$?
if [ "$rc" = 0 ] && has "$WORK/socat.out" "GnuTLS"; then
	pass "socat - TCP:server.test -> gnutls-serv --http"
else
	# KNOWN-FAIL (intermittent, seen at f5d2bbf on 6.12 in 2 of 3 runs): socat
	# (blocking fds, poll) hangs after the handshake; meanwhile the watcher thread
	# spins on poll(POLLOUT) + fcntl for the blocking client socket.
	fail "KNOWN-FAIL(intermittent: socat client hang after the handshake) socat -> gnutls-serv: exit $rc" \
		"$WORK/socat.err" "$WORK/socat.out" "$WORK/socat.shim.log"
fi
printf 'GET /rand.bin HTTP/1.0\r\n\r\n' | run_shim "$WORK/socat2.shim.log" "${CLI[@]}" --connect "server.test:$P_FILES" -- \
	socat - "TCP:server.test:$P_FILES" >"$WORK/socat2.out" 2>"$WORK/socat2.err"
rc=$?
# s_server -WWW answers "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n" and the file.
"$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d.partition(b"\r\n\r\n")[2])' \
	"$WORK/socat2.out" >"$WORK/socat2.body"
if [ "$rc" = 0 ] && [ "$(sha "$WORK/socat2.body")" = "$H_RAND" ]; then
	pass "socat -> s_server -WWW: 1 MiB, sha256 matches"
else
	fail "socat -> s_server -WWW: exit $rc, body sha256 $(sha "$WORK/socat2.body")" "$WORK/socat2.err" "$WORK/socat2.shim.log"
fi

echo "## wrong name: other.test's certificate served for server.test"
L=$WORK/wrong.shim.log
run_shim "$L" "${CLI[@]}" --connect "$P_WRONG" -- \
	curl -sS "http://server.test:$P_WRONG/" >"$WORK/wrong.out" 2>"$WORK/wrong.err"
rc=$?
if [ "$rc" != 0 ] && ! [ -s "$WORK/wrong.out" ]; then
	pass "wrong name: curl failed (exit $rc: $(head -c 100 "$WORK/wrong.err" | tr -d "\0")), no data"
else
	fail "wrong name: curl exit $rc with $(stat -c %s "$WORK/wrong.out") bytes of data" "$WORK/wrong.out" "$L"
fi
log_has "wrong name" "$L" "not valid for the name \"server.test\""
run_shim "$WORK/wrongpy.shim.log" "${CLI[@]}" --connect "$P_WRONG" -- \
	"$PY" "$SHIM_PY" client server.test "$P_WRONG" >"$WORK/wrongpy.out" 2>&1
if grep -q "ERR errno=103 ECONNABORTED" "$WORK/wrongpy.out" && ! grep -q "Ciphers supported" "$WORK/wrongpy.out"; then
	pass "wrong name: the program's call fails with ECONNABORTED: $(grep ERR "$WORK/wrongpy.out")"
else
	fail "wrong name: python program did not get ECONNABORTED" "$WORK/wrongpy.out" "$WORK/wrongpy.shim.log"
fi
run_shim "$WORK/right.shim.log" "${CLI[@]}" --connect "$P_WRONG" -- \
	curl -sS "http://other.test:$P_WRONG/" >"$WORK/right.out" 2>"$WORK/right.err"
rc=$?
if [ "$rc" = 0 ] && has "$WORK/right.out" "Ciphers supported"; then
	pass "the same server as other.test (the name in its certificate): served"
else
	fail "other.test with its own certificate: exit $rc" "$WORK/right.err" "$WORK/right.shim.log"
fi

echo "## a bare address is not verified unless asked"
run_shim "$WORK/bare.shim.log" "${CLI[@]}" --connect "$P_WWW" -- \
	curl -sS "http://127.0.0.1:$P_WWW/" >"$WORK/bare.out" 2>"$WORK/bare.err"
rc=$?
if [ "$rc" != 0 ] && ! [ -s "$WORK/bare.out" ] && has "$WORK/bare.shim.log" "did not resolve a name"; then
	pass "bare address without --verify-address: connect refused (curl exit $rc), log says why"
else
	fail "bare address: curl exit $rc" "$WORK/bare.out" "$WORK/bare.shim.log"
fi
run_shim "$WORK/barev.shim.log" "${CLI[@]}" --verify-address --connect "$P_WWW" -- \
	curl -sS "http://127.0.0.1:$P_WWW/" >"$WORK/barev.out" 2>"$WORK/barev.err"
rc=$?
if [ "$rc" = 0 ] && has "$WORK/barev.out" "Ciphers supported"; then
	pass "bare address with --verify-address (cert has IP 127.0.0.1): served"
else
	fail "bare address with --verify-address: exit $rc" "$WORK/barev.err" "$WORK/barev.shim.log"
fi

echo "## busybox"
out=$("$HANDOFF_CLI" run "${CLI[@]}" --connect 443 -- /bin/busybox true 2>&1)
rc=$?
if file -L /bin/busybox 2>/dev/null | grep -q "statically linked"; then
	if [ "$rc" != 0 ] && [[ $out == *"statically linked"* ]]; then
		pass "static /bin/busybox refused: exit $rc, '$out'"
	else
		fail "static /bin/busybox: exit $rc, '$out'"
	fi
fi
BB=${HANDOFF_BUSYBOX:-}
for c in "$BB" "/root/.cache/handoff-vm/busybox/root/bin/busybox" \
	"${XDG_CACHE_HOME:-$HOME/.cache}/handoff-vm/busybox/root/bin/busybox"; do
	if [ -n "$c" ] && [ -x "$c" ]; then
		BB=$c
		break
	fi
done
if [ -z "$BB" ] || [ ! -x "$BB" ]; then
	fail "no dynamic busybox (run tests/shim/fetch-busybox.sh on the host, export HANDOFF_BUSYBOX)"
else
	run_shim "$WORK/wget.shim.log" "${CLI[@]}" --connect "server.test:$P_FILES" -- \
		"$BB" wget -q -O "$WORK/wget.rand" "http://server.test:$P_FILES/rand.bin" 2>"$WORK/wget.err"
	rc=$?
	if [ "$rc" = 0 ] && [ "$(sha "$WORK/wget.rand")" = "$H_RAND" ]; then
		pass "busybox wget -> s_server -WWW: 1 MiB, sha256 matches"
	else
		# KNOWN-FAIL (shim): wget reads through stdio (fdopen + fgets); glibc's
		# internal read is out of the hook's reach, so the TLS 1.3 session
		# ticket record after the handshake reaches the program as EIO.
		fail "KNOWN-FAIL(shim: stdio read gets EIO on the session ticket) busybox wget: exit $rc" \
			"$WORK/wget.err" "$WORK/wget.shim.log"
	fi
	run_shim "$WORK/wgetw.shim.log" "${CLI[@]}" --connect "$P_WRONG" -- \
		"$BB" wget -q -O "$WORK/wgetw.out" "http://server.test:$P_WRONG/" 2>"$WORK/wgetw.err"
	rc=$?
	if [ "$rc" != 0 ] && ! [ -s "$WORK/wgetw.out" ]; then
		pass "busybox wget, wrong name: exit $rc ($(head -c 100 "$WORK/wgetw.err")), no data"
	else
		fail "busybox wget, wrong name: exit $rc" "$WORK/wgetw.out" "$WORK/wgetw.shim.log"
	fi
	PORT=$(random_port)
	stat_mark
	if start_shim httpd "$PORT" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" \
		--accept "127.0.0.1:$PORT" -- "$BB" httpd -f -p "127.0.0.1:$PORT" -h "$WWW"; then
		ok=0
		for i in 1 2 3; do
			timeout "$TMO" curl -sS --cacert "$CA" "https://server.test:$PORT/rand.bin" \
				-o "$WORK/httpd.$i" 2>"$WORK/httpd.curl.err" &&
				[ "$(sha "$WORK/httpd.$i")" = "$H_RAND" ] && ok=$((ok + 1))
		done
		if [ "$ok" = 3 ]; then
			pass "busybox httpd (fork per connection): 3 x 1 MiB by curl, sha256 matches"
		else
			# Fixed in f5d2bbf: httpd's child does dup2(fd, 0); close(fd); dup2(0, 1), and
			# the engine kept the accepted fd number, closed by then (EBADF at TCP_ULP).
			fail "REGRESSION(dup2+close, fixed in f5d2bbf) busybox httpd: $ok of 3 downloads right" \
				"$WORK/httpd.curl.err" "$WORK/httpd.shim.log" "$WORK/httpd.err"
		fi
		printf 'GET /index.html HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client -quiet \
			-connect "127.0.0.1:$PORT" -servername server.test -verify_return_error -CAfile "$CA" \
			>"$WORK/httpd.sc" 2>&1
		if has "$WORK/httpd.sc" "hello from a TLS server"; then
			pass "busybox httpd with openssl s_client"
		else
			fail "REGRESSION(dup2+close, fixed in f5d2bbf) busybox httpd with openssl s_client" "$WORK/httpd.sc" "$WORK/httpd.shim.log"
		fi
		stat_check "busybox httpd"
		established "busybox httpd" "$WORK/httpd.shim.log" 4
		stop_peer "$SPID"
	fi
fi

finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Plaintext servers nobody here wrote, made TLS servers by `handoff run
# --accept`: python3 -m http.server (blocking, a thread per connection),
# socat (fork per connection; plain echo and server-first banner), nginx
# (epoll, 2 worker processes, sendfile) and our edge-triggered epoll echo
# server.  Clients: curl (with the test CA; with and without a client
# certificate), openssl s_client (with -sess_out/-sess_in resumption; and
# -servername for each of the two names http.server serves by SNI),
# gnutls-cli, and a python ssl client for byte-exact echo.  Content is
# compared by sha256, the kernel's TLS counters must move and
# TlsDecryptError must stay put; a big file goes through nginx's sendfile.
#
# Needs kernel TLS (the VM: tests/vm/run.sh); skips (77) elsewhere.
# HANDOFF_SHIM_BIG_MB: size of the nginx sendfile download (default 64).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-servers --map-names
need curl openssl gnutls-cli socat
[ -x "$PY" ] || skip "python3 not installed"

CA=$PKI/ca.pem
SRV=(--cert "$PKI/server.pem" --key "$PKI/server-key.pem")
WWW=$WORK/www
mkdir -p "$WWW"
echo "hello from a plaintext server under the shim" >"$WWW/index.html"
head -c 1048576 /dev/urandom >"$WWW/rand.bin"
H_INDEX=$(sha "$WWW/index.html")
H_RAND=$(sha "$WWW/rand.bin")
REQ='GET /index.html HTTP/1.0\r\nHost: server.test\r\n\r\n'

# get_check NAME URL FILE-IN-WWW [CURL-ARGS...]: curl fetches it byte-exact.
get_check() {
	local name=$1 url=$2 file=$3 rc h
	shift 3
	timeout "$TMO" curl -sS --cacert "$CA" "$@" "$url" -o "$WORK/got.$name" 2>"$WORK/curl.$name.err"
	rc=$?
	h=$( [ -f "$WORK/got.$name" ] && sha "$WORK/got.$name")
	if [ "$rc" = 0 ] && [ "$h" = "$(sha "$WWW/$file")" ]; then
		pass "$name: curl $url: $(stat -c %s "$WORK/got.$name") bytes, sha256 matches"
	else
		fail "$name: curl $url: exit $rc, sha256 ${h:-none} (want $(sha "$WWW/$file"))" \
			"$WORK/curl.$name.err"
	fi
	rm -f "$WORK/got.$name"
}

# sclient_resume NAME PORT: openssl s_client twice, the second resumes.
sclient_resume() {
	local name=$1 port=$2 i reused=0
	rm -f "$WORK/sess.$name"
	printf "$REQ" | timeout "$TMO" openssl s_client -connect "127.0.0.1:$port" \
		-servername server.test -verify_hostname server.test -verify_return_error \
		-CAfile "$CA" -sess_out "$WORK/sess.$name" -ign_eof >"$WORK/s1.$name" 2>&1
	if has "$WORK/s1.$name" "Verify return code: 0 (ok)" && has "$WORK/s1.$name" "New, TLSv1." &&
		has "$WORK/s1.$name" "hello from a plaintext server"; then
		pass "$name: openssl s_client: verified, new session, content served"
	else
		fail "$name: openssl s_client: first connection" "$WORK/s1.$name"
	fi
	if [ ! -s "$WORK/sess.$name" ]; then
		fail "$name: openssl s_client -sess_out wrote no session (no ticket received)"
		return
	fi
	for i in 1 2 3; do
		printf "$REQ" | timeout "$TMO" openssl s_client -connect "127.0.0.1:$port" \
			-servername server.test -CAfile "$CA" -sess_in "$WORK/sess.$name" -ign_eof \
			>"$WORK/s2.$name.$i" 2>&1
		if has "$WORK/s2.$name.$i" "Reused, TLSv1." && has "$WORK/s2.$name.$i" "hello from a plaintext server"; then
			reused=$((reused + 1))
		fi
	done
	if [ "$reused" = 3 ]; then
		pass "$name: openssl s_client -sess_in: 3 of 3 connections say Reused"
	else
		fail "$name: openssl s_client -sess_in: $reused of 3 connections resumed" "$WORK/s2.$name.3"
	fi
}

# gnutls_get NAME PORT: gnutls-cli, a GET, and a resumed second connection (-r).
gnutls_get() {
	local name=$1 port=$2
	printf "$REQ" | timeout "$TMO" gnutls-cli --x509cafile "$CA" -p "$port" -r server.test \
		>"$WORK/gc.$name" 2>&1
	if has "$WORK/gc.$name" "hello from a plaintext server" && has "$WORK/gc.$name" "Handshake was completed"; then
		pass "$name: gnutls-cli: verified handshake, content served"
	else
		fail "$name: gnutls-cli" "$WORK/gc.$name"
	fi
	if has "$WORK/gc.$name" "This is a resumed session"; then
		pass "$name: gnutls-cli -r: resumed"
	else
		fail "$name: gnutls-cli -r: not resumed" "$WORK/gc.$name"
	fi
}

# sni_check NAME PORT SERVERNAME CERT: asking for SERVERNAME, openssl s_client is
# shown CERT (its fingerprint) and served the page; curl, verifying that name, fetches it.
sni_check() {
	local name=$1 port=$2 sn=$3 cert=$4 got want
	printf "$REQ" | timeout "$TMO" openssl s_client -connect "127.0.0.1:$port" \
		-servername "$sn" -verify_hostname "$sn" -verify_return_error -CAfile "$CA" \
		-ign_eof >"$WORK/sni.$name" 2>&1
	got=$(openssl x509 -noout -fingerprint -sha256 -in "$WORK/sni.$name" 2>/dev/null)
	want=$(openssl x509 -noout -fingerprint -sha256 -in "$PKI/$cert")
	if [ "$got" = "$want" ] && has "$WORK/sni.$name" "hello from a plaintext server"; then
		pass "$name: openssl s_client -servername $sn: shown $cert, content served"
	else
		fail "$name: openssl s_client -servername $sn: not shown $cert, or no content" \
			"$WORK/sni.$name"
	fi
	get_check "$name-curl" "https://$sn:$port/index.html" index.html \
		--resolve "$sn:$port:127.0.0.1"
}

# no_program_errors NAME FILE: the shim logged no failure for good clients.
no_shim_failures() {
	if grep -E "failed|refusing" "$2" >/dev/null 2>&1; then
		fail "$1: the shim logged failures for well-behaved clients" "$2"
	else
		pass "$1: no failure in the shim's log"
	fi
}

CUR_TX0=$(tls_stat TlsCurrTxSw)
CUR_RX0=$(tls_stat TlsCurrRxSw)

echo "## python3 -m http.server (blocking, threads), two names (SNI)"
PORT=$(random_port)
if start_shim py "$PORT" "${SRV[@]}" --cert "$PKI/second.pem" --key "$PKI/second-key.pem" \
	--accept "127.0.0.1:$PORT" -- \
	"$PY" -m http.server "$PORT" --bind 127.0.0.1 --directory "$WWW"; then
	get_check py-index "https://server.test:$PORT/index.html" index.html
	stat_mark
	get_check py-rand "https://server.test:$PORT/rand.bin" rand.bin
	get_check py-index2 "https://server.test:$PORT/index.html" index.html
	stat_check "python http.server" 2
	sni_check py-sni-second "$PORT" second.test second.pem
	sni_check py-sni-server "$PORT" server.test server.pem
	par=()
	for i in $(seq 1 16); do par+=("https://server.test:$PORT/rand.bin" -o "$WORK/par.$i"); done
	timeout 120 curl -sS --cacert "$CA" --parallel --parallel-max 16 "${par[@]}" 2>"$WORK/par.err"
	ok=0
	for i in $(seq 1 16); do [ -f "$WORK/par.$i" ] && [ "$(sha "$WORK/par.$i")" = "$H_RAND" ] && ok=$((ok + 1)); done
	rm -f "$WORK"/par.*
	if [ "$ok" = 16 ]; then
		pass "python http.server: 16 parallel downloads (threads), all byte-exact"
	else
		fail "python http.server: $ok of 16 parallel downloads right" "$WORK/par.err" "$WORK/py.shim.log"
	fi
	sclient_resume py "$PORT"
	gnutls_get py "$PORT"
	log_has "python http.server" "$WORK/py.shim.log" "kernel TLS"
	log_has "python http.server resumption" "$WORK/py.shim.log" ", resumed"
	no_shim_failures "python http.server" "$WORK/py.shim.log"
	stop_peer "$SPID"
fi

echo "## python3 -m http.server with --verify-client (mutual TLS)"
PORT=$(random_port)
if start_shim pym "$PORT" "${SRV[@]}" --ca-file "$CA" --verify-client --accept "127.0.0.1:$PORT" -- \
	"$PY" -m http.server "$PORT" --bind 127.0.0.1 --directory "$WWW"; then
	get_check mtls-cert "https://server.test:$PORT/rand.bin" rand.bin \
		--cert "$PKI/client.pem" --key "$PKI/client-key.pem"
	log_has "mtls with a client certificate" "$WORK/pym.shim.log" "peer certificate verified"
	timeout "$TMO" curl -sS --cacert "$CA" "https://server.test:$PORT/index.html" \
		-o "$WORK/got.nocert" 2>"$WORK/curl.nocert.err"
	rc=$?
	if [ "$rc" != 0 ] && ! [ -s "$WORK/got.nocert" ]; then
		pass "mtls without a client certificate: curl refused (exit $rc: $(head -c 120 "$WORK/curl.nocert.err"))"
	else
		fail "mtls without a client certificate: curl exit $rc, $(stat -c %s "$WORK/got.nocert" 2>/dev/null) bytes served" \
			"$WORK/curl.nocert.err"
	fi
	stop_peer "$SPID"
fi

echo "## socat TCP-LISTEN,fork EXEC:cat (fork per connection)"
PORT=$(random_port)
if start_shim socat "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
	socat "TCP-LISTEN:$PORT,bind=127.0.0.1,fork,reuseaddr" EXEC:cat; then
	timeout "$TMO" "$PY" "$SHIM_PY" echo "$PORT" "$CA" 10 >/dev/null 2>&1 # warm-up: the probe
	stat_mark
	if timeout "$TMO" "$PY" "$SHIM_PY" echo "$PORT" "$CA" 1048576 >"$WORK/socat.echo" 2>&1 &&
		has "$WORK/socat.echo" "same"; then
		pass "socat echo: $(cat "$WORK/socat.echo")"
	else
		fail "socat echo of 1 MiB" "$WORK/socat.echo" "$WORK/socat.shim.log" "$WORK/socat.err"
	fi
	if timeout "$TMO" "$PY" "$SHIM_PY" echo "$PORT" "$CA" 100 >"$WORK/socat.echo2" 2>&1 &&
		has "$WORK/socat.echo2" "same"; then
		pass "socat echo, second connection (another forked child)"
	else
		fail "socat echo, second connection" "$WORK/socat.echo2" "$WORK/socat.shim.log"
	fi
	(printf 'ping-from-s_client\n'; sleep 2) | timeout 8 openssl s_client -quiet -no_ign_eof \
		-connect "127.0.0.1:$PORT" -servername server.test -verify_return_error -CAfile "$CA" \
		>"$WORK/socat.sc" 2>&1
	if has "$WORK/socat.sc" "ping-from-s_client"; then
		pass "socat echo with openssl s_client"
	else
		fail "socat echo with openssl s_client" "$WORK/socat.sc"
	fi
	# Each connection is one kTLS TX and RX socket: the kernel probe (a TX/RX
	# pair per version and cipher) must have run once, in the accepting
	# process, not again in every forked child (before f5d2bbf: 27 for 3).
	stat_check "socat (fork per connection: no probe per child)" 3
	established socat "$WORK/socat.shim.log" 4
	stop_peer "$SPID"
fi

echo "## socat with a server-first banner"
PORT=$(random_port)
if start_shim socatb "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
	socat "TCP-LISTEN:$PORT,bind=127.0.0.1,fork,reuseaddr" SYSTEM:'echo BANNER-socat; exec cat'; then
	if timeout "$TMO" "$PY" "$SHIM_PY" banner "$PORT" "$CA" BANNER-socat >"$WORK/socatb.out1" 2>&1; then
		pass "socat banner: $(cat "$WORK/socatb.out1")"
	else
		# Fixed in f5d2bbf (poll/select hooks): socat selects on blocking fds; select() said the TLS
		# socket is readable (the ClientHello), socat read()s, the hook finishes the
		# handshake and then blocks in the real read for data the client never
		# sends (it waits for the banner), so the banner never goes out.
		fail "REGRESSION(select + blocking read, fixed in f5d2bbf) socat banner" \
			"$WORK/socatb.out1" "$WORK/socatb.shim.log"
	fi
	timeout 6 openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername server.test \
		-verify_return_error -CAfile "$CA" </dev/null >"$WORK/socatb.sc" 2>&1
	if has "$WORK/socatb.sc" "BANNER-socat"; then
		pass "socat banner with openssl s_client (the client never writes)"
	else
		fail "REGRESSION(see above) socat banner with openssl s_client" "$WORK/socatb.sc"
	fi
	stop_peer "$SPID"
fi

echo "## our epoll echo server (edge-triggered, non-blocking)"
EE=$(epoll_echo_bin) || { fail "cannot build tests/shim/epoll_echo"; EE=; }
if [ -n "$EE" ]; then
	PORT=$(random_port)
	if start_shim ee "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- "$EE" "$PORT"; then
		timeout "$TMO" "$PY" "$SHIM_PY" echo "$PORT" "$CA" 10 >/dev/null 2>&1 # warm-up: the probe
		stat_mark
		if timeout "$TMO" "$PY" "$SHIM_PY" echo "$PORT" "$CA" 4194304 >"$WORK/ee.echo" 2>&1 &&
			has "$WORK/ee.echo" "same"; then
			pass "epoll echo: $(cat "$WORK/ee.echo")"
		else
			fail "epoll echo of 4 MiB" "$WORK/ee.echo" "$WORK/ee.err" "$WORK/ee.shim.log"
		fi
		sleep 0.3
		if has "$WORK/ee.err" "eof after 4194304 bytes"; then
			pass "epoll echo: the program saw EOF after the client's close_notify"
		else
			fail "epoll echo: the program did not see a clean EOF" "$WORK/ee.err"
		fi
		(printf 'ping-from-s_client\n'; sleep 2) | timeout 8 openssl s_client -quiet -no_ign_eof \
			-connect "127.0.0.1:$PORT" -servername server.test -verify_return_error -CAfile "$CA" \
			>"$WORK/ee.sc" 2>&1
		if has "$WORK/ee.sc" "ping-from-s_client"; then
			pass "epoll echo with openssl s_client"
		else
			fail "epoll echo with openssl s_client" "$WORK/ee.sc"
		fi
		# TLS 1.3 KeyUpdate from the client (s_client's "k" command): the kernel
		# re-keys from Linux 6.14 on; before that the shim must end the
		# connection cleanly and say why.
		# Driven through a fifo, one step after the other's answer: s_client
		# takes "k" as a command only when it arrives in a read of its own.
		rm -f "$WORK/ku.fifo"
		mkfifo "$WORK/ku.fifo"
		timeout 30 openssl s_client -no_ign_eof -connect "127.0.0.1:$PORT" -servername server.test \
			-CAfile "$CA" <"$WORK/ku.fifo" >"$WORK/ee.ku" 2>&1 &
		kupid=$!
		exec 7>"$WORK/ku.fifo"
		# In a subshell: once s_client is gone (the connection ended) a write
		# to the fifo is a SIGPIPE, which must not end this script.
		ku_send() {
			(printf "$1" >&7) 2>/dev/null
		}
		ku_wait() {
			local i
			for i in $(seq 1 100); do
				grep -q "$1" "$WORK/ee.ku" 2>/dev/null && return 0
				sleep 0.1
			done
			return 1
		}
		ku_wait "^---$" && sleep 0.5
		ku_send 'before-keyupdate\n'
		ku_wait "^before-keyupdate" && { ku_send 'k\n'; ku_wait "KEYUPDATE"; sleep 0.5; }
		ku_send 'after-keyupdate\n'
		ku_wait "^after-keyupdate"
		exec 7>&-
		wait "$kupid"
		kv=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
		if ! grep -q "KEYUPDATE" "$WORK/ee.ku"; then
			fail "KeyUpdate: s_client did not send one" "$WORK/ee.ku"
		elif [ "$kv" -ge 6014 ]; then
			if [ "$(grep -c "^after-keyupdate" "$WORK/ee.ku")" -ge 1 ]; then
				pass "KeyUpdate on $(uname -r): the kernel re-keyed, data after it echoed"
			else
				fail "KeyUpdate on $(uname -r): no echo after the KeyUpdate" "$WORK/ee.ku" "$WORK/ee.shim.log" "$WORK/ee.err"
			fi
		else
			if ! grep -q "^after-keyupdate" "$WORK/ee.ku" && grep -q "KeyUpdate" "$WORK/ee.shim.log"; then
				pass "KeyUpdate on $(uname -r) (no kTLS re-key): connection ended, log: $(grep -m1 KeyUpdate "$WORK/ee.shim.log")"
			else
				fail "KeyUpdate on $(uname -r): want the connection ended and a log line naming KeyUpdate" \
					"$WORK/ee.ku" "$WORK/ee.shim.log"
			fi
		fi
		printf 'ping-from-gnutls-cli\n' | timeout 8 gnutls-cli --x509cafile "$CA" -p "$PORT" \
			server.test >"$WORK/ee.gc" 2>&1
		if has "$WORK/ee.gc" "ping-from-gnutls-cli"; then
			pass "epoll echo with gnutls-cli"
		else
			fail "epoll echo with gnutls-cli" "$WORK/ee.gc"
		fi
		stat_check "epoll echo" 4
		grep -v "KeyUpdate" "$WORK/ee.shim.log" >"$WORK/ee.shim.log.nokU"
		no_shim_failures "epoll echo (but the KeyUpdate one)" "$WORK/ee.shim.log.nokU"
		stop_peer "$SPID"
	fi
	PORT=$(random_port)
	if start_shim eeb "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
		"$EE" --banner BANNER-epoll "$PORT"; then
		if timeout "$TMO" "$PY" "$SHIM_PY" banner "$PORT" "$CA" BANNER-epoll >"$WORK/eeb.out1" 2>&1; then
			pass "epoll echo banner: $(cat "$WORK/eeb.out1")"
		else
			fail "epoll echo banner (server writes first, non-blocking)" "$WORK/eeb.out1" \
				"$WORK/eeb.err" "$WORK/eeb.shim.log"
		fi
		timeout 6 openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername server.test \
			-verify_return_error -CAfile "$CA" </dev/null >"$WORK/eeb.sc" 2>&1
		if has "$WORK/eeb.sc" "BANNER-epoll"; then
			pass "epoll echo banner with openssl s_client (the client never writes)"
		else
			fail "epoll echo banner with openssl s_client" "$WORK/eeb.sc" "$WORK/eeb.shim.log"
		fi
		stop_peer "$SPID"
	fi
fi

echo "## nginx (epoll, 2 worker processes, sendfile on)"
if [ -z "$NGINX" ]; then
	fail "nginx not installed (tests/install-deps.sh installs nginx-light)"
else
	BIG_MB=${HANDOFF_SHIM_BIG_MB:-64}
	head -c "$((BIG_MB * 1048576))" /dev/urandom >"$WWW/big.bin"
	H_BIG=$(sha "$WWW/big.bin")
	N=$WORK/nginx
	mkdir -p "$N"
	PORT=$(random_port)
	nginx_conf "$N" "$PORT" "$WWW"
	stat_mark
	if start_shim nginx "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
		"$NGINX" -p "$N" -e "$N/error.log" -c "$N/nginx.conf"; then
		sleep 0.5
		workers=$(pgrep -P "$SPID" | wc -l)
		if [ "$workers" = 2 ]; then
			pass "nginx: master $SPID with 2 workers"
		else
			fail "nginx: $workers workers under master $SPID" "$N/error.log"
		fi
		get_check nginx-index "https://server.test:$PORT/index.html" index.html
		get_check nginx-rand "https://server.test:$PORT/rand.bin" rand.bin
		# Several requests on one keep-alive connection, then on several connections.
		timeout "$TMO" curl -sS --cacert "$CA" "https://server.test:$PORT/rand.bin" \
			"https://server.test:$PORT/index.html" "https://server.test:$PORT/rand.bin" \
			-o "$WORK/ka1" -o "$WORK/ka2" -o "$WORK/ka3" 2>"$WORK/curl.ka.err"
		if [ "$(sha "$WORK/ka1")" = "$H_RAND" ] && [ "$(sha "$WORK/ka2")" = "$H_INDEX" ] &&
			[ "$(sha "$WORK/ka3")" = "$H_RAND" ]; then
			pass "nginx: 3 requests on one curl (keep-alive), all byte-exact"
		else
			fail "nginx: keep-alive requests" "$WORK/curl.ka.err"
		fi
		par=()
		for i in $(seq 1 16); do par+=("https://server.test:$PORT/rand.bin" -o "$WORK/par.$i"); done
		timeout 120 curl -sS --cacert "$CA" --parallel --parallel-max 16 "${par[@]}" 2>"$WORK/par.err"
		ok=0
		for i in $(seq 1 16); do [ -f "$WORK/par.$i" ] && [ "$(sha "$WORK/par.$i")" = "$H_RAND" ] && ok=$((ok + 1)); done
		rm -f "$WORK"/par.*
		if [ "$ok" = 16 ]; then
			pass "nginx: 16 parallel downloads, all byte-exact"
		else
			fail "nginx: $ok of 16 parallel downloads right" "$WORK/par.err" "$WORK/nginx.shim.log"
		fi
		sclient_resume nginx "$PORT"
		gnutls_get nginx "$PORT"
		stat_check "nginx"

		echo "# nginx sendfile download: $BIG_MB MiB"
		stat_mark
		cur0=$(tls_stat TlsCurrTxSw)
		t0=$(date +%s.%N)
		(timeout 600 curl -sS --cacert "$CA" "https://server.test:$PORT/big.bin" 2>"$WORK/curl.big.err" |
			sha256sum >"$WORK/big.sha") &
		dl=$!
		cur=$cur0
		for i in $(seq 1 100); do
			cur=$(tls_stat TlsCurrTxSw)
			[ "$cur" -gt "$cur0" ] && break
			kill -0 "$dl" 2>/dev/null || break
			sleep 0.1
		done
		if [ "$cur" -gt "$cur0" ]; then
			pass "nginx sendfile: TlsCurrTxSw $cur0 -> $cur while the download runs"
		else
			fail "nginx sendfile: TlsCurrTxSw stayed at $cur0 during the download"
		fi
		wait "$dl"
		t1=$(date +%s.%N)
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
		got=$(cut -d' ' -f1 "$WORK/big.sha")
		if [ "$got" = "$H_BIG" ]; then
			pass "nginx sendfile: $BIG_MB MiB in $secs s (TCG), sha256 $got at both ends"
		else
			fail "nginx sendfile: $BIG_MB MiB: sha256 $got, want $H_BIG ($secs s)" "$WORK/curl.big.err"
		fi
		bytes=$(awk '$7 == "/big.bin" { b = $10 } END { print b + 0 }' "$N/access.log")
		if [ "$bytes" -ge "$((BIG_MB * 1048576))" ]; then
			pass "nginx access log: 200, $bytes bytes sent"
		else
			fail "nginx access log: $bytes bytes for /big.bin" "$N/access.log"
		fi
		stat_check "nginx sendfile"
		rm -f "$WWW/big.bin"
		log_has "nginx" "$WORK/nginx.shim.log" "kernel TLS"
		no_shim_failures nginx "$WORK/nginx.shim.log"
		if grep -E "\[(alert|crit|emerg)\]" "$N/error.log" >/dev/null; then
			fail "nginx error log has alerts" "$N/error.log"
		else
			pass "nginx error log: no alert/crit/emerg"
		fi
		stop_peer "$SPID"
	fi
fi

sleep 0.5
if [ "$(tls_stat TlsCurrTxSw)" = "$CUR_TX0" ] && [ "$(tls_stat TlsCurrRxSw)" = "$CUR_RX0" ]; then
	pass "every server stopped: TlsCurrTxSw/TlsCurrRxSw back to $CUR_TX0/$CUR_RX0"
else
	fail "kTLS sockets left open after every server stopped: TlsCurrTxSw $CUR_TX0 -> $(tls_stat TlsCurrTxSw), TlsCurrRxSw $CUR_RX0 -> $(tls_stat TlsCurrRxSw)"
fi
finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Delegated mode (key custody): the program under the shim never holds the
# private key.  handoffd runs as root with a [custody] socket and two
# identities; the programs run as unprivileged uids that cannot read the
# key file, and the shim passes each connection to handoffd (SCM_RIGHTS),
# which does the handshake and installs kernel TLS.
#
#  1. python3 -m http.server as nobody: curl and openssl s_client verify
#     the certificate, the content arrives, the kernel's counters move,
#     both logs name the identity;
#  2. a uid the policy does not allow: the program's recv() fails with
#     EACCES, both logs say why;
#  3. handoffd's socket missing: ECONNREFUSED, the shim's log says so;
#  4. the client side: curl (plaintext) connects out through delegated
#     mode to openssl s_server, which sees a verified TLS client; and a
#     non-blocking epoll client whose request waits for handoffd;
#  4b. our edge-triggered epoll echo server (non-blocking) echoes 256 KiB;
#     TLS 1.3 KeyUpdates from the peer (update_not_requested, then
#     update_requested) are followed through the engine with the traffic
#     secrets handoffd passed back: Linux 6.14+ re-keys (data echoed after
#     each, the kernel's rekey counters move, no decrypt error); before
#     6.14 the connection ends and the shim's log says "needs Linux 6.14+";
#  5. malformed requests get a status, not a crash: no fd (EPROTO), a bad
#     magic (EPROTO), another version (EPROTONOSUPPORT), a pipe for a
#     socket (EINVAL);
#  6. a flood of idle and garbage custody clients: a well-behaved request
#     still completes, handoffd drops the idlers and stays up;
#  7. one uid's share: another uid floods handoffd with well-formed
#     requests whose handshakes stall (its peer never speaks; identity
#     timeout 60 s); curl's handshake through uid nobody's server still
#     completes, and the flood's requests past max-queued-per-uid are
#     answered EAGAIN.
#
# Needs root and kernel TLS (the VM); skips (77) elsewhere.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-delegated
need curl openssl setpriv
[ -x "$PY" ] || skip "python3 not installed"
[ "$(id -u)" = 0 ] || skip "needs root (handoffd, and programs run as other uids)"
HANDOFFD=${HANDOFF_BUILDDIR:-$top_builddir}/handoffd
[ -x "$HANDOFFD" ] || skip "no $HANDOFFD"

CA=$PKI/ca.pem
NOBODY=65534
DENIED=4321
FLOODER=4322
as_uid() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups -- "$@"; }

# Files the unprivileged programs may touch; the key stays root's, 0600.
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/keys"
echo "hello from a server that never saw its key" >"$WORK/www/index.html"
cp "$PKI/server.pem" "$PKI/server-key.pem" "$WORK/keys/"
chmod 700 "$WORK/keys"
chmod 600 "$WORK/keys/server-key.pem"
chmod -R a+rX "$WORK/www"
if as_uid "$NOBODY" cat "$WORK/keys/server-key.pem" >/dev/null 2>&1; then
	fail "setup: uid $NOBODY can read the key file"
else
	pass "setup: uid $NOBODY cannot read the key file"
fi

SOCK=$WORK/custody.sock
cat >"$WORK/handoffd.conf" <<EOF
[handoffd]
workers = 2

[custody]
socket = $SOCK
max-requests = 2
max-pending = 16

[identity web]
allow-uid = $NOBODY
cert = $WORK/keys/server.pem
key = $WORK/keys/server-key.pem

[identity out]
allow-uid = nobody
ca-file = $CA

[identity flood]
allow-uid = $FLOODER
cert = $WORK/keys/server.pem
key = $WORK/keys/server-key.pem
timeout = 60000
EOF
HDLOG=$WORK/handoffd.log
if "$HANDOFFD" --check-config -c "$WORK/handoffd.conf" >"$WORK/check.out" 2>&1 &&
	grep -q "identity web .*serves and connects" "$WORK/check.out" &&
	grep -q "identity out .*connects only" "$WORK/check.out"; then
	pass "handoffd --check-config lists the identities"
else
	fail "handoffd --check-config" "$WORK/check.out"
fi
"$HANDOFFD" -s -c "$WORK/handoffd.conf" --status-socket "$WORK/status.sock" >"$HDLOG" 2>&1 &
HDPID=$!
T_PIDS+=("$HDPID")
for _ in $(seq 1 100); do
	[ -S "$SOCK" ] && break
	sleep 0.1
done
if [ -S "$SOCK" ] && grep -q "custody socket $SOCK" "$HDLOG"; then
	pass "handoffd serves the custody socket"
else
	fail "handoffd did not open $SOCK" "$HDLOG"
	finish
fi

slog() { : >"$WORK/$1.shim.log"; chmod 666 "$WORK/$1.shim.log"; echo "$WORK/$1.shim.log"; }

# ---------------------------------------------------- 1. a server, as nobody
echo "## 1. a server, as nobody (at ${SECONDS} s)"
P=$(random_port)
L=$(slog http)
as_uid "$NOBODY" "$HANDOFF_CLI" run --log "$L" --delegate "$SOCK" --identity web --accept "$P" \
	-- "$PY" -m http.server "$P" --bind 127.0.0.1 -d "$WORK/www" \
	>"$WORK/http.out" 2>"$WORK/http.err" </dev/null &
T_PIDS+=("$!")
if wait_listen "$P" "$!" 30; then
	stat_mark
	if timeout "$TMO" curl -sS --cacert "$CA" "https://localhost:$P/index.html" \
		-o "$WORK/got" 2>"$WORK/curl.err" && cmp -s "$WORK/got" "$WORK/www/index.html"; then
		pass "server: curl verified the certificate and got the page from uid $NOBODY"
	else
		fail "server: curl through delegated mode" "$WORK/curl.err" "$L" "$HDLOG"
	fi
	printf 'GET /index.html HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client \
		-connect "127.0.0.1:$P" -servername localhost -verify_hostname localhost \
		-verify_return_error -CAfile "$CA" -ign_eof >"$WORK/sc.out" 2>&1
	if has "$WORK/sc.out" "Verify return code: 0 (ok)" && has "$WORK/sc.out" "never saw its key"; then
		pass "server: openssl s_client verified and read the page"
	else
		fail "server: openssl s_client" "$WORK/sc.out" "$L"
	fi
	stat_check "server"
	log_has "server" "$L" "kernel TLS, handshake by handoffd (identity web)"
	log_has "server" "$HDLOG" "uid=$NOBODY identity=web server peer=127.0.0.1:"
	if grep -q "identity=web server .*: ok TLSv1.3" "$HDLOG"; then
		pass "server: handoffd logged the handshake as ok"
	else
		fail "server: handoffd's log has no ok line" "$HDLOG"
	fi
else
	fail "server: http.server under the shim did not listen" "$WORK/http.err" "$L"
fi

# A one-connection server that prints the errno its recv() got.
cat >"$WORK/errsrv.py" <<'EOF'
import errno, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
c, _ = s.accept()
try:
    c.recv(100)
    print("no error", flush=True)
except OSError as e:
    print("errno", errno.errorcode.get(e.errno, e.errno), flush=True)
EOF
chmod 644 "$WORK/errsrv.py"

# errno_case NAME UID DELEGATE-SOCKET WANT-ERRNO: a client connects; what did the server's recv() say?
errno_case() {
	local name=$1 uid=$2 sock=$3 want=$4 p l pid
	p=$(random_port)
	l=$(slog "$name")
	as_uid "$uid" "$HANDOFF_CLI" run --log "$l" --delegate "$sock" --identity web --accept "$p" \
		-- "$PY" "$WORK/errsrv.py" "$p" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	pid=$!
	T_PIDS+=("$pid")
	if ! wait_listen "$p" "$pid" 30; then
		fail "$name: server did not listen" "$WORK/$name.err"
		return 1
	fi
	timeout "$TMO" curl -sS --cacert "$CA" "https://localhost:$p/" -o /dev/null 2>"$WORK/$name.curl" &&
		fail "$name: curl succeeded"
	wait_peer "$pid" 10
	if grep -qx "errno $want" "$WORK/$name.out"; then
		pass "$name: the program's recv() failed with $want"
	else
		fail "$name: want errno $want" "$WORK/$name.out" "$WORK/$name.err" "$l"
	fi
	SLOG=$l
}

# ---------------------------------------------------- 2. a uid the policy refuses
echo "## 2. a uid the policy refuses (at ${SECONDS} s)"
errno_case refused "$DENIED" "$SOCK" EACCES &&
	log_has refused "$SLOG" "handoffd refused the handshake (identity web): EACCES: uid $DENIED (gid $DENIED) may not use identity \"web\""
log_has refused "$HDLOG" "uid=$DENIED identity=web server peer=127.0.0.1:"
log_has refused "$HDLOG" "refused EACCES: uid $DENIED (gid $DENIED) may not use identity \"web\""

# ---------------------------------------------------- 3. no handoffd behind the socket
echo "## 3. no handoffd behind the socket (at ${SECONDS} s)"
errno_case nodaemon "$NOBODY" "$WORK/nothing-here.sock" ECONNREFUSED &&
	log_has nodaemon "$SLOG" "handoffd's custody socket $WORK/nothing-here.sock: No such file or directory (is handoffd running"

# ---------------------------------------------------- 4. the client side
echo "## 4. the client side (at ${SECONDS} s)"
if start_long s_server openssl s_server -accept 127.0.0.1:@PORT@ -cert "$PKI/server.pem" \
	-key "$PKI/server-key.pem" -www; then
	L=$(slog client)
	stat_mark
	if timeout "$TMO" setpriv --reuid "$NOBODY" --regid "$NOBODY" --clear-groups -- \
		"$HANDOFF_CLI" run --log "$L" --delegate "$SOCK" --identity out --connect "127.0.0.1:$PORT" \
		--verify-address -- curl -sS "http://127.0.0.1:$PORT/" >"$WORK/client.out" 2>"$WORK/client.err" &&
		grep -q "Protocol  *: TLSv1.3" "$WORK/client.out"; then
		pass "client: curl (plaintext) reached openssl s_server over TLS 1.3 via handoffd"
	else
		fail "client: curl through delegated mode" "$WORK/client.out" "$WORK/client.err" "$L" "$HDLOG"
	fi
	stat_check "client"
	log_has "client" "$L" "kernel TLS, handshake by handoffd (identity out)"
	if grep -q "identity=out client peer=127.0.0.1:$PORT: ok TLSv1.3 .*peer-cert=" "$HDLOG"; then
		pass "client: handoffd logged the client handshake as ok"
	else
		fail "client: no ok line for the client handshake" "$HDLOG"
	fi
	# The same from a non-blocking, edge-triggered epoll client: its request
	# is written while handoffd works, and nothing but the watcher is left to
	# take handoffd's answer and send it.
	cat >"$WORK/nbclient.py" <<'EOF'
import select, socket, sys
s = socket.socket()
s.setblocking(False)
s.connect_ex(("127.0.0.1", int(sys.argv[1])))
ep = select.epoll()
ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLET)
if not ep.poll(20):
    sys.exit("never writable")
s.send(b"GET / HTTP/1.0\r\n\r\n")
ep.modify(s.fileno(), select.EPOLLIN | select.EPOLLET)
got = b""
while True:
    try:
        d = s.recv(65536)
    except BlockingIOError:
        if not ep.poll(20):
            sys.exit("stalled after %d bytes" % len(got))
        continue
    if not d:
        break
    got += d
sys.stdout.write(got.decode(errors="replace"))
EOF
	chmod 644 "$WORK/nbclient.py"
	L=$(slog nbclient)
	if timeout "$TMO" setpriv --reuid "$NOBODY" --regid "$NOBODY" --clear-groups -- \
		"$HANDOFF_CLI" run --log "$L" --delegate "$SOCK" --identity out --connect "127.0.0.1:$PORT" \
		--verify-address -- "$PY" "$WORK/nbclient.py" "$PORT" >"$WORK/nbclient.out" 2>"$WORK/nbclient.err" &&
		grep -q "Protocol  *: TLSv1.3" "$WORK/nbclient.out"; then
		pass "client: a non-blocking epoll client got its answer through delegated mode"
	else
		fail "client: non-blocking epoll client" "$WORK/nbclient.out" "$WORK/nbclient.err" "$L"
	fi
	stop_peer "$PEER_PID"
fi

# ---------------------------------------------------- 4b. an edge-triggered epoll server
echo "## 4b. an edge-triggered epoll server (at ${SECONDS} s)"
# Non-blocking: the exchange with handoffd runs a step per call and the
# watcher takes the answer; then TLS 1.3 KeyUpdates, which the engine
# follows with the traffic secrets handoffd put into its answer.
EE=$(epoll_echo_bin) || EE=
if [ -n "$EE" ]; then
	P2=$(random_port)
	L=$(slog ee)
	as_uid "$NOBODY" "$HANDOFF_CLI" run --log "$L" --delegate "$SOCK" --identity web \
		--accept "127.0.0.1:$P2" -- "$EE" "$P2" >"$WORK/ee.out" 2>"$WORK/ee.err" </dev/null &
	T_PIDS+=("$!")
	if wait_listen "$P2" "$!" 30; then
		if timeout "$TMO" "$PY" "$SHIM_PY" echo "$P2" "$CA" 262144 >"$WORK/ee.echo" 2>&1 &&
			has "$WORK/ee.echo" "same"; then
			pass "epoll echo: $(cat "$WORK/ee.echo")"
		else
			fail "epoll echo through delegated mode" "$WORK/ee.echo" "$WORK/ee.err" "$L" "$HDLOG"
		fi
		kv=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
		rx0=$(tls_stat TlsRxRekeyOk)
		tx0=$(tls_stat TlsTxRekeyOk)
		de0=$(tls_stat TlsDecryptError)
		rm -f "$WORK/ku.fifo"
		mkfifo "$WORK/ku.fifo"
		timeout 30 openssl s_client -no_ign_eof -connect "127.0.0.1:$P2" -servername server.test \
			-CAfile "$CA" <"$WORK/ku.fifo" >"$WORK/ee.ku" 2>&1 &
		kupid=$!
		exec 7>"$WORK/ku.fifo"
		ku_send() { (printf "$1" >&7) 2>/dev/null; }
		ku_wait() {
			local i
			for i in $(seq 1 100); do
				[ "$(grep -c -- "$1" "$WORK/ee.ku" 2>/dev/null)" -ge "${2:-1}" ] && return 0
				kill -0 "$kupid" 2>/dev/null || return 1
				sleep 0.1
			done
			return 1
		}
		# s_client takes "k" / "K" as a command only in a read of its own: one step at a time.
		ku_wait "^---$" && sleep 0.5
		ku_send 'before-keyupdate\n'
		ku_wait "^before-keyupdate" && { ku_send 'k\n'; ku_wait "KEYUPDATE"; sleep 0.5; }
		ku_send 'after-keyupdate\n'
		if ku_wait "^after-keyupdate"; then
			ku_send 'K\n'
			ku_wait "KEYUPDATE" 2 && sleep 0.5
			ku_send 'after-requested\n'
			ku_wait "^after-requested"
		fi
		exec 7>&-
		wait "$kupid"
		rx=$(($(tls_stat TlsRxRekeyOk) - rx0))
		tx=$(($(tls_stat TlsTxRekeyOk) - tx0))
		de=$(($(tls_stat TlsDecryptError) - de0))
		if ! grep -q "^before-keyupdate" "$WORK/ee.ku" || ! grep -q "KEYUPDATE" "$WORK/ee.ku"; then
			fail "KeyUpdate in delegated mode: no echo before it, or s_client sent none" \
				"$WORK/ee.ku" "$L"
		elif [ "$kv" -ge 6014 ]; then
			# 6.14+ counts re-keys (TlsRxRekeyOk / TlsTxRekeyOk); a kernel without them reads 0 here.
			if grep -q "^after-keyupdate" "$WORK/ee.ku" && grep -q "^after-requested" "$WORK/ee.ku" &&
				[ "$de" = 0 ] && { ! grep -q TlsRxRekeyOk /proc/net/tls_stat ||
				{ [ "$rx" = 2 ] && [ "$tx" = 1 ]; }; } &&
				grep -q "traffic secrets passed for KeyUpdate" "$HDLOG" &&
				grep -q "KeyUpdate followed" "$L" && ! grep -q "connection failed" "$L"; then
				pass "KeyUpdate on $(uname -r) in delegated mode: echoed before, after k and after K; TlsRxRekeyOk +$rx, TlsTxRekeyOk +$tx, TlsDecryptError +$de"
			else
				fail "KeyUpdate on $(uname -r) in delegated mode: want echoes after k and K, RxRekeyOk +2 (got $rx), TxRekeyOk +1 (got $tx), DecryptError +0 (got $de)" \
					"$WORK/ee.ku" "$L" "$HDLOG"
			fi
		else
			if ! grep -q "^after-keyupdate" "$WORK/ee.ku" && grep -q "needs Linux 6.14+" "$L"; then
				pass "KeyUpdate on $(uname -r) in delegated mode: echoed before it, connection ended after it, log: $(grep -m1 -o 'peer sent a TLS 1.3 KeyUpdate.*' "$L")"
			else
				fail "KeyUpdate on $(uname -r) in delegated mode: want data before, the end after, a log line saying it needs Linux 6.14+" \
					"$WORK/ee.ku" "$L"
			fi
		fi
	else
		fail "epoll echo: did not listen" "$WORK/ee.err"
	fi
fi

# ---------------------------------------------------- 5. malformed requests
echo "## 5. malformed requests (at ${SECONDS} s)"
cat >"$WORK/badreq.py" <<'EOF'
import socket, struct, sys
def ask(payload, fds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(sys.argv[1])
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
    s.sendmsg([payload], anc)
    r = s.recv(4096)
    s.close()
    if len(r) < 12:
        return "short"
    return struct.unpack_from("<I", r, 8)[0]
import errno
t = socket.socket()
good = b"HOcR" + struct.pack("<HBBIBBH", 1, 2, 0, 0, 3, 0, 0) + b"web"
out = []
out.append(("nofd", ask(good, [])))
out.append(("magic", ask(b"XXXX" + good[4:], [t.fileno()])))
out.append(("version", ask(b"HOcR" + struct.pack("<H", 9) + good[6:], [t.fileno()])))
out.append(("notcp", ask(good, [sys.stdin.fileno()])))
for name, st in out:
    print(name, errno.errorcode.get(st, st))
EOF
chmod 644 "$WORK/badreq.py"
# As uid nobody, whom the policy allows "web": the checks after the policy's are reached too.
if timeout "$TMO" setpriv --reuid "$NOBODY" --regid "$NOBODY" --clear-groups -- \
	"$PY" "$WORK/badreq.py" "$SOCK" >"$WORK/badreq.out" 2>&1 </dev/null; then
	for want in "nofd EPROTO" "magic EPROTO" "version EPROTONOSUPPORT" "notcp EINVAL"; do
		if grep -qx "$want" "$WORK/badreq.out"; then
			pass "bad request: ${want% *} answered ${want#* }"
		else
			fail "bad request: want '$want'" "$WORK/badreq.out" "$HDLOG"
		fi
	done
else
	fail "bad request: no answers" "$WORK/badreq.out" "$HDLOG"
fi

# ---------------------------------------------------- 6. a flood of idle and garbage clients
echo "## 6. a flood of idle and garbage clients (at ${SECONDS} s)"
cat >"$WORK/flood.py" <<'EOF'
import socket, sys, time
n, hold = int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
        if i % 4 == 0:
            s.send(b"garbage")
    except OSError:
        pass
    socks.append(s)
print("holding", len(socks), flush=True)
time.sleep(hold)
EOF
if grep -q "identity=web server .*: ok" "$HDLOG"; then
	timeout 30 "$PY" "$WORK/flood.py" "$SOCK" 300 4 >"$WORK/flood.out" 2>&1 &
	FPID=$!
	sleep 1
	if timeout "$TMO" curl -sS --cacert "$CA" "https://localhost:$P/index.html" \
		-o "$WORK/got2" 2>"$WORK/curl2.err" && cmp -s "$WORK/got2" "$WORK/www/index.html"; then
		pass "flood: a well-behaved request completed among 300 idle and garbage custody clients"
	else
		fail "flood: the request failed during the flood" "$WORK/curl2.err" "$WORK/flood.out" "$HDLOG"
	fi
	kill "$FPID" 2>/dev/null
	wait "$FPID" 2>/dev/null
	sleep 0.2
	if kill -0 "$HDPID" 2>/dev/null && grep -q "custody: dropped [0-9]* callers" "$HDLOG"; then
		pass "flood: handoffd is up; $(grep -m1 "custody: dropped" "$HDLOG" | sed 's/^handoffd: //')"
	else
		fail "flood: handoffd died or dropped nobody" "$HDLOG"
	fi
fi

# ---------------------------------------------------- 7. one uid's share
# max-requests = 2, so uid FLOODER may run 1 (max-per-uid's default) and
# hold 8 queued or running (half of max-pending 16); its 10 requests
# leave 2 answered EAGAIN.  Without the share both places would hold
# stalled handshakes for the identity's 60 s, and curl would wait for them.
echo "## 7. one uid's share (at ${SECONDS} s)"
cat >"$WORK/stall.py" <<'EOF'
import errno, select, socket, struct, sys, time
path, n = sys.argv[1], int(sys.argv[2])
lis = socket.socket()
lis.bind(("127.0.0.1", 0))
lis.listen(64)
keep, asks = [], []
req = b"HOcR" + struct.pack("<HBBIBBH", 1, 2, 0, 0, 5, 0, 0) + b"flood"
for i in range(n):
    c = socket.create_connection(lis.getsockname())
    a, _ = lis.accept()
    keep += [c, a]    # c never speaks: handoffd waits for a ClientHello on a
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    s.sendmsg([req], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", a.fileno()))])
    asks.append(s)
print("sent", n, flush=True)
t0, left = time.time(), list(asks)
while left:
    ready, _, _ = select.select(left, [], [], 1)
    for s in ready:
        d = s.recv(4096)
        left.remove(s)
        st = struct.unpack_from("<I", d, 8)[0] if len(d) >= 12 else -1
        print("reply", errno.errorcode.get(st, st), "after %.1f s" % (time.time() - t0), flush=True)
EOF
chmod 644 "$WORK/stall.py"
if grep -q "identity=web server .*: ok" "$HDLOG"; then
	timeout 120 setpriv --reuid "$FLOODER" --regid "$FLOODER" --clear-groups -- \
		"$PY" "$WORK/stall.py" "$SOCK" 10 >"$WORK/stall.out" 2>&1 </dev/null &
	SPID=$!
	for _ in $(seq 1 100); do
		[ "$(grep -c '^reply EAGAIN' "$WORK/stall.out")" -ge 2 ] && break
		sleep 0.1
	done
	if [ "$(grep -c '^reply EAGAIN' "$WORK/stall.out")" -eq 2 ] &&
		grep -q "custody: answered [0-9]* requests EAGAIN: uid $FLOODER" "$HDLOG"; then
		pass "share: 2 of the flood's 10 requests answered EAGAIN at once (8 queued or running)"
	else
		fail "share: want exactly 2 of 10 requests answered EAGAIN" "$WORK/stall.out" "$HDLOG"
	fi
	t0=$SECONDS
	if timeout 30 curl -sS --cacert "$CA" "https://localhost:$P/index.html" \
		-o "$WORK/got3" 2>"$WORK/curl3.err" && cmp -s "$WORK/got3" "$WORK/www/index.html" &&
		! grep -v EAGAIN "$WORK/stall.out" | grep -q "^reply"; then
		pass "share: uid $NOBODY's handshake completed in $((SECONDS - t0)) s while uid $FLOODER's stalled ones held their places"
	else
		fail "share: curl waited behind the stalled requests ($((SECONDS - t0)) s)" \
			"$WORK/curl3.err" "$WORK/stall.out" "$HDLOG"
	fi
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
fi

# ------------------------------------------- custody in handoff status
# Custody requests count with the upcalls: the refused uid is a failed
# server handshake with its cause, and the ok ones are there too.
HANDOFF_CLI=${HANDOFF_BUILDDIR:-$top_builddir}/handoff
if "$HANDOFF_CLI" status --socket "$WORK/status.sock" >"$WORK/status.txt" 2>&1; then
	n_ok=$(grep -c ": ok TLSv1.3" "$HDLOG")
	if grep -q "^handshakes: [0-9]* ($n_ok ok, " "$WORK/status.txt" &&
		grep -q "^  failed by status:.* EACCES [1-9]" "$WORK/status.txt"; then
		pass "handoff status counts custody requests: $(grep -m1 '^handshakes:' "$WORK/status.txt")"
	else
		fail "handoff status: custody requests not counted as the log says ($n_ok ok)" \
			"$WORK/status.txt" "$HDLOG"
	fi
else
	fail "handoff status --socket $WORK/status.sock" "$WORK/status.txt"
fi

echo "## done (at ${SECONDS} s)"
finish

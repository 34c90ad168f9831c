#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Event loops are never blocked by a slow handshake: while one client
# holds half a ClientHello open and another connects and sends nothing
# (both re-opened as soon as the server drops them, so two stall at all
# times), nginx (epoll, 2 workers) and our epoll echo server serve 100
# other TLS requests.  With --timeout 3000 the stalled connections must be
# closed by the shim's handshake deadline (after 2.5..15 s: TCG is slow).
# Latencies are printed (TCG: compare them only side by side); the
# assertion is that all 100 succeed.
#
# Needs kernel TLS (the VM: tests/vm/run.sh); skips (77) elsewhere.
# vm-once: plain (stalled handshakes meet the shim's deadlines, the same
# under every kernel: tests/run-all.sh runs it once, in the plain build's
# pass; tests/vm/suite.sh says how.)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-event-loop
[ -x "$PY" ] || skip "python3 not installed"

CA=$PKI/ca.pem
SRV=(--cert "$PKI/server.pem" --key "$PKI/server-key.pem" --timeout 3000)
WWW=$WORK/www
mkdir -p "$WWW"
echo "hello from nginx under the shim, event loop test" >"$WWW/index.html"
COUNT=${HANDOFF_SHIM_LOAD_COUNT:-100}

# baseline NAME PORT KIND: 30 requests, nothing stalls (latency to compare with).
baseline() {
	timeout 120 "$PY" "$SHIM_PY" load "$2" "$CA" "$3" 30 "$WWW/index.html" no >"$WORK/$1.base" 2>&1
	sed 's/^/# baseline, no stalled handshakes: /' "$WORK/$1.base" | head -n1
	if grep -q "^requests: 30/30 ok" "$WORK/$1.base"; then
		pass "$1: baseline: 30 requests with nothing stalled"
	else
		fail "$1: baseline requests failed" "$WORK/$1.base"
	fi
}

# load NAME PORT KIND: COUNT requests while two connections stall.
load() {
	local name=$1 port=$2 kind=$3 rc
	baseline "$name" "$port" "$kind"
	timeout 300 "$PY" "$SHIM_PY" load "$port" "$CA" "$kind" "$COUNT" "$WWW/index.html" \
		>"$WORK/$name.load" 2>&1
	rc=$?
	sed 's/^/# /' "$WORK/$name.load"
	if grep -q "^requests: $COUNT/$COUNT ok" "$WORK/$name.load"; then
		pass "$name: $COUNT requests served while two handshakes stalled"
	else
		fail "$name: not every request was served ($(head -n1 "$WORK/$name.load"))"
	fi
	if [ "$rc" = 0 ]; then
		pass "$name: every stalled connection was closed by the handshake deadline"
	else
		fail "$name: stalled connections not closed at the deadline (see the staller lines above)"
	fi
}

echo "## nginx"
if [ -z "$NGINX" ]; then
	fail "nginx not installed"
else
	PORT=$(random_port)
	nginx_conf "$WORK/nginx" "$PORT" "$WWW"
	if start_shim nginx "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
		"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"; then
		sleep 0.5
		load nginx "$PORT" http
		n=$(grep -c "handshake timed out after 3000 ms" "$WORK/nginx.shim.log")
		if [ "$n" -ge 2 ]; then
			pass "nginx: the shim logged $n handshake timeouts"
		else
			fail "nginx: $n 'handshake timed out' lines in the shim's log" "$WORK/nginx.shim.log"
		fi
		stop_peer "$SPID"
	fi
fi

echo "## our epoll echo server"
EE=$(epoll_echo_bin) || { fail "cannot build tests/shim/epoll_echo"; EE=; }
if [ -n "$EE" ]; then
	PORT=$(random_port)
	if start_shim ee "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- "$EE" "$PORT"; then
		load epoll-echo "$PORT" echo
		n=$(grep -c "handshake timed out after 3000 ms" "$WORK/ee.shim.log")
		if [ "$n" -ge 2 ]; then
			pass "epoll echo: the shim logged $n handshake timeouts"
		else
			fail "epoll echo: $n 'handshake timed out' lines in the shim's log" "$WORK/ee.shim.log"
		fi
		if grep -q "errno 110" "$WORK/ee.err"; then
			pass "epoll echo: the program saw ETIMEDOUT for a stalled one: $(grep -m1 "errno 110" "$WORK/ee.err")"
		else
			fail "epoll echo: the program never saw ETIMEDOUT (errno 110)" "$WORK/ee.err"
		fi
		stop_peer "$SPID"
	fi
fi
finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The hostile-peer table against real programs under the shim: each row
# with the shim's log line and the exact errno the program sees.
#
#   server rows: tests/shim/epoll_echo under `handoff run` (it prints each
#                connection's end with the errno its read or write got);
#                after each row the same program must echo for a good
#                client, and its fd count must be back where it was;
#   client rows: tests/shim/shimpeer.py client under `handoff run
#                --connect`, against a hostile server; it prints the
#                errno its send/recv raised, and never the forged text.
#
# The peers are those of tests/interop/hostile.sh (hostile.py, tls-peer,
# gnutls-cli).  Needs kernel TLS (the VM); skips (77) elsewhere.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-hostile --map-names
need gnutls-cli gnutls-serv
[ -x "$PY" ] || skip "python3 not installed"
TLS_PEER=${HANDOFF_TLS_PEER:-$top_builddir/tests/interop/tls-peer}
[ -x "$TLS_PEER" ] || { echo "FAIL - $TLS_PEER is not built (make check builds it)"; exit 1; }
HPY=$SHIM_SRCDIR/../interop/hostile.py
CA=$PKI/ca.pem
HS_MS=10000	# TCG: the kernel probe alone takes over a second, in the first handshake
LEAK=SECRET-LEAK-7f3a

# NAME | SIDE | PEER | SHIM LOG TEXT | ERRNO THE PROGRAM SEES (number NAME)
# After the hand-off the kernel answers the program's read itself: a record
# that fails authentication is its EBADMSG, an over-long one its EMSGSIZE;
# the shim logs the refusal once per connection.
ROWS=(
	"tls10-clienthello|server|raw_hello 0301 0301 c013,c014,002f|client offers no protocol version we accept|103 ECONNABORTED"
	"export-only-clienthello|server|raw_hello 0301 0303 0003,0006,0008,0014,0062,0064|no cipher suite in common with the client|103 ECONNABORTED"
	"tls12-fallback-scsv|server|gcli NORMAL:-VERS-TLS1.3:%FALLBACK_SCSV|A connection with inappropriate fallback was attempted|103 ECONNABORTED"
	"slowloris-clienthello|server|slowloris $((HS_MS / 10))|handshake timed out after $HS_MS ms|110 ETIMEDOUT"
	"clienthello-one-byte-segments|server|proxy_gcli onebyte|, kernel TLS|OK"
	"bad-mac-after-handoff-tls13|server|tlspeer 1.3 send:one expect:one badmac:$LEAK ends|the kernel refused a record from the peer: it does not decrypt (forged or corrupted) (EBADMSG)|74 EBADMSG"
	"bad-mac-after-handoff-tls12|server|tlspeer 1.2 send:one expect:one badmac:$LEAK ends|the kernel refused a record from the peer: it does not decrypt (forged or corrupted) (EBADMSG)|74 EBADMSG"
	"oversized-after-handoff-tls13|server|tlspeer 1.3 send:one expect:one oversize ends|the kernel refused a record from the peer: it is longer than TLS allows (EMSGSIZE)|90 EMSGSIZE"
	"selfsigned-server|client|gserv selfsigned|server certificate rejected: it is not signed by a trusted CA|103 ECONNABORTED"
	"server-eku-clientauth-only|client|gserv eku-client|its chain's extended key usage does not allow a TLS server|103 ECONNABORTED"
	"downgrade-sentinel|client|proxy_gserv sentinel|the server's random carries the TLS 1.3 downgrade sentinel|103 ECONNABORTED"
	"bad-mac-to-client-tls13|client|tlspeer_srv 1.3 expect:ping send:first sleep:500 badmac:$LEAK sleep:3000|the kernel refused a record from the peer: it does not decrypt (forged or corrupted) (EBADMSG)|74 EBADMSG"
	"oversized-to-client-tls12|client|tlspeer_srv 1.2 expect:ping send:first sleep:500 oversize sleep:3000|the kernel refused a record from the peer: it is longer than TLS allows (EMSGSIZE)|90 EMSGSIZE"
)

# --- peers (as in tests/interop/hostile.sh; PORT is the program's or the peer's)
raw_hello() { timeout "$TMO" "$PY" "$HPY" hello "$PORT" "$@"; }
slowloris() { timeout "$TMO" "$PY" "$HPY" slow "$PORT" "$1"; }
gcli() {
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$PORT" --x509cafile "$CA" \
		--priority "$1" server.test
}
tlspeer() {
	local v=$1
	shift
	timeout "$TMO" "$TLS_PEER" "--tls$v" --connect "$PORT" "$@"
}
proxy_gcli() {
	local pp i
	rm -f "$WORK/$ROW.port"
	"$PY" "$HPY" proxy "$WORK/$ROW.port" "$PORT" "$1" >"$WORK/$ROW.proxy" 2>&1 &
	pp=$!
	for i in $(seq 1 200); do [ -s "$WORK/$ROW.port" ] && break; sleep 0.05; done
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$(cat "$WORK/$ROW.port")" \
		--x509cafile "$CA" server.test >"$WORK/$ROW.echo" 2>&1
	wait "$pp"
	cat "$WORK/$ROW.proxy"
	grep -qx hello "$WORK/$ROW.echo"
}
portfile_peer() {
	local i
	rm -f "$WORK/$ROW.port"
	timeout 120 "$@" >"$WORK/$ROW.peer" 2>&1 </dev/null &
	PEER_PID=$!
	T_PIDS+=("$PEER_PID")
	for i in $(seq 1 300); do
		[ -s "$WORK/$ROW.port" ] && PORT=$(cat "$WORK/$ROW.port") && return 0
		sleep 0.05
	done
	fail "$ROW: peer did not listen" "$WORK/$ROW.peer"
	return 1
}
gserv() {
	start_long "$ROW" gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/$1.pem" \
		--x509keyfile "$PKI/$1-key.pem"
}
proxy_gserv() {
	start_long "$ROW-up" gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/server.pem" \
		--x509keyfile "$PKI/server-key.pem" --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" || return 1
	portfile_peer "$PY" "$HPY" proxy "$WORK/$ROW.port" "$PORT" "$1"
}
tlspeer_srv() {
	local v=$1
	shift
	portfile_peer "$TLS_PEER" "--tls$v" --listen "$WORK/$ROW.port" "$@"
}

fds() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }
# new_lines FILE FROM: the lines after line FROM.
new_lines() { tail -n +"$(($2 + 1))" "$1" 2>/dev/null; }
wait_new() {
	local i
	for i in $(seq 1 300); do
		new_lines "$1" "$2" | grep -qF -- "$3" && return 0
		sleep 0.05
	done
	return 1
}

echo "## server rows: epoll_echo under the shim"
EE=$(epoll_echo_bin) || { fail "cannot build tests/shim/epoll_echo"; finish; }
SPORT=$(random_port)
L=$WORK/ee.shim.log
start_shim ee "$SPORT" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --timeout "$HS_MS" \
	--accept "127.0.0.1:$SPORT" -- "$EE" "$SPORT" || finish
good() {
	timeout "$TMO" "$PY" "$SHIM_PY" echo "$SPORT" "$CA" 3000 >"$WORK/good.out" 2>&1
}
good || fail "the good client fails before any hostile one" "$WORK/good.out" "$L"
sleep 0.5
FDS0=$(fds "$SPID")
echo "# epoll_echo (pid $SPID) holds $FDS0 fds after a good connection"

server_row() {
	local name=$1 peer=$2 want=$3 errno=$4 lfrom efrom rc i f
	lfrom=$(wc -l <"$L")
	efrom=$(wc -l <"$WORK/ee.err")
	PORT=$SPORT
	# shellcheck disable=SC2086
	$peer >"$WORK/$name.peer" 2>&1
	rc=$?
	if [ "$want" != - ] && ! wait_new "$L" "$lfrom" "$want"; then
		fail "$name: the shim's log does not say '$want' (peer exit $rc)" "$WORK/$name.peer" "$L"
		return
	fi
	if [ "$errno" = OK ]; then
		[ $rc -eq 0 ] || { fail "$name: must succeed (peer exit $rc)" "$WORK/$name.peer"; return; }
	elif ! wait_new "$WORK/ee.err" "$efrom" "(errno ${errno%% *})"; then
		fail "$name: the program did not see errno $errno" "$WORK/ee.err" "$WORK/$name.peer"
		return
	fi
	if grep -v '^tls-peer: badmac:' "$WORK/$name.peer" | grep -qF -- "$LEAK"; then
		fail "$name: the forged record's text came back: the program got it" "$WORK/$name.peer"
		return
	fi
	if [ "${peer%% *}" = tlspeer ] && [ $rc -ne 0 ]; then
		fail "$name: tls-peer failed (exit $rc): data before the end?" "$WORK/$name.peer"
		return
	fi
	if ! good; then
		fail "$name: the program no longer serves a good client" "$WORK/good.out" "$L"
		return
	fi
	for i in $(seq 1 50); do
		f=$(fds "$SPID")
		[ "$f" = "$FDS0" ] && break
		sleep 0.1
	done
	if [ "$f" != "$FDS0" ]; then
		fail "$name: the program holds $f fds, $FDS0 before"
		return
	fi
	pass "$name [shim server]: $([ "$errno" = OK ] && echo "served" || echo "errno $errno"); $([ "$want" = - ] && new_lines "$WORK/ee.err" "$efrom" | grep -m1 "(errno" || new_lines "$L" "$lfrom" | grep -F -m1 -- "$want" | cut -c1-140); good client served, $f fds"
}

client_row() {
	local name=$1 peer=$2 want=$3 errno=$4 rc log=$WORK/$1.shim.log
	PEER_PID=
	# shellcheck disable=SC2086
	$peer || return
	run_shim "$log" --ca-file "$CA" --timeout "$HS_MS" --connect "$PORT" -- \
		"$PY" "$SHIM_PY" client server.test "$PORT" ping >"$WORK/$name.out" 2>&1
	rc=$?
	[ -n "$PEER_PID" ] && stop_peer "$PEER_PID"
	if ! has "$WORK/$name.out" "ERR errno=${errno%% *} ${errno#* }"; then
		fail "$name: the program did not see $errno (exit $rc)" "$WORK/$name.out" "$log"
	elif [ "$want" != - ] && ! has "$log" "$want"; then
		fail "$name: the shim's log does not say '$want'" "$log"
	elif has "$WORK/$name.out" "${LEAK:0:6}"; then
		fail "$name: the program read the forged record's text" "$WORK/$name.out"
	else
		pass "$name [shim client]: $(grep -m1 "ERR errno" "$WORK/$name.out" | cut -c1-60); $([ "$want" = - ] && echo "(no shim line: the kernel's own errno)" || grep -F -m1 -- "$want" "$log" | cut -c1-120)"
	fi
}

for row in "${ROWS[@]}"; do
	IFS='|' read -r ROW side peer want errno <<<"$row"
	case $side in
	server) server_row "$ROW" "$peer" "$want" "$errno" ;;
	client) echo "## $ROW" && client_row "$ROW" "$peer" "$want" "$errno" ;;
	esac
done
stop_peer "$SPID"
finish

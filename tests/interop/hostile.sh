#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Hostile peers and bad input, one table row per case: what a peer sends,
# and the exact error our side must log.  Adds to bad-input.sh and
# midstream.sh (not repeated here).
#
#   client rows: `handoff connect` against a hostile server; it must fail
#                with the text, and no byte of a record that failed
#                authentication may reach its output;
#   server rows: a hostile client against a long-running `handoff serve`
#                (one per profile: certificate, mutual TLS, PSK); the log
#                must name the cause, and afterwards the same server must
#                serve a good client, with no child and no fd left behind
#                (its memory is checked once, after every row);
#   daemon rows: `handoffd --check-config` on a key that is missing,
#                unreadable (read as nobody) or world-readable: refused,
#                refused, warned (see helper/daemon/daemon.c for why).
#
# In the VM (kernel TLS) only the rows that reach the kernel's record layer
# run: records after the hand-off, and fragmented flights before it (each
# row there costs ~10 s of TCG); HOSTILE_ALL=1 runs them all there too.
# Rows whose expected text is "OK" must succeed (a ClientHello in one-byte
# segments is legal TLS).  The peers: tests/interop/hostile.py (raw
# ClientHello/ServerHello, a slowloris, a byte-by-byte or rewriting proxy),
# tests/interop/tls-peer (records after the hand-off), gnutls-cli/-serv and
# openssl.  Runs on the host (user-space fallback) and in the VM (kTLS).
. "${top_srcdir:-.}/tests/interop/lib.sh"

need gnutls-serv gnutls-cli openssl
need_python
TLS_PEER=${HANDOFF_TLS_PEER:-$top_builddir/tests/interop/tls-peer}
[ -x "$TLS_PEER" ] || { echo "FAIL - $TLS_PEER is not built (make check builds it)"; exit 1; }
HANDOFFD=${HANDOFFD:-$(dirname "$HANDOFF_CLI")/handoffd}
HPY=${top_srcdir:-.}/tests/interop/hostile.py
setup hostile

# The handshake timeout of every server here; the slowloris must be cut at it.
# TCG is slow: there every process probes the kernel (over a second) inside
# its first handshake's deadline, with other guests on the same two cores.
if [ "$KTLS" = 1 ]; then HS_MS=10000; else HS_MS=1500; fi
LEAK=SECRET-LEAK-7f3a
CA=(--ca-file "$PKI/ca.pem")
PSKHEX=$(cat "$PKI/psk.hex")

# ---------------------------------------------------------------- the table
# NAME | SIDE | PEER (a function below, with its words) | EXPECTED TEXT IN OUR LOG
#      [| TEXT THE PEER MUST PRINT (server rows)]
ROWS=(
	# certificates: the client checks the server's
	"selfsigned-leaf|client|gserv selfsigned|server certificate rejected: it is not signed by a trusted CA"
	"chain-missing-intermediate|client|gserv chained|server certificate rejected: it is not signed by a trusted CA"
	"server-eku-clientauth-only|client|gserv eku-client|server certificate rejected: its chain's extended key usage does not allow a TLS server"
	"server-ku-keyencipherment-only|client|osserv ku-encrypt|Key usage violation in certificate has been detected"
	# ... and the server checks the client's
	"client-selfsigned|server:mtls|gcli_cert selfsigned|client certificate rejected: it is not signed by a trusted CA"
	"client-eku-serverauth-only|server:mtls|gcli_cert client-eku-server|client certificate rejected: its chain's extended key usage does not allow a TLS client"
	"client-from-servers-only-ca|server:mtls|gcli_cert client-servca-chain client-servca-key|client certificate rejected: its chain's extended key usage does not allow a TLS client"
	# downgrades
	"sslv3-clienthello|server:cert|raw_hello 0300 0300 002f,0035,c013|client offers no protocol version we accept (TLS 1.2 or 1.3 required)"
	"tls10-clienthello|server:cert|raw_hello 0301 0301 c013,c014,002f|client offers no protocol version we accept (TLS 1.2 or 1.3 required)"
	"tls10-openssl-client|server:cert|oscli -tls1 -cipher ALL:@SECLEVEL=0|client offers no protocol version we accept (TLS 1.2 or 1.3 required)"
	"tls12-fallback-scsv|server:cert|gcli NORMAL:-VERS-TLS1.3:%FALLBACK_SCSV|A connection with inappropriate fallback was attempted"
	"sslv3-serverhello|client|fake_server 0300 002f|server offers no protocol version we accept (TLS 1.2 or 1.3 required)"
	"tls10-serverhello|client|fake_server 0301 c013|server offers no protocol version we accept (TLS 1.2 or 1.3 required)"
	"downgrade-sentinel|client|proxy_gserv sentinel NORMAL:-VERS-ALL:+VERS-TLS1.2|the server's random carries the TLS 1.3 downgrade sentinel"
	# weak ciphers
	"export-only-clienthello|server:cert|raw_hello 0301 0303 0003,0006,0008,0014,0062,0064|no cipher suite in common with the client"
	"cbc-only-client|server:cert|gcli NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC|no cipher suite in common with the client"
	"server-picks-export|client|fake_server 0303 0003|no cipher suite in common with the server"
	"server-picks-cbc|client|fake_server 0303 c013|no cipher suite in common with the server"
	# the transport
	"clienthello-one-byte-segments|server:cert|proxy_gcli onebyte|OK"
	"server-flight-one-byte-segments|client|proxy_gserv onebyte NORMAL|OK"
	"slowloris-clienthello|server:cert|slowloris $((HS_MS / 10))|handshake timed out after $HS_MS ms|cut off after"
	# PSK
	"unknown-psk-identity|server:psk|gcli_psk intruder|unknown PSK identity \"intruder\" from the client"
	"unknown-psk-identity-to-server|client|gserv_psk intruder|server sent fatal alert"
	# records after the hand-off
	"bad-mac-after-handoff-tls13|server:cert|tlspeer 1.3 send:one expect:one badmac:$LEAK ends|a record failed authentication (bad record MAC)"
	"bad-mac-after-handoff-tls12|server:cert|tlspeer 1.2 send:one expect:one badmac:$LEAK ends|a record failed authentication (bad record MAC)"
	"oversized-after-handoff-tls13|server:cert|tlspeer 1.3 send:one expect:one oversize ends|peer sent a TLS record of an invalid length"
	"oversized-after-handoff-tls12|server:cert|tlspeer 1.2 send:one expect:one oversize ends|peer sent a TLS record of an invalid length"
	"bad-mac-to-client-tls13|client|tlspeer_srv 1.3 expect:ping send:first sleep:300 badmac:$LEAK sleep:2000|a record failed authentication (bad record MAC)"
	"oversized-to-client-tls12|client|tlspeer_srv 1.2 expect:ping send:first sleep:300 oversize sleep:2000|peer sent a TLS record of an invalid length"
	# configuration
	"daemon-key-missing|daemon|key_missing|server private key           @KEY@: No such file or directory"
	"daemon-key-unreadable|daemon|key_unreadable|server private key           @KEY@: Permission denied"
	"daemon-key-world-readable|daemon|key_world|WARNING: server private key @KEY@ is readable by every user (mode 0644)"
)

# ------------------------------------------------------- peers: servers for client rows
# Each sets PORT (and PEER_PID when it runs in the background).

gserv() {
	start_peer "$ROW" gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/$1.pem" \
		--x509keyfile "$PKI/$1-key.pem"
}
gserv_psk() {
	CONNECT_EXTRA=(--psk-identity "$1" --psk-file "$PKI/psk.hex")
	start_peer "$ROW" gnutls-serv --echo -p @PORT@ --pskpasswd "$PKI/psk.txt" \
		--priority "NORMAL:-KX-ALL:+ECDHE-PSK:+PSK"
}
osserv() {
	start_peer "$ROW" openssl s_server -accept @PORT@ -cert "$PKI/$1.pem" -key "$PKI/$1-key.pem" -rev
}
# portfile_peer NAME CMD...: a peer that writes its port to $WORK/NAME.port.
portfile_peer() {
	local name=$1 i
	shift
	rm -f "$WORK/$name.port"
	timeout 60 "$@" >"$WORK/$name.peer" 2>&1 </dev/null &
	PEER_PID=$!
	T_PIDS+=("$PEER_PID")
	for i in $(seq 1 200); do
		[ -s "$WORK/$name.port" ] && PORT=$(cat "$WORK/$name.port") && return 0
		sleep 0.05
	done
	fail "$name: peer did not listen" "$WORK/$name.peer"
	return 1
}
fake_server() {
	portfile_peer "$ROW" python3 "$HPY" serverhello "$WORK/$ROW.port" "$1" "$2"
}
# proxy_gserv MODE PRIORITY: gnutls-serv behind hostile.py's proxy.
proxy_gserv() {
	start_peer "$ROW-up" gnutls-serv --echo -p @PORT@ --x509certfile "$PKI/server.pem" \
		--x509keyfile "$PKI/server-key.pem" --priority "$2" || return 1
	portfile_peer "$ROW" python3 "$HPY" proxy "$WORK/$ROW.port" "$PORT" "$1"
}
tlspeer_srv() {
	local v=$1
	shift
	portfile_peer "$ROW" "$TLS_PEER" "--tls$v" --listen "$WORK/$ROW.port" "$@"
}

# ------------------------------------------------------- peers: clients for server rows
# Each gets the server's port in $PORT and runs in the foreground, bounded.

gcli() {
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$PORT" \
		--x509cafile "$PKI/ca.pem" --priority "$1" localhost
}
gcli_cert() {
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$PORT" \
		--x509cafile "$PKI/ca.pem" --x509certfile "$PKI/$1.pem" \
		--x509keyfile "$PKI/${2:-$1-key}.pem" localhost
}
gcli_psk() {
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$PORT" --pskusername "$1" \
		--pskkey "$PSKHEX" --priority "NORMAL:-KX-ALL:+ECDHE-PSK:+PSK" localhost
}
oscli() {
	echo hello | timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" "$@"
}
raw_hello() {
	timeout "$TMO" python3 "$HPY" hello "$PORT" "$@"
}
slowloris() {
	timeout "$TMO" python3 "$HPY" slow "$PORT" "$1"
}
# proxy_gcli MODE: gnutls-cli through hostile.py's proxy; its echo must come back.
proxy_gcli() {
	local up=$PORT pp
	python3 "$HPY" proxy "$WORK/$ROW.port" "$up" "$1" >"$WORK/$ROW.proxy" 2>&1 &
	pp=$!
	for i in $(seq 1 200); do
		[ -s "$WORK/$ROW.port" ] && break
		sleep 0.05
	done
	echo hello | timeout "$TMO" gnutls-cli --logfile /dev/null -p "$(cat "$WORK/$ROW.port")" \
		--x509cafile "$PKI/ca.pem" localhost >"$WORK/$ROW.echo" 2>&1
	wait "$pp"
	cat "$WORK/$ROW.proxy"
	grep -qx hello "$WORK/$ROW.echo"
}
tlspeer() {
	local v=$1
	shift
	timeout "$TMO" "$TLS_PEER" "--tls$v" --connect "$PORT" "$@"
}

# ------------------------------------------------------- the servers under test
declare -A SPORT SPID SERR SFDS
SERVE_COMMON=("${FALLBACK[@]}" --timeout "$HS_MS")
start_profile() {
	local p=$1
	shift
	start_serve "serve-$p" "${SERVE_COMMON[@]}" "$@" 127.0.0.1:0 || return 1
	SPORT[$p]=$PORT
	SPID[$p]=$PEER_PID
	SERR[$p]=$WORK/serve-$p.err
}
profile_args() {
	case $1 in
	cert) echo --cert "$PKI/server.pem" --key "$PKI/server-key.pem" ;;
	mtls) echo --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --verify-client \
		--ca-file "$PKI/ca.pem" ;;
	psk) echo --psk-file "$PKI/psk.txt" ;;
	esac
}

# good_client PROFILE: a well-behaved client of that server gets its echo.
good_client() {
	local -a args=("${FALLBACK[@]}" "${CA[@]}")
	case $1 in
	mtls) args+=(--cert "$PKI/client.pem" --key "$PKI/client-key.pem") ;;
	psk) args=("${FALLBACK[@]}" --psk-identity handoff-test --psk-file "$PKI/psk.hex") ;;
	esac
	echo "good-$1" | handoff connect "${args[@]}" "localhost:${SPORT[$1]}" \
		>"$WORK/good.got" 2>"$WORK/good.log" && [ "$(cat "$WORK/good.got")" = "good-$1" ]
}
children() {
	cat /proc/"$1"/task/*/children 2>/dev/null | wc -w
}
fds() {
	ls /proc/"$1"/fd 2>/dev/null | wc -l
}
rss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' /proc/"$1"/status
}
# ensure_profile P: its server runs; one good connection first, and the fd
# count and memory after it are the baseline.
ensure_profile() {
	local p=$1 i
	[ -n "${SPID[$p]:-}" ] && return 0
	# shellcheck disable=SC2046
	start_profile "$p" $(profile_args "$p") || return 1
	good_client "$p" || fail "profile $p: the good client fails before any hostile one" \
		"$WORK/good.log" "${SERR[$p]}"
	for i in $(seq 1 100); do [ "$(children "${SPID[$p]}")" = 0 ] && break; sleep 0.05; done
	SFDS[$p]=$(fds "${SPID[$p]}")
	RSS0[$p]=$(rss_kib "${SPID[$p]}")
}
declare -A RSS0

# ------------------------------------------------------- running a row
# expect_log NAME FILE FROM TEXT: a line after line FROM of FILE has TEXT (waits up to 15 s).
expect_log() {
	local i
	for i in $(seq 1 300); do
		tail -n +"$(($3 + 1))" "$2" | grep -qF -- "$4" && return 0
		sleep 0.05
	done
	return 1
}

server_row() {
	local name=$1 prof=$2 peer=$3 want=$4 peer_says=$5 from rc i k f
	ensure_profile "$prof" || return
	PORT=${SPORT[$prof]}
	from=$(wc -l <"${SERR[$prof]}")
	# shellcheck disable=SC2086
	$peer >"$WORK/$name.peer" 2>&1
	rc=$?
	if [ "$want" = OK ] || [ "${peer%% *}" = tlspeer ]; then
		# the proxy's client must get its echo; tls-peer must see every step
		# (its "ends": the connection ended and no data came first)
		if [ $rc -ne 0 ]; then
			fail "$name: the peer failed (exit $rc)" "$WORK/$name.peer" "${SERR[$prof]}"
			return
		fi
	fi
	if [ "$want" = OK ]; then
		if ! expect_log "$name" "${SERR[$prof]}" "$from" "TLS session with"; then
			fail "$name: must succeed (peer exit $rc)" "$WORK/$name.peer" "${SERR[$prof]}"
			return
		fi
	elif ! expect_log "$name" "${SERR[$prof]}" "$from" "$want"; then
		fail "$name: the log does not say '$want' (peer exit $rc)" "$WORK/$name.peer" \
			"${SERR[$prof]}"
		return
	fi
	if [ -n "$peer_says" ] && ! has "$WORK/$name.peer" "$peer_says"; then
		fail "$name: the peer did not say '$peer_says'" "$WORK/$name.peer" "${SERR[$prof]}"
		return
	fi
	# (tls-peer names its steps, the forged text included, in its own log lines)
	if grep -v '^tls-peer: badmac:' "$WORK/$name.peer" | grep -qF -- "$LEAK"; then
		fail "$name: the peer got '$LEAK' back: a forged record's plaintext leaked" "$WORK/$name.peer"
		return
	fi
	if ! good_client "$prof"; then
		fail "$name: the server no longer serves a good client" "$WORK/good.log" "${SERR[$prof]}"
		return
	fi
	for i in $(seq 1 100); do
		k=$(children "${SPID[$prof]}")
		[ "$k" = 0 ] && break
		sleep 0.05
	done
	f=$(fds "${SPID[$prof]}")
	if [ "$k" != 0 ] || [ "$f" != "${SFDS[$prof]}" ]; then
		fail "$name: left behind: $k children, fds ${SFDS[$prof]} -> $f"
		return
	fi
	pass "$name [server]: $(tail -n +"$((from + 1))" "${SERR[$prof]}" | grep -F -m1 -- \
		"$([ "$want" = OK ] && echo "TLS session with" || echo "$want")" | cut -c1-160); then served a good client, nothing left behind"
}

client_row() {
	local name=$1 peer=$2 want=$3 rc
	CONNECT_EXTRA=("${CA[@]}")
	PEER_PID=
	# shellcheck disable=SC2086
	$peer || return
	# gnutls-serv --echo answers lines; tls-peer expects exactly "ping"
	if [ "$want" = OK ]; then printf 'ping\n'; else printf ping; fi | handoff connect "${FALLBACK[@]}" --timeout "$HS_MS" "${CONNECT_EXTRA[@]}" \
		"localhost:$PORT" >"$WORK/$name.got" 2>"$WORK/$name.log"
	rc=$?
	[ -n "$PEER_PID" ] && stop_peer "$PEER_PID"
	if [ "$want" = OK ]; then
		if [ $rc -eq 0 ] && [ "$(cat "$WORK/$name.got")" = ping ]; then
			pass "$name [client]: handshake and echo through one-byte segments"
		else
			fail "$name: must succeed (exit $rc, got '$(head -c 40 "$WORK/$name.got")')" \
				"$WORK/$name.log" "$WORK/$name.peer"
		fi
		return
	fi
	if [ $rc -eq 124 ]; then
		fail "$name: handoff connect hung" "$WORK/$name.log"
	elif [ $rc -eq 0 ]; then
		fail "$name: handoff connect succeeded but must fail" "$WORK/$name.log"
	elif ! has "$WORK/$name.log" "$want"; then
		fail "$name: error does not say '$want' (exit $rc)" "$WORK/$name.log" "$WORK/$name.peer"
	elif grep -qF -- "${LEAK:0:6}" "$WORK/$name.got"; then
		fail "$name: '$LEAK' reached the output: a forged record's plaintext leaked" "$WORK/$name.got"
	else
		pass "$name [client]: $(grep -F -m1 -- "$want" "$WORK/$name.log" | cut -c1-170)"
	fi
}

# daemon rows: a tlshd-format config naming KEY; --check-config's verdict.
key_missing() {
	KEY=$WORK/no-such-key.pem
	DAEMON_RC=1
}
key_unreadable() {
	KEY=$PKI/server-key.pem		# mode 0600, read as nobody
	DAEMON_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	DAEMON_RC=1
}
key_world() {
	KEY=$WORK/world-key.pem
	cp "$PKI/server-key.pem" "$KEY"
	chmod 644 "$KEY"
	DAEMON_RC=0
}
daemon_row() {
	local name=$1 peer=$2 want=$3 rc
	DAEMON_AS=()
	$peer
	want=${want//@KEY@/$KEY}
	printf '[authenticate.server]\nx509.certificate=%s\nx509.private_key=%s\n' \
		"$PKI/server.pem" "$KEY" >"$WORK/$name.conf"
	chmod 644 "$WORK/$name.conf"
	if [ ${#DAEMON_AS[@]} -gt 0 ] && ! "${DAEMON_AS[@]}" test -r "$WORK/$name.conf"; then
		skip_row "$name" "nobody cannot read $WORK (run as root with a world-readable work dir)"
		return
	fi
	"${DAEMON_AS[@]}" timeout "$TMO" "$HANDOFFD" --check-config -c "$WORK/$name.conf" \
		>"$WORK/$name.log" 2>&1
	rc=$?
	if [ "$rc" = "$DAEMON_RC" ] && has "$WORK/$name.log" "$want"; then
		pass "$name [daemon]: exit $rc ($([ "$rc" = 0 ] && echo warned || echo refused)): $(grep -F -m1 -- "$want" "$WORK/$name.log" | sed 's/^ *//' | cut -c1-150)"
	else
		fail "$name: exit $rc (want $DAEMON_RC) or no '$want'" "$WORK/$name.log"
	fi
}
SKIPPED=0
skip_row() {
	SKIPPED=$((SKIPPED + 1))
	echo "skip - $1: $2"
}

ONLY=${HOSTILE_ONLY:-}
KERNEL_ROWS='after-handoff|-to-client-|one-byte'
RAN=0
for row in "${ROWS[@]}"; do
	IFS='|' read -r ROW side peer want peer_says <<<"$row"
	[ -n "$ONLY" ] && [[ $ROW != *$ONLY* ]] && continue
	if [ "$KTLS" = 1 ] && [ "${HOSTILE_ALL:-0}" != 1 ] && ! [[ $ROW =~ $KERNEL_ROWS ]]; then
		continue
	fi
	RAN=$((RAN + 1))
	case $side in
	client) client_row "$ROW" "$peer" "$want" ;;
	server:*) server_row "$ROW" "${side#server:}" "$peer" "$want" "$peer_says" ;;
	daemon)
		if [ -x "$HANDOFFD" ]; then daemon_row "$ROW" "$peer" "$want"
		else skip_row "$ROW" "no handoffd at $HANDOFFD"; fi ;;
	esac
done

# Memory: each long-running server's own RSS after every row (children are gone).
for p in "${!SPID[@]}"; do
	RSS1=$(rss_kib "${SPID[$p]}")
	if [ $((RSS1 - RSS0[$p])) -le 256 ]; then
		pass "the $p server's memory after the rows: ${RSS0[$p]} -> ${RSS1} KiB RSS"
	else
		fail "the $p server's memory grew ${RSS0[$p]} -> ${RSS1} KiB RSS over the rows"
	fi
done
echo "# hostile: ${#ROWS[@]} rows in the table, $RAN run here, $SKIPPED skipped"
finish

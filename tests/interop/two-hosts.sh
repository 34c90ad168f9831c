#!/bin/bash
# two-hosts.sh - a server and a client on two "hosts": network namespaces of
# our own joined by a veth pair, so the TLS connection crosses a real
# (virtual) link instead of loopback.  Runs on the host (user-space
# fallback) and unchanged in the VM, where the kernel's TLS counters are
# read inside each namespace (they are per network namespace).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
setup two-hosts
need ip sha256sum

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
SRV=hoff-srv-$$
CLI=hoff-cli-$$
# Addresses from TEST-NET-1 (RFC 5737), inside namespaces made here only.
SRV_ADDR=192.0.2.1
CLI_ADDR=192.0.2.2

netns_cleanup() {
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
}
trap 'cleanup; netns_cleanup' EXIT

ip netns add "$SRV" && ip netns add "$CLI" || skip "cannot create network namespaces here"
ip link add hoff-s$$ netns "$SRV" type veth peer name hoff-c$$ netns "$CLI" ||
	skip "cannot create a veth pair here"
ip -n "$SRV" addr add "$SRV_ADDR/24" dev "hoff-s$$"
ip -n "$CLI" addr add "$CLI_ADDR/24" dev "hoff-c$$"
for ns in "$SRV" "$CLI"; do
	ip -n "$ns" link set lo up
done
ip -n "$SRV" link set "hoff-s$$" up
ip -n "$CLI" link set "hoff-c$$" up
pass "namespaces $SRV and $CLI linked by veth ($SRV_ADDR <-> $CLI_ADDR)"

# ns_counters NS: "TX RX" of the kernel's software kTLS counters in NS.
ns_counters() {
	ip netns exec "$1" awk '$1 == "TlsTxSw" { tx = $2 } $1 == "TlsRxSw" { rx = $2 }
		END { print tx + 0, rx + 0 }' /proc/net/tls_stat 2>/dev/null
}

payload "$WORK/payload" $((4 * 1024 * 1024 + 123))
before_srv=$(ns_counters "$SRV")
before_cli=$(ns_counters "$CLI")

ip netns exec "$SRV" "$HANDOFF_CLI" serve "${FALLBACK[@]}" --cert "$PKI/server.pem" \
	--key "$PKI/server-key.pem" --once --file "$WORK/payload" "$SRV_ADDR:0" \
	>"$WORK/serve.out" 2>"$WORK/serve.err" </dev/null &
PEER_PID=$!
T_PIDS+=("$PEER_PID")
PORT=
for _ in $(seq 1 200); do
	PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$WORK/serve.err")
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || { fail "serve did not start in $SRV" "$WORK/serve.err"; finish; }

# The client sees the server only through the link; the name is checked against the certificate.
timeout "$TMO" ip netns exec "$CLI" "$HANDOFF_CLI" connect "${FALLBACK[@]}" \
	--ca-file "$PKI/ca.pem" --servername server.test "$SRV_ADDR:$PORT" \
	</dev/null >"$WORK/got" 2>"$WORK/connect.err"
rc=$?
if [ $rc -eq 0 ] && same "$WORK/payload" "$WORK/got"; then
	pass "4 MiB sent from $SRV to $CLI over the veth link, intact"
else
	fail "transfer across namespaces (exit $rc)" "$WORK/connect.err" "$WORK/serve.err"
fi
check_summary "client summary" "$WORK/connect.err" && pass "client: $EXPECT_KTLS"
wait_peer "$PEER_PID" 10 && pass "server finished cleanly" ||
	fail "server exit status" "$WORK/serve.err"
check_summary "server summary" "$WORK/serve.err" && pass "server: $EXPECT_KTLS"

# Loopback in the client's namespace cannot reach the server: it really is another host.
if timeout 5 ip netns exec "$CLI" "$HANDOFF_CLI" connect "${FALLBACK[@]}" --ca-file "$PKI/ca.pem" \
	--servername localhost "127.0.0.1:$PORT" </dev/null >/dev/null 2>"$WORK/isolated.err"; then
	fail "the client namespace reached the server over its own loopback"
else
	pass "the server is not on the client namespace's loopback"
fi

if [ "$KTLS" = 1 ]; then
	for side in "SRV $SRV $before_srv" "CLI $CLI $before_cli"; do
		set -- $side
		after=$(ns_counters "$2")
		set -- "$1" "$2" "$3" "$4" $after
		if [ "$5" -gt "$3" ] && [ "$6" -gt "$4" ]; then
			pass "$1 namespace: its own kTLS counters grew (TlsTxSw $3 -> $5, TlsRxSw $4 -> $6)"
		else
			fail "$1 namespace: kTLS counters did not grow (TlsTxSw $3 -> $5, TlsRxSw $4 -> $6)"
		fi
	done
fi
finish

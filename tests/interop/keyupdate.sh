#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# TLS 1.3 KeyUpdate from OpenSSL on the lean path: our `serve` (echo) keeps
# no GnuTLS session after the hand-off, only the traffic secrets, and must
# follow `openssl s_client`'s KeyUpdate without ("k") and with ("K")
# update_requested: each line after an update comes back, so the kernel
# took the client's new key and, after "K", the client took ours.  On a
# kernel without kTLS re-keying (before 6.14) the connection must end at
# the first KeyUpdate with an error that says so.  Kernel TLS only (the VM).
. "${top_srcdir:-.}/tests/interop/lib.sh"

need openssl
setup keyupdate
[ "$KTLS" = 1 ] || skip "needs kernel TLS (runs in the VM)"

kv=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
start_serve serve --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --protocols tls1.3 127.0.0.1:0 || finish

rm -f "$WORK/sc.fifo"
mkfifo "$WORK/sc.fifo"
timeout 40 openssl s_client -no_ign_eof -connect "127.0.0.1:$PORT" -servername localhost \
	-CAfile "$PKI/ca.pem" -tls1_3 <"$WORK/sc.fifo" >"$WORK/sc.out" 2>&1 &
scpid=$!
exec 7>"$WORK/sc.fifo"
# s_client takes "k"/"K" as a command only when it arrives in a read of its
# own: one step at a time, each after the previous one's answer.  A write
# after s_client is gone must not end this script.
send() {
	(printf "$1" >&7) 2>/dev/null
}
await() {	# await [--] TEXT [N]: N (default 1) lines of s_client's output start with TEXT
	local i
	[ "$1" = -- ] && shift
	for i in $(seq 1 150); do
		[ "$(grep -c -- "^$1" "$WORK/sc.out" 2>/dev/null)" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
await -- "---$" && sleep 0.3
send 'line-one\n'
await line-one
send 'k\n'
await KEYUPDATE && sleep 0.3
send 'line-two\n'
if [ "$kv" -ge 6014 ]; then
	await line-two
	send 'K\n'
	await KEYUPDATE 2 && sleep 0.3
	send 'line-three\n'
	await line-three
else
	# The server ends the connection at the KeyUpdate: nothing more to wait for.
	sleep 1
fi
exec 7>&-
wait "$scpid"
stop_peer "$PEER_PID"

# s_client does not print what it sends: a line in its output is the server's echo.
echoed() {
	grep -q "^$1" "$WORK/sc.out"
}
if ! echoed line-one; then
	fail "no echo before any KeyUpdate" "$WORK/sc.out" "$WORK/serve.err"
elif [ "$(grep -c KEYUPDATE "$WORK/sc.out")" -lt 1 ]; then
	fail "s_client sent no KeyUpdate" "$WORK/sc.out"
elif [ "$kv" -ge 6014 ]; then
	if echoed line-two; then
		pass "KeyUpdate (update_not_requested) from s_client: the lean server re-keyed its receive side"
	else
		fail "no echo after s_client's KeyUpdate (update_not_requested)" "$WORK/sc.out" "$WORK/serve.err"
	fi
	if [ "$(grep -c KEYUPDATE "$WORK/sc.out")" -ge 2 ] && echoed line-three; then
		pass "KeyUpdate (update_requested) from s_client: the lean server answered with its own and re-keyed both sides"
	else
		fail "no echo after s_client's KeyUpdate (update_requested)" "$WORK/sc.out" "$WORK/serve.err"
	fi
else
	if ! echoed line-two && grep -q "cannot re-key" "$WORK/serve.err"; then
		pass "KeyUpdate on $(uname -r) (no kTLS re-key): connection ended: $(grep -m1 -o "peer sent a TLS 1.3 KeyUpdate.*" "$WORK/serve.err")"
	else
		fail "KeyUpdate on $(uname -r): want the connection ended with 'cannot re-key'" \
			"$WORK/sc.out" "$WORK/serve.err"
	fi
fi
finish

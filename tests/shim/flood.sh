#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The flood of tests/interop/flood.sh against a program under the shim:
# FLOOD_COUNT (500) idle TCP connections to tests/shim/epoll_echo under
# `handoff run --timeout 8000`.  An event loop has no process per
# connection, so what must hold is: a good client is served while the
# flood is on, every idle connection is closed by the shim's handshake
# deadline (not before it) with a log line and ETIMEDOUT seen by the
# program, and afterwards the program holds no more fds than before.
#
# Needs kernel TLS (the VM); skips (77) elsewhere.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-flood --map-names
[ -x "$PY" ] || skip "python3 not installed"
N=${FLOOD_COUNT:-500}
# The deadline must outlast the good client's start (a python3 process:
# 1-2 s of TCG, near 5 s on a loaded machine) and handshake, or the flood
# is gone before the good client is served and the test proves nothing.
MS=8000
CA=$PKI/ca.pem
FLOOD_PY=$SHIM_SRCDIR/../interop/flood.py

EE=$(epoll_echo_bin) || { fail "cannot build tests/shim/epoll_echo"; finish; }
PORT=$(random_port)
L=$WORK/ee.shim.log
start_shim ee "$PORT" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --timeout "$MS" \
	--accept "127.0.0.1:$PORT" -- "$EE" "$PORT" || finish
good() {
	timeout 120 "$PY" "$SHIM_PY" echo "$PORT" "$CA" 3000 >"$WORK/$1.out" 2>&1
}
good warmup || fail "the good client fails before the flood" "$WORK/warmup.out" "$L"
sleep 0.5
fds0=$(ls /proc/"$SPID"/fd | wc -l)

rm -f "$WORK/half" "$WORK/good-done"
timeout 300 "$PY" "$FLOOD_PY" "$PORT" "$N" "$SPID" "$WORK" >"$WORK/flood.out" 2>&1 &
FPID=$!
T_PIDS+=("$FPID")
for i in $(seq 1 400); do [ -e "$WORK/half" ] && break; sleep 0.05; done
t0=$(date +%s%N)
good during
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
touch "$WORK/good-done"
[ $rc -eq 0 ] && pass "a good client was served in $ms ms with $((N / 2))+ idle connections open" ||
	fail "good client during the flood: exit $rc after $ms ms" "$WORK/during.out" "$L"
wait "$FPID"
sed 's/^/# /' "$WORK/flood.out"
val() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/flood.out"; }
[ "$(val closed)" = "$N/$N" ] && pass "the shim closed all $N idle connections" ||
	fail "idle connections left open: closed $(val closed)" "$WORK/flood.out"
open=$(val open_when_good_client_done)
[ -n "$open" ] && [ "$open" != "?" ] && [ "$open" -gt 0 ] &&
	pass "the good client was done while $open idle connections were still open" ||
	fail "the good client was not served during the flood (open then: ${open:-?})"
lmin=$(val lifetime_min_s)
awk -v m="${lmin:-0}" -v t="$MS" 'BEGIN { exit !(m * 1000 >= t * 0.9) }' &&
	pass "no idle connection was closed before the $MS ms deadline (shortest $lmin s)" ||
	fail "an idle connection was closed after ${lmin:-?} s, before the deadline"
n=$(grep -c "handshake timed out after $MS ms" "$L")
[ "$n" -ge "$N" ] && pass "$n shim log lines name the handshake timeout" ||
	fail "$n of $N 'handshake timed out after $MS ms' lines in the shim's log" "$L"
n=$(grep -c "(errno 110)" "$WORK/ee.err")
[ "$n" -ge "$N" ] && pass "the program saw ETIMEDOUT on $n connections" ||
	fail "the program saw ETIMEDOUT on $n of $N connections" "$WORK/ee.err"
echo "# the program's Pss at most $(val max_pss_kib) KiB during the flood"
for i in $(seq 1 50); do
	fds1=$(ls /proc/"$SPID"/fd | wc -l)
	[ "$fds1" = "$fds0" ] && break
	sleep 0.1
done
[ "$fds1" = "$fds0" ] && pass "afterwards the program holds $fds1 fds, as before" ||
	fail "the program holds $fds1 fds after the flood, $fds0 before"
good after && pass "the program serves a client after the flood" ||
	fail "no service after the flood" "$WORK/after.out"
stop_peer "$SPID"
finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults in a program under the shim, each asserted on what the program
# itself saw (tests/shim/faultprog.c prints every call's result and errno)
# and on what its TLS client got (tests/shim/faultpeer.py):
#   1. EMFILE: accept() with no fd left fails with EMFILE exactly as
#      without the shim (run without it first, as the baseline) and leaves
#      no fd behind; a handshake that cannot get the fds of its first
#      kernel probe fails closed, naming the cause; with fds again the
#      program serves, and later handshakes need no fd of their own.
#   2. A signal in the middle of a handshake (the client holds its
#      Finished back): without SA_RESTART the program's read() fails with
#      EINTR, and its next read() completes the connection; with
#      SA_RESTART the read goes on.
#   3. fork() in the middle of a handshake: a child forked while another
#      thread is in the handshake cannot use that connection (errno, log
#      line; nothing of it reaches the client), the parent completes it; a
#      forking server whose parent took a handshake step before fork()
#      hands the connection to its child, which completes it.
#   4. The tls module missing: the module is unloaded (and its autoload
#      stopped) for one program: the program's read fails, the client gets
#      nothing, the log says 'modprobe tls'; then the module comes back.
#   5. Delegated mode (handoffd does the handshake): a signal while the
#      program's read() waits for handoffd's answer does what it does in
#      2 (EINTR, then the same exchange goes on: one request; or the read
#      goes on), and the deadline holds against a custody socket that
#      never answers.
#   6. fork() while another thread acts on a control record of a ready
#      connection (the shim's refusal of a TLS 1.2 renegotiation waits on
#      a full send buffer): the child's next control record fails closed,
#      its data path is the kernel's as before.
# With root in the VM, 1's shim logs to syslog, read from a /dev/log
# made here: the line that says why the fd-less handshake failed arrives.
#
# Needs kernel TLS (the VM: tests/vm/run.sh); skips (77) elsewhere.
# vm-once: asan (EMFILE, signals, fork and a missing module meet the
# shim's own code, the same under every kernel: tests/run-all.sh runs it
# once, in the sanitizer build's pass; tests/vm/suite.sh says how.)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shim_setup shim-faults
[ -x "$PY" ] || skip "python3 not installed"

CA=$PKI/ca.pem
SRV=(--cert "$PKI/server.pem" --key "$PKI/server-key.pem")
PEER=("$PY" -u "$SHIM_SRCDIR/faultpeer.py")

faultprog_bin() {
	local d
	for d in "${HANDOFF_BUILDDIR:-}" "${top_builddir:-}" "$(dirname "$HANDOFF_CLI")"; do
		[ -n "$d" ] && [ -x "$d/tests/shim/faultprog" ] && { echo "$d/tests/shim/faultprog"; return 0; }
	done
	if [ ! -x "$WORK/faultprog" ]; then
		${CC:-cc} -O2 -Wall -pthread -o "$WORK/faultprog" "$SHIM_SRCDIR/faultprog.c" >&2 || return 1
	fi
	echo "$WORK/faultprog"
}
FP=$(faultprog_bin) || { fail "cannot build faultprog"; finish; }

# wait_line FILE TEXT [SECONDS]: FILE has a line with TEXT, within SECONDS
# of wall time (a TCG guest on a busy host runs grep slowly: the bound is
# the clock, not a count), or until the program ($SPID) is gone.
wait_line() {
	local end=$((SECONDS + ${3:-30}))
	while [ "$SECONDS" -lt "$end" ]; do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		if [ -n "${SPID:-}" ] && ! kill -0 "$SPID" 2>/dev/null; then
			grep -qF -- "$2" "$1" 2>/dev/null
			return
		fi
		sleep 0.1
	done
	return 1
}

# expect NAME FILE TEXT: the program's or client's output has TEXT.
expect() {
	if grep -qF -- "$3" "$2" 2>/dev/null; then
		pass "$1: $(grep -F -- "$3" "$2" | head -n1)"
	else
		fail "$1: no '$3'" "$2"
	fi
}

# ms_of FILE TEXT: the "(N ms)" of the first line with TEXT.
ms_of() {
	grep -F -- "$2" "$1" | head -n1 | sed -n 's/.*(\([0-9]*\) ms)$/\1/p'
}

# eintr_at_signal LABEL FILE: read 1 in FILE returned at the program's
# alarm (1500 ms), not when the client's data came (4000 ms).
eintr_at_signal() {
	local ms
	ms=$(ms_of "$2" "read 1:")
	if [ -n "$ms" ] && [ "$ms" -ge 1400 ] && [ "$ms" -lt 3900 ]; then
		pass "$1: the EINTR came at the signal (${ms} ms; the client waits 4000)"
	else
		fail "$1: read 1 returned after '${ms}' ms, not at the signal (1500)" "$2"
	fi
}

# run_prog NAME PORT SHIM(yes|no) ARGS...: faultprog in the background (SPID).
run_prog() {
	local name=$1 port=$2 shim=$3
	shift 3
	if [ "$shim" = yes ]; then
		start_shim "$name" "$port" "${SRV[@]}" ${SHIM_TIMEOUT:+--timeout "$SHIM_TIMEOUT"} \
			${SHIM_LOG_TO:+--log "$SHIM_LOG_TO"} --accept "127.0.0.1:$port" -- "$FP" "$@"
		return
	fi
	timeout 120 "$FP" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	SPID=$!
	T_PIDS+=("$SPID")
	wait_listen "$port" "$SPID" 30
}

# launch_shim NAME PORT HANDOFF-RUN-ARGS... -- PROGRAM...: start_shim's start without
# its wait, so that several programs start side by side; landed NAME PORT: the wait.
launch_shim() {
	local name=$1
	LAUNCHED_PORT[$1]=$2
	shift 2
	: >"$WORK/$name.shim.log"
	"$HANDOFF_CLI" run --log "$WORK/$name.shim.log" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	LAUNCHED_PID[$name]=$!
	T_PIDS+=("$!")
}
declare -A LAUNCHED_PID LAUNCHED_PORT
landed() {
	wait_listen "${LAUNCHED_PORT[$1]}" "${LAUNCHED_PID[$1]}" 60 && return 0
	fail "$1: the program under the shim did not listen on ${LAUNCHED_PORT[$1]}" \
		"$WORK/$1.err" "$WORK/$1.out" "$WORK/$1.shim.log"
	return 1
}

echo "## 1. EMFILE during accept, and a handshake that needs fds"
# emfile_round NAME SHIM CLIENT...: the four phases of faultprog emfile.
emfile_round() {
	local name=$1 shim=$2 port o
	shift 2
	port=$(random_port)
	o=$WORK/$name.out
	echo "# $name: start"
	run_prog "$name" "$port" "$shim" emfile "$port" || return 1
	wait_line "$o" "phase 1: waiting" || { fail "$name: the program did not fill its fds" "$o"; return 1; }
	echo "# $name: phase 1"
	"$@" "$port" phase-two >"$WORK/$name.c2" 2>&1 &
	T_PIDS+=("$!")
	wait_line "$o" "phase 3: waiting" 40 || { fail "$name: phase 2 did not end" "$o" "$WORK/$name.c2"; return 1; }
	echo "# $name: phase 3"
	"$@" "$port" phase-three >"$WORK/$name.c3" 2>&1
	wait_line "$o" "phase 4: waiting" 40 || { fail "$name: phase 3 did not end" "$o" "$WORK/$name.c3"; return 1; }
	echo "# $name: phase 4"
	"$@" "$port" phase-four >"$WORK/$name.c4" 2>&1
	wait_line "$o" "done: fds" 40 || fail "$name: phase 4 did not end" "$o" "$WORK/$name.c4"
	wait_peer "$SPID" 10
	echo "# $name: done"
	return 0
}
plain_client() { timeout 40 "${PEER[@]}" plain "$@"; }
tls_client() { timeout 40 "${PEER[@]}" tls "$1" "$CA" "$2" 0 "$2"; }
if emfile_round emfile-plain no plain_client; then
	B=$WORK/emfile-plain.out
	expect "without the shim (baseline)" "$B" "phase 1: accept: ERR errno=24 EMFILE"
	expect "without the shim (baseline)" "$B" "phase 2: read: 10 bytes: phase-two"
fi
# syslogd for the shim's EMFILE round: a /dev/log of our own (root, the VM, none there yet).
SYSLOG_PID=
L=$WORK/emfile.shim.log
if [ "$(id -u)" = 0 ] && [ "${HANDOFF_VM:-0}" = 1 ] && [ ! -e /dev/log ]; then
	: >"$WORK/syslog.txt"
	"$PY" -u -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("listening", flush=True)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
' "$WORK/syslog.txt" >"$WORK/syslogd.out" 2>&1 &
	SYSLOG_PID=$!
	T_PIDS+=("$SYSLOG_PID")
	SPID= wait_line "$WORK/syslogd.out" listening 10 && L=$WORK/syslog.txt
fi
[ "$L" = "$WORK/syslog.txt" ] && SHIM_LOG_TO=syslog
if emfile_round emfile yes tls_client; then
	O=$WORK/emfile.out
	[ "$L" = "$WORK/syslog.txt" ] && pass "EMFILE: the shim logs to syslog (a /dev/log made by this test)"
	expect "EMFILE: accept() as without the shim" "$O" "phase 1: accept: ERR errno=24 EMFILE"
	expect "EMFILE: accept4() as without the shim" "$O" "phase 1: accept4: ERR errno=24 EMFILE"
	if b=$(sed -n 's/^phase 1: fds before \([0-9]*\), after \([0-9]*\)$/\1 \2/p' "$O") &&
		[ -n "$b" ] && [ "${b% *}" = "${b#* }" ]; then
		pass "EMFILE: no fd left behind by the failed accepts ($b)"
	else
		fail "EMFILE: fds changed across the failed accepts: '$b'" "$O"
	fi
	expect "EMFILE: the last fd taken by accept()" "$O" "phase 2: accept: ok"
	expect "no fd for the first kernel probe: the program's read fails closed" "$O" \
		"phase 2: read: ERR errno=103 ECONNABORTED"
	log_has "no fd for the first kernel probe" "$L" "cannot probe kernel TLS support: Too many open files"
	if grep -q "^echo ok" "$WORK/emfile.c2" || grep -q "plaintext on the wire: YES" "$WORK/emfile.c2"; then
		fail "no fd for the probe: the client was served" "$WORK/emfile.c2"
	else
		pass "no fd for the probe: the client got no service and no plaintext: $(head -n1 "$WORK/emfile.c2")"
	fi
	expect "fds free again: served over TLS" "$WORK/emfile.c3" "echo ok"
	expect "one fd left, the one accept() takes: the handshake needs none" "$WORK/emfile.c4" "echo ok"
	d=$(sed -n 's/^done: fds \([0-9]*\)$/\1/p' "$O")
	sb=$(sed -n 's/^done: fds \([0-9]*\)$/\1/p' "$WORK/emfile-plain.out")
	# The shim keeps its log file (or syslog socket) and, once a handshake ran, the watcher's eventfd.
	if [ -n "$d" ] && [ -n "$sb" ] && [ "$d" -le $((sb + 2)) ]; then
		pass "EMFILE: fds at the end: $d (the program alone: $sb; the shim's log and watcher: 2)"
	else
		fail "EMFILE: fds at the end: '$d' (the program alone: '$sb'): leaked" "$O"
	fi
	echo "# the shim's log:"
	sed 's/^/#   /' "$L"
fi
SHIM_LOG_TO=
if [ -n "$SYSLOG_PID" ]; then
	stop_peer "$SYSLOG_PID"
	rm -f /dev/log
fi

echo "## 2. a signal in the middle of a handshake (at ${SECONDS} s)"
# The three programs and their clients run side by side: each case waits
# seconds for its client, and nothing of one touches another.
declare -A SPIDS SPORT
for mode in norestart restart deadline; do
	SPORT[$mode]=$(random_port)
	if [ "$mode" = deadline ]; then
		# The deadline still holds while the wait restarts after signals:
		# the client never sends its Finished within it.
		launch_shim sig-deadline "${SPORT[$mode]}" "${SRV[@]}" --timeout 2500 \
			--accept "127.0.0.1:${SPORT[$mode]}" -- "$FP" signal "${SPORT[$mode]}" restart
	else
		launch_shim "sig-$mode" "${SPORT[$mode]}" "${SRV[@]}" \
			--accept "127.0.0.1:${SPORT[$mode]}" -- "$FP" signal "${SPORT[$mode]}" "$mode"
	fi
done
for mode in norestart restart deadline; do
	landed "sig-$mode" && SPIDS[$mode]=${LAUNCHED_PID[sig-$mode]}
done
CPIDS=()
for mode in "${!SPIDS[@]}"; do
	if [ "$mode" = deadline ]; then
		timeout 60 "${PEER[@]}" tls "${SPORT[$mode]}" "$CA" "too-late" 6 >"$WORK/sig-deadline.client" 2>&1 &
	else
		timeout 60 "${PEER[@]}" tls "${SPORT[$mode]}" "$CA" "after-the-signal" 4 \
			>"$WORK/sig-$mode.client" 2>&1 &
	fi
	CPIDS+=("$!")
done
for pid in "${CPIDS[@]}" "${SPIDS[@]}"; do
	wait_peer "$pid" 30
done
for mode in norestart restart; do
	[ -n "${SPIDS[$mode]:-}" ] || continue
	echo "# signal: $mode"
	O=$WORK/sig-$mode.out
	expect "$mode: the client's echo" "$WORK/sig-$mode.client" "echo ok"
	if [ "$mode" = norestart ]; then
		expect "no SA_RESTART: read() fails with EINTR" "$O" "read 1: ERR errno=4 EINTR"
		eintr_at_signal "no SA_RESTART" "$O"
		expect "no SA_RESTART: the next read() completes the handshake and reads" "$O" \
			"read 2: 17 bytes: after-the-signal"
	else
		expect "SA_RESTART: read() goes on through the signal" "$O" "read 1: 17 bytes: after-the-signal"
		expect "SA_RESTART: the handler ran" "$O" "alarms so far: 1"
	fi
	established "$mode" "$WORK/sig-$mode.shim.log" 1
done
if [ -n "${SPIDS[deadline]:-}" ]; then
	O=$WORK/sig-deadline.out
	expect "SA_RESTART, handshake deadline 2.5 s: read() fails at the deadline" "$O" "read 1: ERR errno=110 ETIMEDOUT"
	ms=$(ms_of "$O" "read 1:")
	if [ -n "$ms" ] && [ "$ms" -ge 2000 ] && [ "$ms" -lt 5500 ]; then
		pass "SA_RESTART, deadline 2.5 s: read() failed after ${ms} ms (the client waits 6000)"
	else
		fail "SA_RESTART, deadline 2.5 s: read() returned after '${ms}' ms" "$O"
	fi
	expect "SA_RESTART, deadline 2.5 s: the handler ran" "$O" "alarms so far: 1"
	if grep -q "^echo ok" "$WORK/sig-deadline.client"; then
		fail "deadline: the late client was served" "$WORK/sig-deadline.client"
	else
		pass "deadline: the late client was not served: $(head -n2 "$WORK/sig-deadline.client" | tail -n1)"
	fi
	log_has "deadline" "$WORK/sig-deadline.shim.log" "handshake timed out"
fi

echo "## 3. fork in the middle of a handshake (at ${SECONDS} s)"
PORT=$(random_port)
if run_prog forkthread "$PORT" yes forkthread "$PORT"; then
	O=$WORK/forkthread.out
	L=$WORK/forkthread.shim.log
	timeout 60 "${PEER[@]}" tls "$PORT" "$CA" "fork-mid-handshake" 3 CHILD-WRITES-THIS \
		>"$WORK/forkthread.client" 2>&1
	wait_peer "$SPID" 20
	expect "forked while a thread handshakes: the child's write fails" "$O" "child: write: ERR errno=103 ECONNABORTED"
	expect "forked while a thread handshakes: the child's read fails" "$O" "child: read: ERR errno=103 ECONNABORTED"
	expect "forked while a thread handshakes: the parent completes it" "$O" \
		"parent thread: read: 19 bytes: fork-mid-handshake"
	expect "forked while a thread handshakes: the client's echo" "$WORK/forkthread.client" "echo ok"
	expect "forked while a thread handshakes: the child's bytes never reach the client" \
		"$WORK/forkthread.client" "secret in plaintext on the wire: no; decrypted: no"
	log_has "forked while a thread handshakes" "$L" "was in its TLS handshake in another thread at fork()"
	echo "# the shim's log:"
	sed 's/^/#   /' "$L"
fi
PORT=$(random_port)
if run_prog forkeach "$PORT" yes forkeach "$PORT" 2; then
	O=$WORK/forkeach.out
	for i in 1 2; do
		timeout 60 "${PEER[@]}" tls "$PORT" "$CA" "forked-server-$i" 1 >"$WORK/forkeach.c$i" 2>&1
		expect "forking server, connection $i: the client's echo" "$WORK/forkeach.c$i" "echo ok"
	done
	wait_peer "$SPID" 20
	expect "forking server: the parent's step stopped mid-handshake" "$O" "parent: non-blocking read: ERR errno=11 EAGAIN"
	expect "forking server: the child completed it" "$O" "child: read: 16 bytes: forked-server-1"
	established "forking server" "$WORK/forkeach.shim.log" 2
fi

echo "## 4. the tls module missing (at ${SECONDS} s)"
MP=/proc/sys/kernel/modprobe
ulp_has_tls() { grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; }
if [ "$(id -u)" != 0 ] || [ "${HANDOFF_VM:-0}" != 1 ] || ! command -v rmmod >/dev/null || [ ! -w "$MP" ]; then
	echo "# skipped: unloading tls needs root in the VM"
else
	saved_mp=$(cat "$MP")
	restore_tls() {
		echo "$saved_mp" >"$MP"
		# The kernel loads tls again at the next TCP_ULP "tls" (its own modprobe).
		ulp_has_tls || timeout "$TMO" "$HANDOFF_CLI" check >/dev/null 2>&1
	}
	trap 'restore_tls; cleanup' EXIT
	echo /nonexistent-modprobe >"$MP"
	for _ in $(seq 1 30); do
		rmmod tls 2>"$WORK/rmmod.err" && break
		sleep 0.2
	done
	if ulp_has_tls; then
		echo "# skipped: tls stays loaded: $(cat "$WORK/rmmod.err")"
	else
		PORT=$(random_port)
		L=$WORK/nomod.shim.log
		if start_shim nomod "$PORT" "${SRV[@]}" --accept "127.0.0.1:$PORT" -- \
			"$PY" -u "$SHIM_PY" server "$PORT" 1; then
			timeout 60 "${PEER[@]}" tls "$PORT" "$CA" "no-module" 0 no-module >"$WORK/nomod.client" 2>&1
			wait_line "$WORK/nomod.out" "conn 0:" 10
			expect "tls missing: the program's recv fails" "$WORK/nomod.out" "conn 0: recv: ERR errno=103 ECONNABORTED"
			if grep -q "^echo ok" "$WORK/nomod.client"; then
				fail "tls missing: the client was served" "$WORK/nomod.client"
			else
				pass "tls missing: the client got nothing: $(head -n1 "$WORK/nomod.client")"
			fi
			log_has "tls missing" "$L" "modprobe tls"
			stop_peer "$SPID"
		fi
	fi
	restore_tls
	if ulp_has_tls; then
		pass "tls missing: the module is back for the tests that follow"
	else
		fail "tls missing: the module did not come back"
	fi
fi
echo "## 5. delegated mode: a signal while the program waits for handoffd (at ${SECONDS} s)"
HANDOFFD=${HANDOFF_BUILDDIR:-$top_builddir}/handoffd
if [ "$(id -u)" != 0 ] || [ ! -x "$HANDOFFD" ]; then
	echo "# skipped: needs root and $HANDOFFD"
else
	SOCK=$WORK/custody.sock
	SILENT=$WORK/silent.sock
	printf '[custody]\nsocket = %s\n\n[identity web]\nallow-uid = 0\ncert = %s\nkey = %s\n' \
		"$SOCK" "$PKI/server.pem" "$PKI/server-key.pem" >"$WORK/handoffd.conf"
	HDLOG=$WORK/handoffd.log
	"$HANDOFFD" -s -c "$WORK/handoffd.conf" >"$HDLOG" 2>&1 &
	T_PIDS+=("$!")
	# A custody socket that takes the request and never answers: only the shim's deadline ends the wait.
	"$PY" -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen(4)
held = []
while True:
    c, _ = s.accept()
    c.recv(4096)
    held.append(c)
    print("request", len(held), flush=True)
' "$SILENT" >"$WORK/silent.out" 2>&1 &
	T_PIDS+=("$!")
	# The three programs (started meanwhile) and their clients run side by side (each case waits seconds).
	declare -A DPID DPORT
	for mode in norestart restart deadline; do
		DPORT[$mode]=$(random_port)
		if [ "$mode" = deadline ]; then
			args=(--timeout 2500 --delegate "$SILENT" --identity web)
			sig=restart
		else
			args=(--delegate "$SOCK" --identity web)
			sig=$mode
		fi
		launch_shim "dsig-$mode" "${DPORT[$mode]}" "${args[@]}" --accept "127.0.0.1:${DPORT[$mode]}" \
			-- "$FP" signal "${DPORT[$mode]}" "$sig"
	done
	for _ in $(seq 1 100); do
		[ -S "$SOCK" ] && [ -S "$SILENT" ] && break
		sleep 0.1
	done
	for mode in norestart restart deadline; do
		landed "dsig-$mode" && DPID[$mode]=${LAUNCHED_PID[dsig-$mode]}
	done
	CPIDS=()
	for mode in "${!DPID[@]}"; do
		timeout 30 "${PEER[@]}" tls "${DPORT[$mode]}" "$CA" "after-the-signal" 4 \
			>"$WORK/dsig-$mode.client" 2>&1 &
		CPIDS+=("$!")
	done
	for pid in "${CPIDS[@]}" "${DPID[@]}"; do
		wait_peer "$pid" 30
	done
	if [ -n "${DPID[norestart]:-}" ]; then
		O=$WORK/dsig-norestart.out
		expect "delegated, no SA_RESTART: the client's echo" "$WORK/dsig-norestart.client" "echo ok"
		expect "delegated, no SA_RESTART: read() fails with EINTR" "$O" "read 1: ERR errno=4 EINTR"
		eintr_at_signal "delegated, no SA_RESTART" "$O"
		expect "delegated, no SA_RESTART: the next read() waits for the same answer and reads" "$O" \
			"read 2: 17 bytes: after-the-signal"
		log_has "delegated, no SA_RESTART" "$WORK/dsig-norestart.shim.log" "handshake by handoffd (identity web)"
	fi
	if [ -n "${DPID[restart]:-}" ]; then
		O=$WORK/dsig-restart.out
		expect "delegated, SA_RESTART: the client's echo" "$WORK/dsig-restart.client" "echo ok"
		expect "delegated, SA_RESTART: read() goes on through the signal" "$O" "read 1: 17 bytes: after-the-signal"
		expect "delegated, SA_RESTART: the handler ran" "$O" "alarms so far: 1"
	fi
	# One request per connection: the one cut by EINTR was not sent again.
	n=$(grep -c "uid=0 identity=web server peer=" "$HDLOG")
	if [ "$n" = 2 ] && [ "$(grep -c ": ok TLS" "$HDLOG")" = 2 ]; then
		pass "delegated: handoffd got one request per connection, both ok (2)"
	else
		fail "delegated: handoffd got $n requests for 2 connections" "$HDLOG"
	fi
	if [ -n "${DPID[deadline]:-}" ]; then
		O=$WORK/dsig-deadline.out
		expect "delegated, SA_RESTART, deadline 2.5 s, custody silent: read() fails at the deadline" "$O" \
			"read 1: ERR errno=110 ETIMEDOUT"
		ms=$(ms_of "$O" "read 1:")
		if [ -n "$ms" ] && [ "$ms" -ge 2000 ] && [ "$ms" -lt 5500 ]; then
			pass "delegated, deadline 2.5 s: read() failed after ${ms} ms"
		else
			fail "delegated, deadline 2.5 s: read() returned after '${ms}' ms" "$O"
		fi
		expect "delegated, deadline 2.5 s: the handler ran and the wait went on" "$O" "alarms so far: 1"
		expect "delegated, deadline 2.5 s: one request to the silent custody socket" "$WORK/silent.out" "request 1"
		log_has "delegated, deadline" "$WORK/dsig-deadline.shim.log" \
			"handoffd did not answer within the handshake timeout"
		if grep -q "^echo ok" "$WORK/dsig-deadline.client"; then
			fail "delegated, deadline: the client was served" "$WORK/dsig-deadline.client"
		else
			pass "delegated, deadline: the client was not served: $(tail -n1 "$WORK/dsig-deadline.client")"
		fi
	fi
fi

echo "## 6. fork while another thread acts on a ready connection's control record (at ${SECONDS} s)"
PORT=$(random_port)
if ! command -v openssl >/dev/null; then
	echo "# skipped: no openssl"
elif run_prog forkready "$PORT" yes forkready "$PORT" "$WORK/forkready.go"; then
	O=$WORK/forkready.out
	L=$WORK/forkready.shim.log
	rm -f "$WORK/fr.fifo"
	mkfifo "$WORK/fr.fifo"
	# TLS 1.2: the client's renegotiation request is a control record the shim answers (it declines).
	openssl s_client -tls1_2 -no_ign_eof -connect "127.0.0.1:$PORT" -servername server.test \
		-CAfile "$CA" <"$WORK/fr.fifo" >"$WORK/forkready.client" 2>&1 &
	CL=$!
	T_PIDS+=("$CL")
	exec 8>"$WORK/fr.fifo"
	printf 'hello\n' >&8
	if wait_line "$O" "parent: read: 6 bytes: hello" 30; then
		printf 'R\n' >&8
		wait_line "$O" "parent: a record is queued" 30
		# The client stops reading: the server's send buffer fills, the refusal waits.
		kill -STOP "$CL"
		: >"$WORK/forkready.go"
		wait_line "$O" "child: forked" 30
		kill -CONT "$CL"
	fi
	wait_peer "$SPID" 30
	exec 8>&-
	stop_peer "$CL"
	expect "forked, ready: the client's renegotiation request is queued" "$O" "parent: a record is queued: yes"
	expect "forked, ready: the thread acting on it held the lock at fork (in sendmsg)" "$O" \
		"parent: the reader thread waits in sendmsg: yes"
	expect "forked, ready: the parent's thread finished its control record and read on" "$O" \
		"parent thread: recv: ERR errno=11 EAGAIN"
	if grep -q "child: non-blocking write: " "$O" && ! grep -q "child: non-blocking write: ERR errno=103" "$O"; then
		pass "forked, ready: the child's data path is the kernel's: $(grep -m1 'child: non-blocking write' "$O")"
	else
		fail "forked, ready: the child's write" "$O"
	fi
	expect "forked, ready: the child's next control record fails closed" "$O" "child: read: ERR errno=103 ECONNABORTED"
	log_has "forked, ready" "$L" "another thread was acting on a TLS control record of it"
	# What the client says next depends on whether the child's 5 bytes or the parent's
	# refusal reach it first (both end in its fatal alert, the child's control record).
	echo "# the client: $(grep -m1 'error:' "$WORK/forkready.client")"
fi
echo "## done (at ${SECONDS} s)"
finish

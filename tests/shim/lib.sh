# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the shim tests (tests/shim/*.sh): real, unmodified programs run
# under `handoff run` (libhandoff-preload.so).  Source it, then call
# shim_setup NAME.  Builds on tests/interop/lib.sh (pass/fail/finish, ports,
# peers).
#
# Environment: HANDOFF_CLI, HANDOFF_PKI (as the interop tests); the shim is
# $HANDOFF_PRELOAD, else .libs/libhandoff-preload.so in $HANDOFF_BUILDDIR,
# $top_builddir or next to $HANDOFF_CLI.  The epoll echo server is
# tests/shim/epoll_echo in the build tree (built by `make check`); when it
# is missing it is compiled into the work folder.
#
# These tests need kernel TLS: they skip (77) unless HANDOFF_TEST_KTLS=1 or
# /proc/net/tls_stat exists (shim_setup NAME --any-kernel turns that off).

SHIM_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=../interop/lib.sh
if [ "${HANDOFF_VM:-0}" = 1 ] && [ -z "${HANDOFF_TEST_WORKDIR:-}" ]; then
	HANDOFF_TEST_WORKDIR=${TMPDIR:-/tmp}/handoff-work
fi
. "$SHIM_SRCDIR/../interop/lib.sh"

# python3 of the system (a pyenv shim or a venv on PATH is not what we test).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 2>/dev/null || echo python3)
SHIM_PY=$SHIM_SRCDIR/shimpeer.py

shim_find_preload() {
	local d
	if [ -n "${HANDOFF_PRELOAD:-}" ]; then
		echo "$HANDOFF_PRELOAD"
		return
	fi
	for d in "${HANDOFF_BUILDDIR:-}" "${top_builddir:-}" "$(dirname "$HANDOFF_CLI")"; do
		[ -n "$d" ] && [ -f "$d/.libs/libhandoff-preload.so" ] &&
			{ echo "$d/.libs/libhandoff-preload.so"; return; }
	done
	echo "$(dirname "$HANDOFF_CLI")/.libs/libhandoff-preload.so"
}

# What LD_PRELOAD holds for a test that preloads the shim itself (not
# through `handoff run`): in a --enable-sanitizers build the ASan runtime
# must come first, as `handoff run` puts it (config.h names it).
shim_preload_list() {
	local asan=""
	[ -f "${HANDOFF_BUILDDIR:-}/config.h" ] &&
		asan=$(sed -n 's/^#define HANDOFF_ASAN_RUNTIME "\(.*\)"$/\1/p' "$HANDOFF_BUILDDIR/config.h")
	echo "${asan:+$asan:}$HANDOFF_PRELOAD"
}

SHIM_ARGV=("$@")

# shim_setup NAME [--any-kernel] [--map-names]
shim_setup() {
	local any=0 map=0 a
	for a in "${@:2}"; do
		case $a in
		--any-kernel) any=1 ;;
		--map-names) map=1 ;;
		esac
	done
	if [ "$any" = 0 ] && [ "${HANDOFF_TEST_KTLS:-0}" != 1 ] && [ ! -e /proc/net/tls_stat ]; then
		echo "# $1: 0 passed, 0 failed (no kernel TLS here: runs in the VM, tests/vm)"
		skip "no kernel TLS (HANDOFF_TEST_KTLS unset, no /proc/net/tls_stat)"
	fi
	if [ "$any" = 0 ]; then
		KTLS=1
	fi
	if [ "$map" = 1 ] && ! map_names; then
		echo "# $1: 0 passed, 0 failed"
		skip "cannot map server.test/other.test to 127.0.0.1 (needs root, unshare and mount)"
	fi
	setup "$1"
	HANDOFF_PRELOAD=$(shim_find_preload)
	export HANDOFF_PRELOAD
	[ -f "$HANDOFF_PRELOAD" ] || { echo "FAIL - no shim at $HANDOFF_PRELOAD"; exit 1; }
	echo "# $1: shim $HANDOFF_PRELOAD, kernel $(uname -r)"
}

# map_names: server.test and other.test resolve to 127.0.0.1 (through
# getaddrinfo, so the shim sees the names).  In the VM: a hosts file bind
# mounted over /etc/hosts inside a private mount namespace of this script
# (call it before anything else: it re-executes the script).
map_names() {
	if getent hosts server.test >/dev/null 2>&1 && getent hosts other.test >/dev/null 2>&1; then
		return 0
	fi
	if [ "${SHIM_IN_NS:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
		SHIM_IN_NS=1 exec unshare -m --propagation private bash "$0" "${SHIM_ARGV[@]}"
	fi
	if [ "${SHIM_IN_NS:-0}" = 1 ]; then
		local h=${TMPDIR:-/tmp}/shim-hosts.$$
		{
			printf '127.0.0.1\tlocalhost server.test other.test\n'
			printf '::1\tlocalhost ip6-localhost\n'
		} >"$h"
		mount --bind "$h" /etc/hosts && getent hosts server.test >/dev/null && return 0
	fi
	return 1
}

# The kernel's TLS counter NAME from /proc/net/tls_stat (0 if absent).
tls_stat() {
	awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' /proc/net/tls_stat 2>/dev/null
}

# stat_mark / stat_check NAME [N]: TlsTxSw and TlsRxSw grew (by exactly N
# each when N is given), TlsDecryptError did not.  Mind that every process
# probes the kernel once, at its first handshake, with a TX/RX pair per
# version and cipher: mark after a warm-up connection to count exactly.
stat_mark() {
	S_TX=$(tls_stat TlsTxSw)
	S_RX=$(tls_stat TlsRxSw)
	S_DE=$(tls_stat TlsDecryptError)
}
stat_check() {
	local tx rx de want=${2:-}
	tx=$(tls_stat TlsTxSw)
	rx=$(tls_stat TlsRxSw)
	de=$(tls_stat TlsDecryptError)
	if [ -n "$want" ]; then
		if [ "$((tx - S_TX))" = "$want" ] && [ "$((rx - S_RX))" = "$want" ]; then
			pass "$1: kernel TLS carried each of the $want connections (TlsTxSw $S_TX -> $tx, TlsRxSw $S_RX -> $rx)"
		else
			fail "$1: want $want more kTLS TX and RX sockets (TlsTxSw $S_TX -> $tx, TlsRxSw $S_RX -> $rx)"
		fi
	elif [ "$tx" -gt "$S_TX" ] && [ "$rx" -gt "$S_RX" ]; then
		pass "$1: kernel TLS counters moved (TlsTxSw $S_TX -> $tx, TlsRxSw $S_RX -> $rx)"
	else
		fail "$1: kernel TLS counters did not move (TlsTxSw $S_TX -> $tx, TlsRxSw $S_RX -> $rx)"
	fi
	if [ "$de" = "$S_DE" ]; then
		pass "$1: TlsDecryptError stayed at $de"
	else
		fail "$1: TlsDecryptError moved $S_DE -> $de"
	fi
}

# wait_listen PORT PID [SECONDS]: PORT is in LISTEN (no test connection is
# made: a probe would be a failed handshake in the program's log).
wait_listen() {
	local port=$1 pid=$2 n=$(( ${3:-30} * 10 )) i
	for i in $(seq 1 "$n"); do
		port_listening "$port" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# start_shim NAME PORT HANDOFF-RUN-ARGS... -- PROGRAM...: the program under
# the shim in the background (log in $WORK/NAME.shim.log, output in
# $WORK/NAME.out / .err); waits until PORT listens.  Sets SPID.
start_shim() {
	local name=$1 port=$2
	shift 2
	: >"$WORK/$name.shim.log"
	"$HANDOFF_CLI" run --log "$WORK/$name.shim.log" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	SPID=$!
	T_PIDS+=("$SPID")
	if wait_listen "$port" "$SPID" 60; then
		return 0
	fi
	fail "$name: the program under the shim did not listen on $port" \
		"$WORK/$name.err" "$WORK/$name.out" "$WORK/$name.shim.log"
	return 1
}

# run_shim LOG HANDOFF-RUN-ARGS... -- PROGRAM...: in the foreground, bounded.
run_shim() {
	local log=$1
	shift
	timeout "$TMO" "$HANDOFF_CLI" run --log "$log" "$@"
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# epoll_echo: path of our epoll echo server (built, or compiled now).
epoll_echo_bin() {
	local d
	for d in "${HANDOFF_BUILDDIR:-}" "${top_builddir:-}" "$(dirname "$HANDOFF_CLI")"; do
		[ -n "$d" ] && [ -x "$d/tests/shim/epoll_echo" ] && { echo "$d/tests/shim/epoll_echo"; return 0; }
	done
	if [ ! -x "$WORK/epoll_echo" ]; then
		${CC:-cc} -O2 -Wall -o "$WORK/epoll_echo" "$SHIM_SRCDIR/epoll_echo.c" >&2 || return 1
	fi
	echo "$WORK/epoll_echo"
}

# log_has NAME FILE TEXT: pass when FILE has TEXT (fixed string), else fail showing it.
log_has() {
	if grep -qF -- "$3" "$2" 2>/dev/null; then
		pass "$1: log says '$3'"
	else
		fail "$1: log lacks '$3'" "$2"
	fi
}

# A shell word list, for messages.
show() {
	printf '%q ' "$@"
}

# start_long NAME CMD...: start_peer (tests/interop/lib.sh) with a 1200 s
# bound instead of 60: the peers of a shim test live as long as the test
# (the harness bounds the whole test).
start_long() {
	PEER_LIFETIME=1200 PEER_START_POLLS=300 start_peer "$@"
}

# nginx, wherever it is (not on PATH for a non-root user on Debian).
NGINX=$(command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })

# nginx_conf DIR PORT ROOT: a plaintext nginx.conf in DIR (epoll, 2 workers,
# sendfile, every path under DIR); start it with
#   nginx -p DIR -e DIR/error.log -c DIR/nginx.conf
nginx_conf() {
	local n=$1
	mkdir -p "$n"
	cat >"$n/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $n/nginx.pid;
error_log $n/error.log info;
events { worker_connections 512; use epoll; }
http {
	access_log $n/access.log;
	client_body_temp_path $n/body;
	proxy_temp_path $n/proxy;
	fastcgi_temp_path $n/fastcgi;
	uwsgi_temp_path $n/uwsgi;
	scgi_temp_path $n/scgi;
	types { text/html html; application/octet-stream bin; }
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 30;
	server {
		listen 127.0.0.1:$2;
		server_name server.test;
		root $3;
	}
}
EOF
}

# established NAME LOG N: the shim's LOG has N (or more) connections handed
# to the kernel ("..., kernel TLS" lines) and no failed one.
established() {
	local n f
	n=$(grep -c ", kernel TLS\$" "$2" 2>/dev/null)
	f=$(grep -c "failed" "$2" 2>/dev/null)
	if [ "${n:-0}" -ge "$3" ] && [ "${f:-0}" = 0 ]; then
		pass "$1: $n connections handed to kernel TLS, none failed"
	else
		fail "$1: ${n:-0} connections handed to kernel TLS (want $3), ${f:-0} failed" "$2"
	fi
}

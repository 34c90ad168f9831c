#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak through handoffd: NVMe/TCP controllers with a TLS PSK connected and
# deleted again and again on loopback; every queue of every controller is a
# handshake upcall on each side (host and target), all answered by one
# handoffd.  Sequential: HANDOFF_SOAK_NVME connects one after another (1 I/O
# queue: 4 handshakes each); concurrent: HANDOFF_SOAK_NVME_PAR controllers
# connecting at once (2 I/O queues asked for, but the kernel gives one per
# CPU: on the suite's one-vCPU guest 4 handshakes each, 50 of them: 200).
# handoffd's open fds must come back to exactly their level after a
# warm-up, and its anonymous RSS (RssAnon: code paged in is no leak) to
# within HANDOFF_SOAK_RSS_KB (default 1024).
#
# VM only, with the NVMe modules (tests/vm/suite.sh loads them).  By hand,
# a long run: HANDOFF_SOAK_NVME=2500 (10,000 handshakes).  With
# HANDOFF_SOAK_VALGRIND=1 handoffd runs under memcheck, which must report
# nothing (slow: use small HANDOFF_SOAK_NVME and HANDOFF_SOAK_NVME_PAR).
# Exit 0 pass, 1 fail, 77 skip.
set -u

nvmet_name=soak nvmet_port=2 nvmet_svc=4421
# shellcheck source=tests/upcall/lib/nvmet.sh
. "$(dirname "${BASH_SOURCE[0]}")/../upcall/lib/nvmet.sh"
nvmet_need
grep -q '^#define HANDOFF_ASAN_RUNTIME' "$builddir/config.h" 2>/dev/null &&
	skip "ASan build: its allocator keeps freed memory (the plain build's pass measures it)"

SEQ=${HANDOFF_SOAK_NVME:-25}
PAR=${HANDOFF_SOAK_NVME_PAR:-50}
SLACK=${HANDOFF_SOAK_RSS_KB:-1024}
work=${TMPDIR:-/tmp}/soak-handoffd.$$
mkdir -p "$work"
VG=()
if [[ ${HANDOFF_SOAK_VALGRIND:-0} == 1 ]]; then
	command -v valgrind >/dev/null || skip "valgrind missing"
	VG=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
		--errors-for-leak-kinds=definite,indirect --log-file="$work/valgrind.log")
	SLACK=$((1024 * 1024)) # valgrind's own memory: memcheck judges the leaks
fi
log=$work/handoffd.log
fail=0
hd_pid=
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }


cleanup() {
	nvmet_cleanup
	[[ -n $hd_pid ]] && kill "$hd_pid" 2>/dev/null && wait "$hd_pid" 2>/dev/null
	echo "---- handoffd log (failures only)"
	grep -v ': ok TLS' "$log" 2>/dev/null | tail -n 20 | sed 's/^/  /'
}
trap cleanup EXIT

nvmet_ready

"${VG[@]}" "$handoffd" -s --workers 4 >"$log" 2>&1 &
hd_pid=$!
for _ in $(seq 600); do
	grep -q "serving handshake upcalls" "$log" && break
	sleep 0.1
done
grep -q "serving handshake upcalls" "$log" || { bad "handoffd did not start"; cat "$log"; exit 1; }

# connect QUEUES: one controller, connected and deleted; 0 if both worked.
connect() {
	local reply ctrl
	exec {fd}<>/dev/nvme-fabrics
	if ! connect_opts "$1" >&"$fd" 2>>"$work/connect.err"; then
		exec {fd}>&-
		return 1
	fi
	read -r reply <&"$fd"
	exec {fd}>&-
	ctrl=nvme$(echo "$reply" | sed -n 's/.*instance=\([0-9]*\).*/\1/p')
	echo 1 >"/sys/class/nvme/$ctrl/delete_controller"
}

# burst N QUEUES: N controllers at once; the number that failed.
burst() {
	local i pids=() failed=0
	for i in $(seq "$1"); do
		connect "$2" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || failed=$((failed + 1))
	done
	echo "$failed"
}

usage() {
	local fds rss
	fds=$(find "/proc/$hd_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	rss=$(awk '$1 == "RssAnon:" { print $2 }' "/proc/$hd_pid/status")
	echo "$fds $rss"
}

judge() {
	local fds rss
	sleep 1
	read -r fds rss <<<"$(usage)"
	if [[ $fds == "$FDS0" && $rss -le $((RSS0 + SLACK)) ]]; then
		ok "$1: handoffd fds $FDS0 -> $fds, anonymous RSS $RSS0 -> $rss KiB"
	else
		bad "$1: handoffd not back to its level: fds $FDS0 -> $fds, anonymous RSS $RSS0 -> $rss KiB (slack $SLACK KiB)"
	fi
}

handshakes() { grep -c ': ok TLSv1.3' "$log"; }

# Warm-up: the pool's threads, the kernel probe, the allocator.
connect 1 || bad "warm-up connect: $(tail -n 1 "$work/connect.err")"
[[ $(burst 8 2) == 0 ]] || bad "warm-up burst"
sleep 1
read -r FDS0 RSS0 <<<"$(usage)"
h0=$(handshakes)

t0=$SECONDS
failed=0
for _ in $(seq "$SEQ"); do
	connect 1 || failed=$((failed + 1))
done
h1=$(handshakes)
[[ $failed == 0 ]] && ok "$SEQ sequential connects: $((h1 - h0)) handshakes in $((SECONDS - t0)) s" ||
	bad "$failed of $SEQ sequential connects failed: $(tail -n 1 "$work/connect.err")"
judge "$((h1 - h0)) sequential handshakes through handoffd"

t0=$SECONDS
failed=$(burst "$PAR" 2)
h2=$(handshakes)
[[ $failed == 0 ]] && ok "$PAR controllers at once: $((h2 - h1)) handshakes in $((SECONDS - t0)) s" ||
	bad "$failed of $PAR concurrent connects failed: $(tail -n 1 "$work/connect.err")"
judge "$((h2 - h1)) concurrent handshakes through handoffd"
n_failed=$(grep -c ': failed' "$log")
[[ $n_failed == 0 ]] && ok "no handshake failed in handoffd's log" || bad "$n_failed handshakes failed in handoffd's log"
if [[ ${#VG[@]} -gt 0 ]]; then
	kill "$hd_pid" 2>/dev/null
	wait "$hd_pid" 2>/dev/null
	hd_pid=
	if [[ -f $work/valgrind.log ]] && ! grep -q '^==[0-9]*== ' "$work/valgrind.log"; then
		ok "memcheck: no error and no leak in handoffd"
	else
		bad "memcheck reported errors or leaks in handoffd: $(head -c 3000 "$work/valgrind.log")"
	fi
fi
exit $fail

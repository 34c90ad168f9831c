#!/bin/bash
# faults.sh - handoffd meets faults of its own host while it answers the
# kernel's NVMe/TCP handshake upcalls (a target and host connects from
# tests/upcall/lib/nvmet.sh):
#
#   1. A full log disk: its log file on a tmpfs that fills up while it
#      serves, and stderr on /dev/full from the start.  Every connect of a
#      burst succeeds and `handoff status` counts every handshake.
#   2. No fds: its RLIMIT_NOFILE lowered (prlimit) to what it holds plus
#      one, before its first handshake.  Every connect of a burst ends
#      quickly (the kernel got DONE, or failed the request itself), never
#      waiting out the kernel's handshake timeout; the log names the
#      cause; with the limit back, the same burst succeeds whole.
#
# Runs only in the VM (HANDOFF_VM=1), with the NVMe modules and a writable
# /srv (tests/vm/suite.sh gives both):
#   tests/vm/run.sh --modules "nvme_keyring nvme_fabrics nvme_tcp nvmet nvmet_tcp" \
#       --tmpfs /srv tests/upcall/faults.sh
# Exit 0 pass, 1 fail, 77 skip.
# vm-once: asan (a full disk and no fds meet handoffd's own code, the
# same under every kernel: tests/run-all.sh runs it once, in the sanitizer
# build's pass; tests/vm/suite.sh says how.)
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=tests/upcall/lib/nvmet.sh
. "$here/lib/nvmet.sh"
nvmet_need prlimit

connects=3 queues=1
work=${TMPDIR:-/tmp}/upcall-faults.$$
mkdir -p "$work"
log=$work/handoffd.log
sock=$work/status.sock
small=$work/small
fail=0 passes=0
hd_pid=
ok() { echo "ok: $*"; passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fail=1; }

cleanup() {
	stop_daemon
	nvmet_cleanup
	mountpoint -q "$small" && umount "$small"
	echo "---- handoffd log (last 30 lines)"
	tail -n 30 "$log" 2>/dev/null | sed 's/^/  /'
}
trap cleanup EXIT


# start_daemon OUT: handoffd with stdout and stderr to OUT; waits until its
# status socket answers (the log may be unwritable).
start_daemon() {
	rm -f "$sock"
	"$handoffd" -s --status-socket "$sock" --workers 2 >>"$1" 2>&1 &
	hd_pid=$!
	for _ in $(seq 150); do
		[[ -S $sock ]] && status_json >/dev/null && return 0
		kill -0 "$hd_pid" 2>/dev/null || break
		sleep 0.1
	done
	bad "handoffd did not start (output to $1): $(tail -3 "$1" 2>/dev/null)"
	exit 1
}

# summary: the burst's results in one line.
summary() {
	local f=$work/burst
	echo "$burst_ok ok, $burst_failed failed, $burst_hung hung in $burst_ms ms; slowest $(cut -d' ' -f2 "$f"/*.res | sort -n | tail -n1) ms; errors: $(cat "$f"/*.err 2>/dev/null | sort | uniq -c | head -2 | tr -s ' \n' ' ')"
}

echo "kernel $(uname -r), $(nproc) CPUs"
nvmet_ready
per=$(handshakes_per_connect "$queues")
want=$((connects * per))

echo "## 1. a full log disk"
mkdir -p "$small"
mount -t tmpfs -o size=64k tmpfs "$small" || { bad "cannot mount a small tmpfs"; exit 1; }
: >"$small/handoffd.log"
start_daemon "$small/handoffd.log"
grep -q "serving handshake upcalls" "$small/handoffd.log" && ok "log on the small tmpfs: handoffd started and said so"
dd if=/dev/zero of="$small/filler" bs=4k 2>/dev/null
df_avail=$(df -k --output=avail "$small" | tail -n1 | tr -d ' ')
size0=$(stat -c %s "$small/handoffd.log")
burst "$connects" "$queues"
[[ $burst_ok -eq $connects ]] && ok "log disk full ($df_avail KiB free): all $connects connects succeeded: $(summary)" ||
	bad "log disk full: $(summary)"
s=$(status_json)
[[ $(jget ok <<<"$s") == "$want" && $(jget failed <<<"$s") == 0 ]] &&
	ok "log disk full: handoff status counts $want handshakes ok" ||
	bad "log disk full: want $want ok handshakes, status says: $s"
size1=$(stat -c %s "$small/handoffd.log")
echo "# the log file: $size0 bytes before the burst, $size1 after (no room for its lines)"
kill -0 "$hd_pid" 2>/dev/null && ok "log disk full: handoffd still runs" || bad "handoffd died with its disk full"
burst_disconnect || bad "controllers left behind"
stop_daemon

start_daemon /dev/full
burst "$connects" "$queues"
[[ $burst_ok -eq $connects ]] && ok "stderr on /dev/full (ENOSPC from the first line): all $connects connects succeeded: $(summary)" ||
	bad "stderr on /dev/full: $(summary)"
s=$(status_json)
[[ $(jget ok <<<"$s") == "$want" && $(jget failed <<<"$s") == 0 ]] &&
	ok "stderr on /dev/full: handoff status counts $want handshakes ok" ||
	bad "stderr on /dev/full: want $want ok handshakes, status says: $s"
burst_disconnect || bad "controllers left behind"
stop_daemon
umount "$small"

echo "## 2. no fds left"
: >"$log"
start_daemon "$log"
nfd=$(ls /proc/"$hd_pid"/fd | wc -l)
hi=$(ls /proc/"$hd_pid"/fd | sort -n | tail -n1)
hard=$(awk '/^Max open files/ { print $5 }' /proc/"$hd_pid"/limits)
soft=$(awk '/^Max open files/ { print $4 }' /proc/"$hd_pid"/limits)
limit=$((hi + 2))
echo "# handoffd holds $nfd fds (highest $hi), limits $soft/$hard: soft limit now $limit (one fd free)"
prlimit --pid "$hd_pid" --nofile="$limit:$hard" || { bad "prlimit failed"; exit 1; }
burst "$connects" "$queues"
echo "# with one fd free: $(summary)"
slowest=$(cut -d' ' -f2 "$work"/burst/*.res | sort -n | tail -n1)
[[ $burst_hung -eq 0 ]] && ok "no fds: no connect hung" || bad "no fds: $burst_hung connects hung"
[[ $burst_failed -ge 1 ]] && ok "no fds: $burst_failed connects failed" || bad "no fds: none failed (was the limit in effect?)"
# nvme-tcp gives user space 10 s (tls_handshake_timeout): a request that got
# no DONE ends only then.
[[ ${slowest:-99999} -lt 8000 ]] && ok "no fds: every connect ended within $slowest ms (no DONE awaited the kernel's 10 s timeout)" ||
	bad "no fds: the slowest connect took $slowest ms: a request waited for the kernel's timeout"
grep -q "DONE not delivered" "$log" && bad "no fds: a DONE was not delivered: $(grep -m1 'DONE not delivered' "$log")" ||
	ok "no fds: every accepted request got its DONE"
grep -q "Too many open files" "$log" && ok "no fds: the log names the cause: $(grep -m1 'Too many open files' "$log" | cut -c1-200)" ||
	bad "no fds: the log does not say 'Too many open files'"
burst_disconnect || bad "controllers left behind"
kill -0 "$hd_pid" 2>/dev/null || { bad "handoffd died without fds"; exit 1; }
prlimit --pid "$hd_pid" --nofile="$soft:$hard"
s0=$(status_json)
burst "$connects" "$queues"
[[ $burst_ok -eq $connects ]] && ok "fds back: all $connects connects succeeded: $(summary)" ||
	bad "fds back: $(summary)"
s=$(status_json)
d_ok=$(( $(jget ok <<<"$s") - $(jget ok <<<"$s0") ))
[[ $d_ok -eq $want ]] && ok "fds back: handoff status counts $want more handshakes ok" ||
	bad "fds back: $d_ok more ok handshakes, want $want: $s"
burst_disconnect || bad "controllers left behind"
echo "# $passes passed"
exit $fail

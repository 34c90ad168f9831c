#!/bin/bash
# nvme-burst.sh - handoffd under a burst of NVMe/TCP TLS connects, killed
# with SIGKILL in the middle of it, then restarted.
#
# Runs only in the VM (HANDOFF_VM=1), with the NVMe modules and a writable
# /srv (tests/vm/suite.sh gives both):
#   tests/vm/run.sh --modules "nvme_keyring nvme_fabrics nvme_tcp nvmet nvmet_tcp" \
#       --tmpfs /srv tests/upcall/nvme-burst.sh
# Each host connect makes 1 + nr_io_queues TLS connections, and each is a
# handshake upcall on both ends (the host's and the nvmet target's), all
# answered by one handoffd.
#
#   1. A burst of connects; handoffd gets SIGKILL once a few handshakes are
#      done.  Every connect must end (success, or an error) well within
#      the kernel's own handshake timeout; none may hang, and at least one
#      must have been cut by the kill.
#   2. handoffd restarted: the same burst succeeds whole, and `handoff
#      status` counts exactly its handshakes, none failed.
#
# Not a benchmark: the kernel serialises NVMe connects, so this burst is
# at most two handshakes at a time (tests/bench/nfs-burst.sh measures).
# Exit 0 pass, 1 fail, 77 skip.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=tests/upcall/lib/nvmet.sh
. "$here/lib/nvmet.sh"
nvmet_need

connects=8 queues=1
work=${TMPDIR:-/tmp}/nvme-burst.$$
mkdir -p "$work"
log=$work/handoffd.log
sock=$work/status.sock
fail=0
hd_pid=
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

cleanup() {
	stop_daemon
	nvmet_cleanup
	echo "---- handoffd log (last 30 lines)"
	tail -n 30 "$log" 2>/dev/null | sed 's/^/  /'
}
trap cleanup EXIT

# start_daemon [ARGS...]: handoffd with its own status socket; waits until it listens.
start_daemon() {
	: >"$log"
	"$handoffd" -s --status-socket "$sock" "$@" >>"$log" 2>&1 &
	hd_pid=$!
	for _ in $(seq 100); do
		grep -q "serving handshake upcalls" "$log" && return 0
		kill -0 "$hd_pid" 2>/dev/null || break
		sleep 0.1
	done
	bad "handoffd $* did not start: $(tail -3 "$log")"
	exit 1
}


echo "kernel $(uname -r), $(nproc) CPUs"
nvmet_ready
per=$(handshakes_per_connect "$queues")

# 1. SIGKILL in the middle of a burst.
start_daemon --workers 2
burst "$connects" "$queues" &
burst_pid=$!
killed=0
for _ in $(seq 600); do
	if [[ $(grep -c 'handshake #.*: ok TLSv1.3' "$log") -ge 4 ]]; then
		kill -KILL "$hd_pid"
		wait "$hd_pid" 2>/dev/null
		killed=$(grep -c 'handshake #.*: ok TLSv1.3' "$log")
		hd_pid=
		break
	fi
	sleep 0.05
done
t0=$(now_ms)
wait "$burst_pid"
t1=$(now_ms)
# burst ran in a subshell: count its results here.
n_ok=0 n_failed=0 n_hung=0 slowest=0
for ((i = 0; i < connects; i++)); do
	read -r rc ms <"$work/burst/$i.res" || { n_hung=$((n_hung + 1)); continue; }
	case $rc in
	0) n_ok=$((n_ok + 1)) ;;
	124 | 137) n_hung=$((n_hung + 1)) ;;
	*) n_failed=$((n_failed + 1)) ;;
	esac
	((ms > slowest)) && slowest=$ms
done
if [[ $killed -eq 0 ]]; then
	bad "handoffd never got to 4 handshakes: $(tail -3 "$log")"
else
	echo "SIGKILL after $killed handshakes; the burst ended $((t1 - t0)) ms later:" \
		"$n_ok connects ok, $n_failed failed, $n_hung hung; slowest connect $slowest ms"
	[[ $n_hung -eq 0 ]] && ok "SIGKILL mid-burst: no connect hung" || bad "$n_hung connects hung"
	[[ $n_failed -ge 1 ]] && ok "SIGKILL mid-burst: $n_failed connects saw the failure: $(cat "$work"/burst/*.err | sort | uniq -c | head -2 | tr -s ' \n' ' ')" ||
		bad "no connect failed: the kill came after the burst"
	[[ $((n_ok + n_failed + n_hung)) -eq $connects ]] || bad "results missing"
fi
burst_disconnect || bad "controllers left behind after the kill"

# 2. Restarted: the same burst succeeds whole, and the counters say so.
start_daemon
burst "$connects" "$queues"
[[ $burst_ok -eq $connects ]] &&
	ok "after restart: all $connects connects succeeded in $burst_ms ms" ||
	bad "after restart: $burst_ok of $connects connects succeeded ($burst_failed failed, $burst_hung hung): $(cat "$work"/burst/*.err | sort -u | head -3)"
s=$(status_json)
want=$((connects * per))
[[ $(jget handshakes <<<"$s") == "$want" && $(jget ok <<<"$s") == "$want" && $(jget failed <<<"$s") == 0 ]] &&
	ok "handoff status after the burst: $want handshakes ok ($connects connects x $per), p50 $(jget latency-p50-ms <<<"$s") ms, p99 $(jget latency-p99-ms <<<"$s") ms (TCG)" ||
	bad "handoff status: want $want ok handshakes, got: $s"
exit $fail

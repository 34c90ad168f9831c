#!/bin/bash
# nvme-netns.sh - the handshake family is per network namespace: a host in
# another namespace is served by the handoffd running there, and by no other.
#
# Runs only in the VM (HANDOFF_VM=1), with the NVMe modules and a writable
# /srv (tests/vm/suite.sh gives both).  A veth pair joins namespace
# "hsnet" (10.77.0.2) to the host's (10.77.0.1), where the nvmet target
# listens with TLS required.  The NVMe host connects from inside hsnet,
# so its handshake upcall goes to hsnet's handshake family, the target's
# to the host namespace's.
#   1. Only the host namespace's handoffd runs: the connect fails fast
#      (nobody listens in hsnet) and that daemon never sees the request.
#   2. A second handoffd started in hsnet (ip netns exec): the connect
#      succeeds; hsnet's daemon logged the client side, the host's the
#      server side, each counted by its own status socket.
# Exit 0 pass, 1 fail, 77 skip.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
NVMET_ADDR=10.77.0.1
# shellcheck source=tests/upcall/lib/nvmet.sh
. "$here/lib/nvmet.sh"
nvmet_need ip

work=${TMPDIR:-/tmp}/nvme-netns.$$
mkdir -p "$work"
fail=0
pid_host= pid_ns=
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

cleanup() {
	for p in $pid_host $pid_ns; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	nvmet_cleanup
	ip netns del hsnet 2>/dev/null
	ip link del hs0 2>/dev/null
	for l in host ns; do
		echo "---- handoffd ($l namespace) log"
		sed 's/^/  /' "$work/$l.log" 2>/dev/null
	done
}
trap cleanup EXIT

ip netns add hsnet || { bad "ip netns add"; exit 1; }
ip link add hs0 type veth peer name hs1 || skip "no veth in this kernel"
ip link set hs1 netns hsnet
ip addr add 10.77.0.1/24 dev hs0 && ip link set hs0 up
ip netns exec hsnet ip addr add 10.77.0.2/24 dev hs1
ip netns exec hsnet ip link set hs1 up
ip netns exec hsnet ip link set lo up
for _ in $(seq 50); do ip netns exec hsnet ping -c1 -W1 10.77.0.1 >/dev/null 2>&1 && break; sleep 0.1; done

nvmet_ready

# start LABEL [netns]: a handoffd in the host namespace or in hsnet.
start() {
	local label=$1 pre=()
	[[ ${2:-} ]] && pre=(ip netns exec "$2")
	"${pre[@]}" "$handoffd" -s --status-socket "$work/$label.sock" >"$work/$label.log" 2>&1 &
	eval "pid_$label=$!"
	for _ in $(seq 100); do
		grep -q "serving handshake upcalls" "$work/$label.log" && return 0
		sleep 0.1
	done
	bad "handoffd ($label) did not start: $(tail -2 "$work/$label.log")"
	exit 1
}

# connect_from_ns: one controller from inside hsnet; "RC MS" on stdout.
connect_from_ns() {
	local t0 rc
	t0=$(now_ms)
	timeout 60 ip netns exec hsnet bash -c 'exec 3<>/dev/nvme-fabrics && echo "$1" >&3 && read -r r <&3 && echo "$r"' \
		_ "$(connect_opts 1)" >"$work/reply" 2>"$work/connect.err"
	rc=$?
	echo "$rc $(($(now_ms) - t0))"
}

# 1. Nobody in hsnet.
start host
res=$(connect_from_ns)
read -r rc ms <<<"$res"
if [[ $rc -eq 0 ]]; then
	bad "connect from hsnet succeeded with no handoffd there"
elif [[ $rc -eq 124 ]]; then
	bad "connect from hsnet hung with no handoffd there"
else
	ok "no handoffd in hsnet: connect failed in $ms ms: $(head -1 "$work/connect.err")"
fi
grep -q "nvme client" "$work/host.log" && bad "the host namespace's handoffd served hsnet's client" ||
	ok "the host namespace's handoffd never saw hsnet's request"
burst_disconnect

# 2. A handoffd in hsnet too.
start ns hsnet
res=$(connect_from_ns)
read -r rc ms <<<"$res"
[[ $rc -eq 0 ]] && ok "handoffd in hsnet: connected in $ms ms: $(cat "$work/reply")" ||
	bad "connect with a handoffd in hsnet: rc $rc: $(cat "$work/connect.err")"
grep -q "nvme client peer=10.77.0.1 auth=psk: ok TLSv1.3" "$work/ns.log" &&
	ok "hsnet's handoffd did the client side: $(grep -m1 'nvme client' "$work/ns.log" | sed 's/^handoffd: //; s/ psk=.*(/ (/')" ||
	bad "no client handshake in hsnet's log"
grep -q "nvme server peer=10.77.0.2 auth=psk: ok TLSv1.3" "$work/host.log" &&
	ok "the host namespace's handoffd did the server side" ||
	bad "no server handshake in the host namespace's log"
ns_ok=$("$cli" status --socket "$work/ns.sock" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["client-ok"], d["server-ok"])')
[[ $ns_ok == "2 0" ]] && ok "hsnet's status: 2 client handshakes (admin and I/O queue), no server ones" ||
	bad "hsnet's status: client-ok server-ok = $ns_ok"
burst_disconnect
exit $fail

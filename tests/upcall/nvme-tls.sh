#!/bin/bash
# nvme-tls.sh - NVMe/TCP with TLS 1.3 and a PSK on loopback, both handshake
# upcalls (the host's and the nvmet target's) answered by handoffd.
#
# Runs only in the VM (HANDOFF_VM=1), with the NVMe modules loaded:
#   tests/vm/run.sh --modules "nvme_keyring nvme_fabrics nvme_tcp nvmet nvmet_tcp" \
#       --tmpfs /srv tests/upcall/nvme-tls.sh
# (tests/vm/suite.sh passes both).  Debian 12's nvme-cli (2.3) predates its
# TLS options, so this drives the kernel interface nvme-cli drives: the PSK
# into the .nvme keyring with keyctl, the target in configfs, the host
# through /dev/nvme-fabrics.
#
# The PSK is a retained SHA-256 one, identity "NVMe0R01 <hostnqn> <subnqn>"
# (TP 8018): the host finds it by that name, sends it as its identity, and
# the target's upcall looks the identity up in the keyring.  Data written to
# the namespace through the TLS connection must land in the backing file.
# Then a PSK identity the target does not know: the connect fails fast and
# the log says EKEYREJECTED.  Last, `handoff status` (text and --json) must
# count exactly the handshakes the log shows, by role and result, with the
# failure's cause; a wrong socket path is an error that says so.  Last, a
# SHA-384 PSK (48 bytes, "NVMe0R02"), which this GnuTLS cannot bind: the
# host's upcall and the target's each refuse it by name.
# Exit 0 pass, 1 fail, 77 skip.
set -u

nvmet_name=tls-test nvmet_port=1 nvmet_svc=4420
# shellcheck source=tests/upcall/lib/nvmet.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/nvmet.sh"
nvmet_need

work=${TMPDIR:-/tmp}/nvme-tls.$$
mkdir -p "$work"
log=$work/handoffd.log
fail=0
hd_pid=
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
tls_stat() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }

ctrl=

cleanup() {
	[[ -n $ctrl ]] && echo 1 >"/sys/class/nvme/$ctrl/delete_controller" 2>/dev/null
	nvmet_cleanup
	[[ -n $hd_pid ]] && kill "$hd_pid" 2>/dev/null && wait "$hd_pid" 2>/dev/null
	echo "---- handoffd log"
	sed 's/^/  /' "$log" 2>/dev/null
}
trap cleanup EXIT

echo "kernel $(uname -r)"

# The PSK in the keyring both kernel sides use, and the target: one
# subsystem, one namespace on a file, a TLS-only port.
nvmet_ready
identity=$psk_identity serial=$psk_serial
ok "PSK $serial in .nvme: $identity"
ok "nvmet: $subnqn on 127.0.0.1:$nvmet_svc, tsas $(cat "$nvmet/ports/$nvmet_port/addr_tsas"), treq $(cat "$nvmet/ports/$nvmet_port/addr_treq")"

"$handoffd" -s --workers 4 --status-socket "$work/status.sock" >"$log" 2>&1 &
hd_pid=$!
for _ in $(seq 50); do
	grep -q "serving handshake upcalls" "$log" && break
	kill -0 "$hd_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q "serving handshake upcalls" "$log" && ok "handoffd listens" || { bad "handoffd did not start"; exit 1; }
# What it kept (privs.h): CAP_NET_ADMIN (bit 12) only, in every thread, and
# no_new_privs; the handshakes below prove that this is enough.
caps=$(cat /proc/"$hd_pid"/task/*/status | awk '/^Cap(Eff|Prm|Bnd|Amb|Inh):/ { print $1 $2 }' | sort -u | tr '\n' ' ')
[[ $caps == "CapAmb:0000000000000000 CapBnd:0000000000001000 CapEff:0000000000001000 CapInh:0000000000000000 CapPrm:0000000000001000 " ]] &&
	grep -q "^NoNewPrivs:[[:space:]]*1" /proc/"$hd_pid"/status &&
	ok "handoffd kept CAP_NET_ADMIN only, in all $(ls /proc/"$hd_pid"/task | wc -l) threads, no_new_privs: $caps" ||
	bad "handoffd's capabilities: $caps $(grep NoNewPrivs /proc/"$hd_pid"/status)"
# handoff check sees the daemon and the .nvme keyring with our PSK in it,
# by serial and identity, and never prints the key.
"$builddir/handoff" check --socket "$work/status.sock" >"$work/check.out" 2>&1
grep -q "^handshake daemon: *handoffd answers on $work/status.sock (pid $hd_pid, pool mode" "$work/check.out" &&
	grep -q "^  running: handoffd (pid $hd_pid)" "$work/check.out" &&
	ok "handoff check: $(grep -m1 '^handshake daemon:' "$work/check.out" | tr -s ' ')" ||
	bad "handoff check does not see handoffd: $(grep -A2 '^handshake daemon' "$work/check.out")"
grep -q "^keyring \.nvme *serial [0-9]*, [0-9]* keys\?$" "$work/check.out" &&
	grep -q "^  $serial psk \"$identity\"$" "$work/check.out" &&
	! grep -qi "$(od -An -tx1 "$work/psk" | tr -d ' \n' | head -c 16)" "$work/check.out" &&
	ok "handoff check: .nvme keyring holds PSK $serial by identity, no key bytes" ||
	bad "handoff check keyrings: $(grep -A3 '^keyring .nvme' "$work/check.out")"
"$builddir/handoff" check --json --socket "$work/status.sock" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["daemon"]["answers"] and d["daemon"]["pid"] == int(sys.argv[1]), d["daemon"]
r = [r for r in d["keyrings"] if r["name"] == ".nvme"][0]
assert any(k["serial"] == int(sys.argv[2]) and k["type"] == "psk" for k in r["keys"]), r
' "$hd_pid" "$serial" 2>"$work/check.err" && ok "handoff check --json: the daemon and the PSK" ||
	bad "handoff check --json: $(tail -2 "$work/check.err")"

tx0=$(tls_stat TlsTxSw)
t0=$(now_ms)
exec 3<>/dev/nvme-fabrics
if echo "transport=tcp,traddr=127.0.0.1,trsvcid=$nvmet_svc,nqn=$subnqn,hostnqn=$hostnqn,hostid=$hostid,tls,nr_io_queues=2" >&3 2>"$work/connect.err"; then
	read -r reply <&3
	t1=$(now_ms)
	ctrl=nvme$(echo "$reply" | sed -n 's/.*instance=\([0-9]*\).*/\1/p')
	ok "connected over TLS in $((t1 - t0)) ms: $reply"
else
	bad "connect failed: $(cat "$work/connect.err"); dmesg: $(dmesg | grep -i -E 'nvme|tls' | tail -3)"
fi
exec 3>&-

if [[ -n $ctrl ]]; then
	dev=
	for _ in $(seq 100); do
		for d in /dev/"$ctrl"n1 /dev/"$ctrl"c*n1; do
			[[ -b $d ]] && dev=$d && break 2
		done
		sleep 0.1
	done
	[[ -n $dev ]] && ok "namespace $dev" || bad "no namespace block device for $ctrl"
	if [[ -n $dev ]]; then
		head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/data"
		dd if="$work/data" of="$dev" bs=1M oflag=direct status=none && sync
		cmp -s -n $((4 * 1024 * 1024)) "$work/data" "/srv/$nvmet_name.img" &&
			ok "4 MiB written through NVMe/TCP TLS arrived intact in the target's file" ||
			bad "the target's file differs"
		dd if="$dev" of="$work/back" bs=1M count=4 iflag=direct status=none
		cmp -s "$work/data" "$work/back" && ok "read back intact through TLS" ||
			bad "read back differs"
	fi
	tx1=$(tls_stat TlsTxSw)
	echo "tls_stat: TlsTxSw $tx0 -> $tx1"
	[[ $((tx1 - tx0)) -ge 2 ]] && ok "tls_stat: kTLS sockets on both ends" ||
		bad "tls_stat did not move"
	grep -q "nvme client peer=127.0.0.1 auth=psk: ok TLSv1.3" "$log" &&
		ok "host upcall served: $(grep -m1 'nvme client.*auth=psk: ok' "$log" | sed 's/^handoffd: //')" ||
		bad "no successful host (client) upcall in the log"
	grep -q "nvme server peer=127.0.0.1 auth=psk: ok TLSv1.3 .*psk=\"NVMe0R01 " "$log" &&
		ok "target upcall served with the host's identity" ||
		bad "no successful target (server) upcall naming the PSK identity"
	echo "handshakes: $(grep -c ': ok TLSv1.3' "$log") ok, $(grep -c ': failed' "$log") failed"
	echo 1 >"/sys/class/nvme/$ctrl/delete_controller" && ctrl=
fi

# connect_refused WHAT KEY: a host connect with the PSK key KEY must fail,
# and fast (a hang is a failure too); a controller it made anyway is
# deleted at the end (ctrl).
connect_refused() {
	local reply rc t0 t1
	t0=$(now_ms)
	exec 3<>/dev/nvme-fabrics
	if timeout 60 sh -c "echo 'transport=tcp,traddr=127.0.0.1,trsvcid=$nvmet_svc,nqn=$subnqn,hostnqn=$hostnqn,hostid=$hostid,tls,tls_key=$2,nr_io_queues=1,ctrl_loss_tmo=0' >&3" 2>"$work/connect.err"; then
		bad "$1: the connect succeeded"
		read -r reply <&3
		ctrl=nvme$(echo "$reply" | sed -n 's/.*instance=\([0-9]*\).*/\1/p')
	else
		rc=$?
		t1=$(now_ms)
		echo "dmesg: $(dmesg | tail -4 | tr "\n" " ")"
		[[ $rc -ne 124 ]] && ok "$1: connect failed in $((t1 - t0)) ms: $(head -1 "$work/connect.err")" ||
			bad "$1: connect hung"
	fi
	exec 3>&-
}

# An identity the target does not know: the host names a PSK (tls_key) that
# lives outside the keyrings the target's upcall searches.  The connect must
# fail fast, and the log must say why.
other=$(keyctl padd psk "NVMe0R01 $hostnqn $subnqn-unknown" @u <"$work/psk")
keyctl setperm "$other" 0x3f3f0000
connect_refused "unknown PSK identity" "$other"
grep -q "nvme server peer=127.0.0.1 auth=psk: failed EKEYREJECTED: PSK identity unknown" "$log" &&
	ok "logged: $(grep -m1 'failed EKEYREJECTED' "$log" | sed 's/^handoffd: //')" ||
	bad "no EKEYREJECTED line for the unknown identity"

# The counters against the log: every handshake is in both.
cli=$builddir/handoff
n_ok=$(grep -c 'handshake #.*: ok TLSv1.3' "$log")
n_failed=$(grep -c 'handshake #.*: failed ' "$log")
n_srv_failed=$(grep -c 'handshake #.* server .*: failed ' "$log")
n_cli_ok=$(grep -c 'handshake #.* client .*: ok TLSv1.3' "$log")
if "$cli" status --socket "$work/status.sock" >"$work/status.txt" 2>&1; then
	sed 's/^/  | /' "$work/status.txt"
	grep -q "^handshakes: $((n_ok + n_failed)) ($n_ok ok, $n_failed failed)$" "$work/status.txt" &&
		ok "handoff status: $((n_ok + n_failed)) handshakes, $n_ok ok, $n_failed failed, as the log says" ||
		bad "handoff status disagrees with the log ($n_ok ok, $n_failed failed)"
	grep -q "^  as client: $n_cli_ok ok, " "$work/status.txt" &&
		grep -q "^  as server: .*, $n_srv_failed failed$" "$work/status.txt" &&
		ok "handoff status: by role as in the log" || bad "handoff status: roles differ from the log"
	# The target refuses the identity (EKEYREJECTED); the host sees its alert.
	grep -q "^  failed by status: .*EKEYREJECTED 1\b" "$work/status.txt" &&
		grep -q "^  #[0-9]* server nvme 127.0.0.1 EKEYREJECTED PSK identity unknown" "$work/status.txt" &&
		ok "handoff status: the failure is counted with its cause" ||
		bad "handoff status: no EKEYREJECTED failure with its cause"
	grep -q "^latency (ACCEPT to DONE, last $((n_ok + n_failed)) handshakes): p50 [0-9]* ms" "$work/status.txt" &&
		ok "handoff status: latency percentiles over all $((n_ok + n_failed))" ||
		bad "handoff status: no latency line over $((n_ok + n_failed)) handshakes"
	grep -q "^workers: 0 busy of 4; 0 queued; 0 in flight" "$work/status.txt" &&
		ok "handoff status: idle workers and queue" || bad "handoff status: workers line"
else
	bad "handoff status failed: $(cat "$work/status.txt")"
fi
if "$cli" status --socket "$work/status.sock" --json >"$work/status.json" 2>&1 &&
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
ok, failed = int(sys.argv[2]), int(sys.argv[3])
assert s["ok"] == ok and s["failed"] == failed and s["handshakes"] == ok + failed, s
assert s["failed-EKEYREJECTED"] == 1, s
assert sum(v for k, v in s.items() if k.startswith("failed-")) == failed, s
f = [f for f in s["failures"] if f["status"] == "EKEYREJECTED"]
assert len(f) == 1 and f[0]["role"] == "server" and f[0]["consumer"] == "nvme", s
assert f[0]["cause"].startswith("PSK identity unknown"), s
assert s["mode"] == "pool" and s["workers"] == 4 and s["config-generation"] == 1, s
' "$work/status.json" "$n_ok" "$n_failed" 2>"$work/json.err"; then
	ok "handoff status --json: valid JSON with the same counts"
else
	bad "handoff status --json: $(cat "$work/json.err" "$work/status.json" | head -5)"
fi
"$cli" status --socket "$work/no-such.sock" >"$work/nosock.out" 2>&1
rc=$?
[[ $rc -eq 1 ]] && grep -q "no-such.sock: No such file or directory (is handoffd running?" "$work/nosock.out" &&
	ok "handoff status, no daemon there: exit 1, $(cat "$work/nosock.out")" ||
	bad "handoff status, wrong socket: rc $rc: $(cat "$work/nosock.out")"

# SHA-384 PSKs (48 bytes, identity "NVMe0R02 ..."): Debian 12's GnuTLS
# (3.7.9) binds every external PSK with SHA-256, which would complete a
# handshake with the wrong hash against another GnuTLS 3.7.  Each side must
# refuse by name instead.  After the counters above, which these would change.
head -c 48 /dev/urandom >"$work/psk48"
id384="NVMe0R02 $hostnqn $subnqn"
# The host's upcall: offered a SHA-384 key by serial (tls_key), it refuses.
k384=$(keyctl padd psk "$id384" @u <"$work/psk48")
keyctl setperm "$k384" 0x3f3f0000
connect_refused "SHA-384 PSK on the host" "$k384"
grep -q "nvme client peer=127.0.0.1 auth=psk: failed EKEYREJECTED: PSK $k384 (\"$id384\"): a SHA-384 PSK (48-byte key, NVMe hash 02), but GnuTLS [0-9.]* binds external PSKs with SHA-256 only" "$log" &&
	ok "host side logged: $(grep -m1 "failed EKEYREJECTED: PSK $k384" "$log" | sed 's/^handoffd: //')" ||
	bad "no host-side line refusing the SHA-384 PSK by name"
keyctl unlink "$k384" @u >/dev/null 2>&1
# The target's upcall: a client (gnutls-cli standing in for an NVMe host,
# which GnuTLS 3.7 lets bind with SHA-256 only) offers the identity of a
# SHA-384 key the target holds: refused by name, not accepted.
if command -v gnutls-cli >/dev/null; then
	t384=$(keyctl padd psk "$id384" %:.nvme <"$work/psk48")
	t0=$(now_ms)
	echo | timeout 30 gnutls-cli -p 4420 127.0.0.1 --pskusername "$id384" \
		--pskkey "$(od -An -tx1 -v "$work/psk48" | tr -d ' \n')" \
		--priority "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+PSK" >"$work/cli384.out" 2>&1
	rc=$?
	t1=$(now_ms)
	[[ $rc -ne 0 && $rc -ne 124 ]] && ok "SHA-384 PSK at the target: the client was refused in $((t1 - t0)) ms: $(grep -m1 -i 'fatal\|error' "$work/cli384.out")" ||
		bad "SHA-384 PSK at the target: gnutls-cli rc $rc: $(tail -2 "$work/cli384.out")"
	for _ in $(seq 50); do grep -q "PSK identity refused" "$log" && break; sleep 0.1; done
	grep -q "nvme server peer=127.0.0.1 auth=psk: failed EKEYREJECTED: PSK identity refused: .*a SHA-384 PSK (48-byte key, NVMe hash 02), but GnuTLS [0-9.]* binds external PSKs with SHA-256 only" "$log" &&
		ok "target side logged: $(grep -m1 'PSK identity refused' "$log" | sed 's/^handoffd: //')" ||
		bad "no target-side line refusing the SHA-384 PSK by name"
	keyctl unlink "$t384" %:.nvme >/dev/null 2>&1
else
	bad "gnutls-cli missing (gnutls-bin): cannot play the SHA-384 host"
fi

exit $fail

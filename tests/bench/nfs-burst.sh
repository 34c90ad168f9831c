#!/bin/bash
# nfs-burst.sh - the handoffd burst of tests/bench/bench.sh (rows U1, U2):
# the same burst of NFS-over-TLS upcalls against the worker pool and
# against --fork-per-request, in one boot.  Runs in the VM only, started by
# tests/bench/vm-bench.sh (which bench.sh boots with the NFS modules and
# tmpfs on /var/lib/nfs, /srv and /mnt).
#
#   nfs-burst.sh [MOUNTS [NCONNECT [REPS]]]     (default 8 16 2)
#
# A burst: MOUNTS NFSv4.2 mounts with xprtsec=tls and nconnect=NCONNECT,
# each against its own server name (127.0.0.N in a bind-mounted
# /etc/hosts, all of them DNS SANs of one server certificate), started
# together, then parallel reads of 32 files on every mount (threads of one
# process) so that the extra transports (opened lazily, on first use)
# connect.  Every transport is a handshake upcall on both ends (client
# and nfsd), all answered by one handoffd.  Each burst uses fresh names:
# an old transport is never reused.
#
# A known flaw: the names all lead to one nfsd, and the NFS client folds
# mounts of one server into one client (measured on 6.12: a second name's
# mount added 2 handshakes, /proc/fs/nfsfs/servers listed one server).
# So a burst opens about one mount's transports, some 46 handshakes, not
# the 8 x 16 x 2 = 256 it was meant to; a credible burst needs servers the
# client cannot fold together (nfsd in several network namespaces).
#
# Why not NVMe/TCP: the kernel serialises connects (nvmf_dev_mutex) and a
# controller's queues, so an NVMe burst is at most two handshakes at a
# time (measured: pool and fork-per-request within 20% of each other).
#
# Prints "bench: KEY VALUE" lines: completion time of the whole burst,
# handshakes, and the per-handshake latency (ACCEPT to DONE, p50 and p99,
# from handoffd's status) per mode.  TCG: only ratios mean anything.
set -u

[[ ${HANDOFF_VM:-} == 1 && $(id -u) == 0 ]] || { echo "nfs-burst: VM only, as root" >&2; exit 77; }
mounts=${1:-8} nconnect=${2:-16} reps=${3:-2}
builddir=${HANDOFF_BUILDDIR:-$PWD}
handoffd=$builddir/handoffd
cli=$builddir/handoff
for t in rpc.nfsd rpc.mountd exportfs mount.nfs certtool; do
	command -v "$t" >/dev/null || { echo "nfs-burst: $t missing" >&2; exit 77; }
done
grep -qw nfsd /proc/filesystems || { echo "nfs-burst: no nfsd (modules sunrpc nfsd nfs nfsv4)" >&2; exit 77; }
touch /var/lib/nfs/.w /srv/.w /mnt/.w 2>/dev/null || { echo "nfs-burst: /var/lib/nfs /srv /mnt must be writable" >&2; exit 77; }

w=${TMPDIR:-/tmp}/nfs-burst.$$
mkdir -p "$w" /var/lib/nfs/v4recovery /var/lib/nfs/rpc_pipefs /srv/export
log=$w/handoffd.log
sock=$w/status.sock
hd_pid=
rc=0
now_ms() { echo $(($(date +%s%N) / 1000000)); }
say() { echo "vm-bench: nfs-burst: $*" >&2; }
broken() { say "BROKEN: $*"; rc=1; }

stop_daemon() {
	[[ -n $hd_pid ]] || return 0
	kill "$hd_pid" 2>/dev/null
	wait "$hd_pid" 2>/dev/null
	hd_pid=
}
cleanup() {
	stop_daemon
	umount -f /mnt/b* 2>/dev/null
	exportfs -ua 2>/dev/null
	rpc.nfsd 0 2>/dev/null
	umount /etc/hosts 2>/dev/null
}
trap cleanup EXIT

# Names: burst B, mount I -> bB-I at 127.0.(B+1).(I+1).
bursts=$((2 * reps))
{
	echo "127.0.0.1 localhost"
	for ((b = 0; b < bursts; b++)); do
		for ((i = 0; i < mounts; i++)); do echo "127.0.$((b + 1)).$((i + 1)) b$b-$i"; done
	done
} >"$w/hosts"
mount --bind "$w/hosts" /etc/hosts || { broken "bind-mount /etc/hosts"; exit 1; }

cat >"$w/ca.tmpl" <<-EOF
	cn = "nfs-burst CA"
	ca
	cert_signing_key
	expiration_days = 2
EOF
{
	echo 'cn = "nfs-burst server"'
	echo 'dns_name = "localhost"'
	for ((b = 0; b < bursts; b++)); do
		for ((i = 0; i < mounts; i++)); do echo "dns_name = \"b$b-$i\""; done
	done
	printf 'tls_www_server\nsigning_key\nexpiration_days = 2\n'
} >"$w/server.tmpl"
(
	cd "$w" &&
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile ca-key.pem &&
	certtool --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl --outfile ca.pem &&
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile key.pem &&
	certtool --generate-certificate --load-privkey key.pem --load-ca-certificate ca.pem \
		--load-ca-privkey ca-key.pem --template server.tmpl --outfile cert.pem
) >"$w/pki.log" 2>&1 || { cat "$w/pki.log" >&2; broken "certtool"; exit 1; }
cat >"$w/tlshd.conf" <<-EOF
	[authenticate.client]
	x509.truststore=$w/ca.pem
	[authenticate.server]
	x509.certificate=$w/cert.pem
	x509.private_key=$w/key.pem
EOF

for ((f = 0; f < 32; f++)); do head -c 65536 /dev/urandom >"/srv/export/f$f"; done
mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || { broken "mount nfsd"; exit 1; }
echo 10 >/proc/fs/nfsd/nfsv4gracetime
echo 10 >/proc/fs/nfsd/nfsv4leasetime
rpc.nfsd -N 3 --no-udp 4 || { broken "rpc.nfsd"; exit 1; }
exportfs -o rw,no_root_squash,fsid=0,insecure,no_subtree_check '*:/srv/export' 2>/dev/null
rpc.mountd -N 3 --no-udp || { broken "rpc.mountd"; exit 1; }
# Past the grace period, or the first OPENs wait it out (NFS4ERR_GRACE).
sleep 11

start_daemon() {
	: >"$log"
	"$handoffd" -s -c "$w/tlshd.conf" --status-socket "$sock" "$@" >>"$log" 2>&1 &
	hd_pid=$!
	for _ in $(seq 100); do
		grep -q "serving handshake upcalls" "$log" && return 0
		sleep 0.1
	done
	broken "handoffd $* did not start: $(tail -2 "$log")"
	return 1
}

# one_mount B I: mount bB-I.
one_mount() {
	mkdir -p "/mnt/b$1-$2"
	timeout 120 mount -t nfs4 -o "xprtsec=tls,vers=4.2,nconnect=$nconnect,retry=0" "b$1-$2:/" \
		"/mnt/b$1-$2" 2>"$w/mount-$1-$2.err"
}

# read_all DIR...: every file of every mount read at once, by threads of one
# process: the extra transports open on first use, and under TCG starting
# a process costs 60-90 ms, so 32 cat processes per mount cost more than
# the handshakes being measured.  Exit 1 when a read failed.
cat >"$w/readall.py" <<'PY'
import os, sys, threading
bad = []
def rd(p):
    try:
        with open(p, "rb") as f:
            while f.read(1 << 16):
                pass
    except OSError as e:
        bad.append("%s: %s" % (p, e))
ts = [threading.Thread(target=rd, args=(os.path.join(d, "f%d" % i),)) for d in sys.argv[1:] for i in range(32)]
for t in ts: t.start()
for t in ts: t.join()
for b in bad: print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

jget() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

say "$mounts mounts x nconnect=$nconnect, $reps repetitions per mode, $(nproc) CPUs"
b=0
for ((r = 0; r < reps; r++)); do
	# Alternate the order so that neither mode always runs second.
	if ((r % 2)); then modes="fork pool"; else modes="pool fork"; fi
	for m in $modes; do
		if [[ $m == fork ]]; then start_daemon --fork-per-request || continue
		else start_daemon || continue; fi
		pids=()
		t0=$(now_ms)
		for ((i = 0; i < mounts; i++)); do
			one_mount "$b" "$i" &
			pids+=($!)
		done
		failed=0 dirs=()
		for ((i = 0; i < mounts; i++)); do
			if wait "${pids[i]}"; then dirs+=("/mnt/b$b-$i"); else failed=$((failed + 1)); fi
		done
		if [[ ${#dirs[@]} -gt 0 ]] && ! timeout 300 python3 "$w/readall.py" "${dirs[@]}" 2>"$w/read-$b.err"; then
			say "$m: reads failed: $(head -3 "$w/read-$b.err" | tr '\n' ' ')"
		fi
		ms=$(($(now_ms) - t0))
		s=$("$cli" status --socket "$sock" --json)
		stop_daemon
		umount /mnt/b"$b"-* 2>/dev/null
		n=$(jget handshakes <<<"$s")
		nf=$(jget failed <<<"$s")
		say "$m: $((mounts - failed))/$mounts mounts, $n handshakes ($nf failed) in $ms ms," \
			"p50 $(jget latency-p50-ms <<<"$s") ms, p99 $(jget latency-p99-ms <<<"$s") ms"
		[[ $failed -eq 0 ]] || say "$m: $(cat "$w"/mount-$b-*.err | sort | uniq -c | tr -s ' \n' ' ')"
		[[ $nf == 0 ]] || say "$m: failed handshakes: $(sed -n 's/.*: failed \([A-Z]*: [^(]*\).*/\1/p' "$log" | sort | uniq -c | tr -s ' \n' ' ')"
		b=$((b + 1))
		[[ -n $n ]] || { broken "$m: no status from handoffd"; continue; }
		# Reported even when some failed: under TCG the kernel's own handshake
		# deadlines can pass; the failures are figures too.
		echo "bench: burst-$m-ms $ms"
		echo "bench: burst-$m-handshakes $n"
		echo "bench: burst-$m-failed $nf"
		echo "bench: burst-$m-mounts-failed $failed"
		echo "bench: burst-$m-p50-ms $(jget latency-p50-ms <<<"$s")"
		echo "bench: burst-$m-p99-ms $(jget latency-p99-ms <<<"$s")"
	done
done
exit $rc

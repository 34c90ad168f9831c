# shellcheck shell=bash
# tests/upcall/lib/nvmet.sh - an NVMe/TCP target that requires TLS with a
# retained PSK, and bursts of host connects to it, for the NVMe tests
# (tests/upcall/nvme-*.sh and faults.sh, tests/soak/handoffd.sh; sourced,
# not a test by itself).  The kernel interface only (configfs, keyctl,
# /dev/nvme-fabrics): Debian 12's nvme-cli predates TLS.  A test calls
# nvmet_need first; the target's and the bursts' functions need work, ok
# and bad.  Each test names its own target before sourcing, so that
# one left behind by a failed test never meets the next one:
#   nvmet_name  the subsystem NQN's last part (default: burst)
#   nvmet_port  the configfs port id (default: 2)
#   nvmet_svc   the TCP port (default: 4420)

skip() { echo "SKIP: $*"; exit 77; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# stop_daemon: the handoffd a test started (its pid in hd_pid), stopped and reaped.
stop_daemon() {
	[[ -n ${hd_pid:-} ]] || return 0
	kill "$hd_pid" 2>/dev/null
	wait "$hd_pid" 2>/dev/null
	hd_pid=
}

# status_json: `handoff status --json` of the daemon at $sock; jget KEY: one
# top-level value of that JSON (on stdin).
status_json() { "$cli" status --socket "$sock" --json 2>/dev/null; }
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

# nvmet_need [COMMAND...]: what every NVMe test needs before it starts, each
# missing piece a skip (exit 77) that names it: the VM, root, handoffd and
# handoff built, keyctl and each COMMAND, kTLS, /dev/nvme-fabrics, configfs
# with nvmet, a writable /srv.  Sets builddir, handoffd and cli.
nvmet_need() {
	local c
	[[ ${HANDOFF_VM:-} == 1 ]] || skip "runs only in the VM (it creates an NVMe target)"
	[[ $(id -u) == 0 ]] || skip "needs root"
	builddir=${HANDOFF_BUILDDIR:-$PWD}
	handoffd=$builddir/handoffd
	cli=$builddir/handoff
	[[ -x $handoffd && -x $cli ]] || skip "no $handoffd or $cli"
	for c in keyctl "$@"; do
		command -v "$c" >/dev/null || skip "$c missing"
	done
	[[ -r /proc/net/tls_stat ]] || skip "no kTLS (/proc/net/tls_stat)"
	[[ -c /dev/nvme-fabrics ]] || skip "no /dev/nvme-fabrics (--modules \"... nvme_tcp nvmet nvmet_tcp\")"
	grep -qw configfs /proc/filesystems || skip "no configfs"
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
	[[ -d $nvmet ]] || skip "no nvmet in configfs (modprobe nvmet nvmet_tcp)"
	touch /srv/.w 2>/dev/null || skip "/srv must be writable (--tmpfs /srv)"
}

nvmet=/sys/kernel/config/nvmet
# The target's address (an address of the host's namespace).
nvmet_addr=${NVMET_ADDR:-127.0.0.1}
nvmet_port=${nvmet_port:-2}
nvmet_svc=${nvmet_svc:-4420}
subnqn=nqn.2014-08.org.handoff:${nvmet_name:-burst}
hostid=$(cat /proc/sys/kernel/random/uuid)
hostnqn=nqn.2014-08.org.nvmexpress:uuid:$hostid
# The PSK's identity (TP 8011: retained, SHA-256), and its serial once set up.
psk_identity="NVMe0R01 $hostnqn $subnqn"
psk_serial=

# connect_opts QUEUES: what /dev/nvme-fabrics takes for one more controller.
connect_opts() {
	echo "transport=tcp,traddr=$nvmet_addr,trsvcid=$nvmet_svc,nqn=$subnqn,hostnqn=$hostnqn,hostid=$hostid,tls,nr_io_queues=$1,duplicate_connect,ctrl_loss_tmo=0"
}

# nvmet_setup: the PSK in .nvme (its serial in psk_serial, its bytes in
# $work/psk) and the target, one namespace on a 16 MiB file in /srv.
# 0, 1 (broken) or 77 (no TLS in nvmet).
nvmet_setup() {
	local ns=$nvmet/subsystems/$subnqn/namespaces/1 port=$nvmet/ports/$nvmet_port
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
	[[ -d $nvmet ]] || return 77
	head -c 32 /dev/urandom >"$work/psk"
	psk_serial=$(keyctl padd psk "$psk_identity" %:.nvme <"$work/psk") || return 1
	truncate -s 16M "/srv/${nvmet_name:-burst}.img"
	mkdir "$nvmet/subsystems/$subnqn" "$nvmet/hosts/$hostnqn" || return 1
	echo 0 >"$nvmet/subsystems/$subnqn/attr_allow_any_host"
	ln -s "$nvmet/hosts/$hostnqn" "$nvmet/subsystems/$subnqn/allowed_hosts/$hostnqn"
	mkdir "$ns"
	echo -n "/srv/${nvmet_name:-burst}.img" >"$ns/device_path"
	# tmpfs has no O_DIRECT.
	echo 1 >"$ns/buffered_io"
	echo 1 >"$ns/enable" || return 1
	mkdir "$port" || return 1
	echo tcp >"$port/addr_trtype"
	echo ipv4 >"$port/addr_adrfam"
	echo "$nvmet_addr" >"$port/addr_traddr"
	echo "$nvmet_svc" >"$port/addr_trsvcid"
	echo tls1.3 >"$port/addr_tsas" 2>/dev/null || return 77
	echo required >"$port/addr_treq" 2>/dev/null
	ln -s "$nvmet/subsystems/$subnqn" "$port/subsystems/$subnqn" || return 1
	return 0
}

nvmet_cleanup() {
	burst_disconnect
	rm -f "$nvmet/ports/$nvmet_port/subsystems/$subnqn" \
		"$nvmet/subsystems/$subnqn/allowed_hosts/$hostnqn"
	echo 0 >"$nvmet/subsystems/$subnqn/namespaces/1/enable" 2>/dev/null
	rmdir "$nvmet/subsystems/$subnqn/namespaces/1" "$nvmet/subsystems/$subnqn" \
		"$nvmet/ports/$nvmet_port" "$nvmet/hosts/$hostnqn" 2>/dev/null
}

# nvmet_ready: nvmet_setup, with its outcome as every test takes it: a
# skip (77) where this nvmet has no TLS, a failure (bad, exit 1) where the
# setup itself broke.
nvmet_ready() {
	nvmet_setup
	case $? in
	0) ;;
	77) skip "this nvmet has no TLS (CONFIG_NVME_TARGET_TCP_TLS)" ;;
	*) bad "nvmet setup (keyctl, configfs)"; exit 1 ;;
	esac
}

# handshakes_per_connect QUEUES: the handshakes one host connect makes,
# both ends of each TLS connection; the kernel caps the I/O queues at the
# CPU count.
handshakes_per_connect() {
	echo $((2 * (1 + ($1 < $(nproc) ? $1 : $(nproc)))))
}

# burst N QUEUES: N host connects at once, each with QUEUES I/O queues:
# (1 + QUEUES) TLS connections per controller, each a handshake on both
# ends.  Every connect is bounded (90 s); results in $work/burst/I.res as
# "RC MS" (RC 124: it hung), the controller in I.reply.  Sets burst_ms,
# burst_ok, burst_failed, burst_hung.
burst() {
	local n=$1 q=$2 i t0 pids=() rc ms
	local opts
	opts=$(connect_opts "$q")
	rm -rf "$work/burst"
	mkdir -p "$work/burst"
	t0=$(now_ms)
	for ((i = 0; i < n; i++)); do
		(
			s=$(now_ms)
			timeout 90 bash -c 'exec 3<>/dev/nvme-fabrics && echo "$1" >&3 && read -r r <&3 && echo "$r"' \
				_ "$opts" >"$work/burst/$i.reply" 2>"$work/burst/$i.err"
			echo "$? $(($(now_ms) - s))" >"$work/burst/$i.res"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	burst_ms=$(($(now_ms) - t0))
	burst_ok=0 burst_failed=0 burst_hung=0
	for ((i = 0; i < n; i++)); do
		read -r rc ms <"$work/burst/$i.res"
		case $rc in
		0) burst_ok=$((burst_ok + 1)) ;;
		124 | 137) burst_hung=$((burst_hung + 1)) ;;
		*) burst_failed=$((burst_failed + 1)) ;;
		esac
	done
}

# burst_disconnect: delete every controller of our subsystem.
burst_disconnect() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[[ -e $c/subsysnqn && $(cat "$c/subsysnqn" 2>/dev/null) == "$subnqn" ]] || continue
		echo 1 >"$c/delete_controller" 2>/dev/null
	done
	for _ in $(seq 200); do
		grep -qs "^$subnqn$" /sys/class/nvme/nvme*/subsysnqn || return 0
		sleep 0.1
	done
	return 1
}

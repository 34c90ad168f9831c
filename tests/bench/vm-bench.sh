#!/bin/bash
# vm-bench.sh - the VM half of tests/bench/bench.sh; runs inside the guest
# (tests/vm/run.sh --kernel 6.12 tests/bench/vm-bench.sh), where the kernel
# has kTLS.  Prints "bench: KEY VALUE..." lines, one value per repetition;
# bench.sh turns them into rows.  Timings here come from qemu TCG: only
# ratios between lines of the same run mean anything.
#
# Environment: HANDOFF_BENCH_MIB (per transfer), HANDOFF_BENCH_REPS,
# HANDOFF_BENCH_IDLE (idle connections for the memory rows),
# HANDOFF_BENCH_BURST ("CLIENTS NCONNECT REPS" of the handoffd upcall burst).
set -uo pipefail

top=$(pwd -P)
HS=$top/tests/bench/hsbench
DP=$top/tests/bench/dpbench
MIB=${HANDOFF_BENCH_MIB:-64}
REPS=${HANDOFF_BENCH_REPS:-3}
IDLE=${HANDOFF_BENCH_IDLE:-1000}
w=${TMPDIR:-/tmp}/handoff-bench
mkdir -p "$w" && cd "$w" || exit 1
rc=0
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

broken() { echo "vm-bench: BROKEN: $*" >&2; rc=1; }
phase() { echo "vm-bench: $* (${SECONDS}s)" >&2; }
HC_N=${HANDOFF_BENCH_HC_N:-100}
LAT_N=${HANDOFF_BENCH_LAT_N:-40}

# ---------------------------------------------------------------- PKI
bash "$top/tests/bench/pki.sh" "$w" || exit 1
PKI=(--cert "$w/cert.pem" --key "$w/key.pem" --ca "$w/ca.pem")

# ---------------------------------------------------- the hand-off itself
phase "hand-off cost and latency"
line=$("$HS" handoff-cost --n "$HC_N") && echo "bench: handoff-cost $line" || broken "handoff-cost: $line"
line=$("$HS" latency --cert cert.pem --key key.pem --n "$LAT_N") && echo "bench: latency $(tr '\n' ' ' <<<"$line")" ||
	broken "latency: $line"

# ---------------------------------------------------------------- stunnel
# A pair, both ends in this guest: the receiver -> client (:7102) -> TLS ->
# server (:7101) -> the sender (:7100).  TLS 1.3 AES-128-GCM like the rest.
stunnel_conf() { # NAME ACCEPT CONNECT CLIENT(yes/no)
	cat >"$1.conf" <<-EOF
		foreground = yes
		pid =
		debug = 3
		[$1]
		client = $4
		accept = 127.0.0.1:$2
		connect = 127.0.0.1:$3
		sslVersionMin = TLSv1.3
		ciphersuites = TLS_AES_128_GCM_SHA256
		cert = $w/cert.pem
		key = $w/key.pem
	EOF
}
STUNNEL=$(command -v stunnel4 || command -v stunnel)
start_stunnel() { # NAME -> pid in $!
	"$STUNNEL" "$w/$1.conf" >"$w/$1.log" 2>&1 &
}
# listening PORT...: wait (up to 20 s) until each port has a listener.
listening() {
	local p i
	for p in "$@"; do
		for ((i = 0; i < 200; i++)); do
			grep -q ":$(printf %04X "$p") 00000000:0000 0A" /proc/net/tcp && break
			sleep 0.1
		done
		[[ $i -lt 200 ]] || return 1
	done
}
# Every transfer is bounded: a broken path fails the run, it never hangs it.
T=$((60 + MIB * 4))

# ---------------------------------------------------------------- data path
kv() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<" $1" | head -n1; }

MODES=${HANDOFF_BENCH_MODES:-"plain-sendfile raw-sendfile raw-write raw-zc raw-nopad lib-sendfile lib-write lib-zc lib-nopad gnutls-write stunnel"}
read -ra MODE_LIST <<<"$MODES"
for ((rep = 1; rep <= REPS; rep++)); do
	phase "data path, repetition $rep of $REPS"
	# Each repetition starts one mode further on: under TCG a mode's place in
	# the sequence moved its figure (raw-zc, the same kernel path as
	# raw-sendfile on software kTLS, measured 0.61x of it, always run later).
	for ((j = 0; j < ${#MODE_LIST[@]}; j++)); do
		m=${MODE_LIST[$(((j + rep - 1) % ${#MODE_LIST[@]}))]}
		if [[ $m == stunnel ]]; then
			stunnel_conf dps 7101 7100 no
			stunnel_conf dpc 7102 7101 yes
			start_stunnel dps; spid=$!
			start_stunnel dpc; cpid=$!
			listening 7101 7102 || broken "stunnel did not start"
			line=$(timeout "$T" "$DP" stream relay --mib "$MIB" --file "$w/data" --listen 7100 --via 7102 \
				--extra-pid "$spid" 2>&1)
			kill "$spid" "$cpid" 2>/dev/null
			wait "$spid" "$cpid" 2>/dev/null
		else
			line=$(timeout "$T" "$DP" stream "$m" --mib "$MIB" --file "$w/data" "${PKI[@]}" 2>&1)
		fi
		if [[ -z $(kv "$line" mibs) ]]; then
			broken "$m: $line"
			continue
		fi
		# One line per figure as it comes: a run cut short keeps what it measured.
		echo "bench: dp-$m-mibs $(kv "$line" mibs)"
		echo "bench: dp-$m-cpu $(kv "$line" cpu_s_per_gib)"
		echo "bench: dp-$m-rcpu $(kv "$line" rcpu_s_per_gib)"
	done
done

# ------------------------------------------------------------- idle memory
phase "idle memory"
line=$(timeout $((60 + IDLE)) "$DP" idle-lib --n "$IDLE" --cert cert.pem --key key.pem 2>&1)
[[ -n $(kv "$line" bytes_per_conn) ]] && echo "bench: mem-lib-bytes $(kv "$line" bytes_per_conn)" ||
	broken "idle-lib: $line"
echo "vm-bench: idle-lib $line" >&2
stunnel_conf idle 7201 7200 no
start_stunnel idle; ipid=$!
listening 7201 || broken "stunnel did not start"
line=$(timeout $((60 + IDLE)) "$DP" idle-relay --n "$IDLE" --port 7201 --backend 7200 --pid "$ipid" 2>&1)
kill "$ipid" 2>/dev/null
wait "$ipid" 2>/dev/null
[[ -n $(kv "$line" bytes_per_conn) ]] && echo "bench: mem-stunnel-bytes $(kv "$line" bytes_per_conn)" ||
	broken "idle-relay (stunnel): $line"
echo "vm-bench: idle-stunnel $line" >&2
# ------------------------------------------- handoffd: an upcall burst
# The pool against --fork-per-request, same burst, same boot (needs the
# NFS modules, veth and tmpfs on /var/lib/nfs /srv /mnt: bench.sh boots with them).
# HANDOFF_BENCH_BURST: "CLIENTS NCONNECT REPS", empty to skip.
BURST=${HANDOFF_BENCH_BURST-8 16 2}
if [[ -n $BURST ]]; then
	phase "upcall burst ($BURST)"
	# shellcheck disable=SC2086
	(cd "$top" && bash tests/bench/nfs-burst.sh $BURST) >"$w/burst.out"
	brc=$?
	grep '^bench: ' "$w/burst.out"
	[[ $brc -eq 0 ]] || broken "upcall burst: exit $brc"
fi
phase "done"
exit $rc

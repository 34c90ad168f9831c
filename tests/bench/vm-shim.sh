#!/bin/bash
# vm-shim.sh - the shim's rows of tests/bench/bench.sh (issue 6); runs inside
# the guest (tests/vm/run.sh --kernel 6.12 tests/bench/vm-shim.sh), where the
# kernel has kTLS.  Prints "bench: shim-KEY VALUE" lines, one per figure and
# repetition; bench.sh turns them into rows.  Timings come from qemu TCG:
# only ratios between figures of this one run mean anything.  (No process
# substitution in this script: the guest has no /dev/fd.)
#
# Data path: one file fetched over loopback, by the same client (webbench
# get, webget.c: it decrypts only a sample, so that it is never the
# bottleneck) in every row, from
#   plain   nginx, sendfile, no TLS
#   shim    the same nginx under `handoff run` (kernel TLS)
#   stunnel the same plaintext nginx behind stunnel
#   raw     webbench raw-serve: fixed keys, header + sendfile (the limit)
#   ngx-tls nginx's own TLS (OpenSSL in user space)
#   ngx-ktls nginx's own kernel TLS (ssl_conf_command Options KTLS)
# with the server's CPU time (utime+stime of every server process) per MiB.
# Idle memory: Pss of the server's processes holding WARM and WARM+N idle
# connections, TLS against plaintext.
#
# Environment: HANDOFF_BENCH_SHIM_MIB (file size, default 1024),
# HANDOFF_BENCH_SHIM_REPS (default 3), HANDOFF_BENCH_SHIM_IDLE (default 1000),
# HANDOFF_BENCH_SHIM_MEM_REPS (default 1), HANDOFF_BENCH_SHIM_SAMPLE (the
# client decrypts and compares one TLS record in this many, default 16).
set -uo pipefail

top=$(pwd -P)
WB=$top/tests/bench/webbench
HANDOFF=${HANDOFF_CLI:-$top/handoff}
export HANDOFF_PRELOAD=${HANDOFF_PRELOAD:-$top/.libs/libhandoff-preload.so}
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
STUNNEL=$(command -v stunnel4 || command -v stunnel)
MIB=${HANDOFF_BENCH_SHIM_MIB:-1024}
REPS=${HANDOFF_BENCH_SHIM_REPS:-3}
IDLE=${HANDOFF_BENCH_SHIM_IDLE:-1000}
MEM_REPS=${HANDOFF_BENCH_SHIM_MEM_REPS:-1}
SAMPLE=${HANDOFF_BENCH_SHIM_SAMPLE:-16}
WARM=16
ROWS=(plain shim stunnel raw ngx-tls ngx-ktls)
w=${TMPDIR:-/tmp}/handoff-shimbench
rm -rf "$w"
mkdir -p "$w/www" && cd "$w" || exit 1
rc=0
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
for p in "$WB" "$HANDOFF" "$HANDOFF_PRELOAD" "$NGINX" "$STUNNEL"; do
	[[ -e $p ]] || { echo "vm-shim: BROKEN: $p is missing" >&2; exit 1; }
done

broken() { echo "vm-shim: BROKEN: $*" >&2; rc=1; }
phase() { echo "vm-shim: $* (${SECONDS}s)" >&2; }
kv() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<" $1" | head -n1; }

# ---------------------------------------------------------------- PKI
bash "$top/tests/bench/pki.sh" "$w" || exit 1

# ---------------------------------------------------------------- files
phase "a $MIB MiB file in the guest's tmpfs"
# Random content: a server that sent the wrong bytes cannot match by luck.
head -c $((MIB << 20)) /dev/urandom >www/big.bin || { broken "cannot write $MIB MiB to $w"; exit 1; }
head -c 65536 /dev/urandom >www/small.bin

# ---------------------------------------------------------------- servers
declare -A PORT PID
# Fixed ports: nothing else runs in this guest.
PORT=([plain]=7300 [shim]=7301 [stunnel]=7302 [behind]=7303 [raw]=7304 [ngx-tls]=7305 [ngx-ktls]=7306)

# nginx_conf NAME PORT plain|tls|ktls: epoll, 2 workers, sendfile, no access
# log; idle connections are kept for an hour (the memory rows hold them).
nginx_conf() {
	local d=$w/$1 ssl='' tls=''
	mkdir -p "$d"
	if [[ $3 != plain ]]; then
		ssl=" ssl"
		tls="ssl_certificate $w/cert.pem; ssl_certificate_key $w/key.pem;
		ssl_protocols TLSv1.3; ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;"
		[[ $3 == ktls ]] && tls="$tls ssl_conf_command Options KTLS;"
	fi
	cat >"$d/nginx.conf" <<-EOF
		daemon off;
		master_process on;
		worker_processes 2;
		worker_rlimit_nofile 16384;
		pid $d/nginx.pid;
		error_log $d/error.log notice;
		events { worker_connections 8192; use epoll; }
		http {
			access_log off;
			client_body_temp_path $d/body;
			proxy_temp_path $d/proxy;
			fastcgi_temp_path $d/fastcgi;
			uwsgi_temp_path $d/uwsgi;
			scgi_temp_path $d/scgi;
			types { application/octet-stream bin; }
			sendfile on;
			tcp_nopush on;
			keepalive_timeout 3600s;
			client_header_timeout 3600s;
			server {
				listen 127.0.0.1:$2$ssl;
				server_name localhost;
				root $w/www;
				$tls
			}
		}
	EOF
}

# listening PORT: wait (up to 30 s) until PORT has a listener.
listening() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q ":$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp && return 0
		sleep 0.1
	done
	return 1
}

# start NAME: the server of a row, in the background; PID[NAME] is its main process.
start() {
	local n=$1 d=$w/$1
	case $n in
	plain | behind)
		nginx_conf "$n" "${PORT[$n]}" plain
		"$NGINX" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$d.out" 2>&1 &
		;;
	shim)
		nginx_conf "$n" "${PORT[$n]}" plain
		"$HANDOFF" run --cert "$w/cert.pem" --key "$w/key.pem" --accept "127.0.0.1:${PORT[$n]}" \
			--log "$d/shim.log" -- "$NGINX" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$d.out" 2>&1 &
		;;
	ngx-tls | ngx-ktls)
		nginx_conf "$n" "${PORT[$n]}" "${n#ngx-}"
		"$NGINX" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$d.out" 2>&1 &
		;;
	stunnel)
		start behind || return 1
		cat >"$w/stunnel.conf" <<-EOF
			foreground = yes
			pid =
			debug = 3
			[shimbench]
			accept = 127.0.0.1:${PORT[stunnel]}
			connect = 127.0.0.1:${PORT[behind]}
			sslVersionMin = TLSv1.3
			ciphersuites = TLS_AES_128_GCM_SHA256
			cert = $w/cert.pem
			key = $w/key.pem
		EOF
		"$STUNNEL" "$w/stunnel.conf" >"$d.out" 2>&1 &
		;;
	raw)
		"$WB" raw-serve --port "${PORT[raw]}" --root "$w/www" >"$d.out" 2>&1 &
		;;
	esac
	PID[$n]=$!
	listening "${PORT[$n]}" || { broken "$n did not listen on ${PORT[$n]}: $(tail -n 3 "$d.out" "$d/error.log" 2>/dev/null)"; return 1; }
}

# procs NAME: every process of NAME's server (nginx: master and workers;
# stunnel: stunnel and the nginx behind it).
procs() {
	local p=${PID[$1]}
	echo "$p"
	pgrep -P "$p"
	[[ $1 == stunnel ]] && procs behind
}

# cpu_ticks PID...: utime+stime (fields 14, 15 of /proc/PID/stat), in clock ticks.
cpu_ticks() {
	local p s=0 f
	for p in "$@"; do
		f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		read -ra f <<<"$f"
		s=$((s + f[11] + f[12]))
	done
	echo "$s"
}

stop() {
	local n=$1
	[[ $n == stunnel ]] && stop behind
	[[ -n ${PID[$n]:-} ]] || return 0
	kill "${PID[$n]}" 2>/dev/null
	wait "${PID[$n]}" 2>/dev/null
	PID[$n]=
}
stop_all() { local n; for n in "${!PID[@]}"; do stop "$n"; done; }
trap stop_all EXIT

mode_of() { case $1 in plain) echo plain ;; raw) echo raw ;; *) echo tls ;; esac; }
# A server end that sends with kernel TLS: the rows that must, and the one that should.
ktls_expected() { case $1 in shim | raw | ngx-ktls) return 0 ;; *) return 1 ;; esac; }

# fetch ROW NAME -> the client's line (its error on failure); bounded.  What
# arrives is compared with the file: every byte of plaintext, and of TLS the
# header and one record in SAMPLE (see webget.c).
fetch() {
	timeout $((120 + MIB)) "$WB" get --port "${PORT[$1]}" --path "/$2" --mode "$(mode_of "$1")" \
		--ca "$w/ca.pem" --file "$w/www/$2" --sample "$SAMPLE" 2>&1
}

# ------------------------------------------------------------- data path
for r in "${ROWS[@]}"; do
	start "$r" || exit 1
	# A warm-up request: the server works, and one-time set-up (the shim's kernel probe) is paid.
	line=$(fetch "$r" small.bin) || { broken "$r: warm-up: $line"; exit 1; }
	echo "vm-shim: $r: warm-up $line" >&2
done

echo "vm-shim: TlsCurrTxSw with every server idle: $(awk '$1 == "TlsCurrTxSw" { print $2 }' /proc/net/tls_stat)" >&2
for ((rep = 1; rep <= REPS; rep++)); do
	phase "data path, repetition $rep of $REPS ($MIB MiB per row)"
	# Each repetition starts one row further on: under TCG a row's place in
	# the sequence moves its figure.
	for ((j = 0; j < ${#ROWS[@]}; j++)); do
		r=${ROWS[$(((j + rep - 1) % ${#ROWS[@]}))]}
		mapfile -t pids <<<"$(procs "$r")"
		c0=$(cpu_ticks "${pids[@]}")
		line=$(fetch "$r" big.bin) || { broken "$r: $line"; continue; }
		c1=$(cpu_ticks "${pids[@]}")
		secs=$(kv "$line" secs)
		tx=$(kv "$line" curr_tx)
		# The client sends with kTLS only to the raw server; any other sender is the server's end.
		own=$(( tx - $([[ $r == raw ]] && echo 1 || echo 0) ))
		ktls=$([[ $r != plain && $own -ge 1 ]] && echo yes || echo no)
		if ktls_expected "$r" && [[ $ktls != yes ]]; then
			if [[ $r == ngx-ktls ]]; then
				echo "vm-shim: nginx's own kTLS is NOT in use (TlsCurrTxSw $tx with the client's)" >&2
			else
				broken "$r: the server's end does not send with kernel TLS (TlsCurrTxSw $tx)"
			fi
		fi
		echo "vm-shim: rep $rep $r: $line server_ticks=$((c1 - c0))" >&2
		echo "bench: shim-$r-mibs $(awk -v m="$MIB" -v s="$secs" 'BEGIN { printf "%.3f", m / s }')"
		echo "bench: shim-$r-cpu $(awk -v m="$MIB" -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.4f", 1000 * t / hz / m }')"
		echo "bench: shim-$r-ktls $ktls"
		echo "bench: shim-$r-ccpu $(awk -v m="$MIB" -v c="$(kv "$line" client_cpu)" 'BEGIN { printf "%.4f", 1000 * c / m }')"
	done
done
stop_all

# ------------------------------------------------------------- idle memory

# pss PID...: the sum of Pss and of Private_* (kB) from smaps_rollup -> "PSS PRIV"
pss() {
	local p
	for p in "$@"; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
		awk '$1 == "Pss:" { s += $2 } $1 ~ /^Private_/ { v += $2 } END { print s + 0, v + 0 }'
}

# established PORT: connections in ESTABLISHED whose local end is PORT (server side).
established() {
	awk -v p=":$(printf %04X "$1")" 'substr($2, length($2) - 4) == p && $4 == "01" { n++ } END { print n + 0 }' \
		/proc/net/tcp
}

# ready ROW WANT: the server really holds WANT connections (or 30 s passed).
ready() {
	local row=$1 want=$2 i have
	for ((i = 0; i < 300; i++)); do
		case $row in
		plain) have=$(established "${PORT[plain]}") ;;
		# The shim hands every finished handshake to the kernel: count those.
		shim) have=$(( $(grep -E '^TlsCurrTxSw' /proc/net/tls_stat | awk '{ print $2 }') - KTLS_BASE )) ;;
		# stunnel opens its backend connection once the handshake is done.
		stunnel) have=$(established "${PORT[behind]}") ;;
		esac
		[[ $have -ge $want ]] && return 0
		sleep 0.1
	done
	broken "$row: the server holds $have connections, want $want"
	return 1
}

# hold ROW -> "bench: shim-mem-ROW-{pss,priv} KB_GROWTH" over IDLE connections
hold() {
	local row=$1 m0 m1 p0 p1 out i hpid pids
	start "$row" || return 1
	mapfile -t pids <<<"$(procs "$row")"
	KTLS_BASE=$(grep -E '^TlsCurrTxSw' /proc/net/tls_stat | awk '{ print $2 }')
	out=$w/hold-$row
	rm -f "$out.in"
	mkfifo "$out.in"
	timeout $((600 + IDLE)) "$WB" hold --port "${PORT[$row]}" --mode "$(mode_of "$row")" \
		--warm "$WARM" --n "$IDLE" <"$out.in" >"$out.out" 2>"$out.err" &
	hpid=$!
	exec 9>"$out.in"
	for ((i = 0; i < 6000; i++)); do grep -q '^warm' "$out.out" 2>/dev/null && break; sleep 0.1; done
	ready "$row" "$WARM" && sleep 1
	# Worker pids settle once nginx runs; procs again now.
	mapfile -t pids <<<"$(procs "$row")"
	read -r m0 p0 <<<"$(pss "${pids[@]}")"
	echo go >&9
	for ((i = 0; i < 10 * (600 + IDLE); i++)); do
		grep -q '^held' "$out.out" 2>/dev/null && break
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^held' "$out.out" || broken "$row: the client did not open its connections: $(cat "$out.err")"
	ready "$row" $((WARM + IDLE)) && sleep 1
	read -r m1 p1 <<<"$(pss "${pids[@]}")"
	exec 9>&-
	wait "$hpid"
	echo "vm-shim: idle $row: Pss ${m0} -> ${m1} kB, Private ${p0} -> ${p1} kB over $IDLE connections (${#pids[@]} processes)" >&2
	echo "bench: shim-mem-$row-pss $((m1 - m0))"
	echo "bench: shim-mem-$row-priv $((p1 - p0))"
	stop "$row"
}

for ((rep = 1; rep <= MEM_REPS; rep++)); do
	# Fresh servers every time: a server that held connections before reuses their memory.
	for r in plain shim stunnel; do
		phase "idle memory, $r, $IDLE connections (repetition $rep of $MEM_REPS)"
		hold "$r"
	done
done
phase "done"
exit $rc

#!/bin/bash
# in-vm.sh - the demo's part inside a kernel with kTLS (run by demo.sh).
set -euo pipefail
: "${HANDOFF_CLI:?}" "${HANDOFF_PKI:?}"
cli=$HANDOFF_CLI
pki=$HANDOFF_PKI
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
say() { printf '\n== %s\n' "$*"; }
counters() { awk '$1=="TlsTxSw"||$1=="TlsRxSw"{printf "%s=%s ", $1, $2} END{print ""}' /proc/net/tls_stat; }

say "handoff check, in Linux $(uname -r)"
"$cli" check

head -c 8M /dev/urandom >"$work/payload"
want=$(sha256sum <"$work/payload" | cut -d' ' -f1)

say "handoff serve: TLS server, records encrypted by the kernel (sendfile of 8 MiB)"
"$cli" serve --cert "$pki/server.pem" --key "$pki/server-key.pem" \
	--count 3 --file "$work/payload" 127.0.0.1:0 2>"$work/serve.err" &
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$work/serve.err")
	[[ -n $port ]] && break
	sleep 0.1
done
echo "listening on port $port; kernel counters before: $(counters)"

say "handoff connect (our client; the kernel decrypts)"
"$cli" connect --ca-file "$pki/ca.pem" --servername localhost "127.0.0.1:$port" \
	</dev/null >"$work/got1" 2>"$work/connect.err"
sed 's/^/  /' "$work/connect.err"
echo "  sha256 matches: $([[ $(sha256sum <"$work/got1" | cut -d' ' -f1) == "$want" ]] && echo yes || echo NO)"

say "curl (a user-space TLS client) against the kernel-TLS server"
curl -s --cacert "$pki/ca.pem" --http0.9 "https://localhost:$port/" -o "$work/got2" || true
echo "  sha256 matches: $([[ $(sha256sum <"$work/got2" | cut -d' ' -f1) == "$want" ]] && echo yes || echo NO)"

say "openssl s_client, TLS 1.2, against the same server"
timeout 30 openssl s_client -quiet -tls1_2 -CAfile "$pki/ca.pem" -connect "127.0.0.1:$port" \
	-servername localhost </dev/null >"$work/got3" 2>/dev/null || true
echo "  sha256 matches: $([[ $(sha256sum <"$work/got3" | cut -d' ' -f1) == "$want" ]] && echo yes || echo NO)"

wait
say "Kernel TLS counters after: $(counters)"
echo "(TlsTxSw/TlsRxSw count sockets whose record crypto the kernel did in software)"
grep -q . "$work/got1" && cmp -s "$work/payload" "$work/got1"

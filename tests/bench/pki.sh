#!/bin/bash
# pki.sh DIR - the benchmark's throw-away PKI in DIR: ca.pem, and cert.pem /
# key.pem for "localhost" and 127.0.0.1 (ECDSA P-256, 30 days), made with
# certtool.  Used by bench.sh on the host and by vm-bench.sh and vm-shim.sh in
# the guest, so that every row runs with the same kind of key.  Prints
# certtool's output and exits non-zero when it fails.
set -uo pipefail
cd "${1:?usage: pki.sh DIR}" || exit 2
cat >ca.tmpl <<-EOT
	cn = "handoff bench CA"
	ca
	cert_signing_key
	expiration_days = 30
EOT
cat >server.tmpl <<-EOT
	cn = "localhost"
	dns_name = "localhost"
	ip_address = "127.0.0.1"
	tls_www_server
	signing_key
	expiration_days = 30
EOT
{
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile ca-key.pem &&
	certtool --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl --outfile ca.pem &&
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile key.pem &&
	certtool --generate-certificate --load-privkey key.pem --load-ca-certificate ca.pem \
		--load-ca-privkey ca-key.pem --template server.tmpl --outfile cert.pem
} >pki.log 2>&1 || { cat pki.log; exit 1; }

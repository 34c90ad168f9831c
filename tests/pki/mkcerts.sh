#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# mkcerts.sh OUTDIR - a throw-away PKI for the tests, made with certtool.
#
# Every file name is fixed (tests refer to them by name); the keys and
# serials are fresh each run.  OUTDIR is removed and rebuilt, so a second
# run gives a consistent set rather than a mix of old and new files.
#
#   ca.pem ca-key.pem            root "handoff test CA"
#   inter.pem inter-key.pem      intermediate CA under ca
#   server.pem server-key.pem    leaf: localhost, server.test, 127.0.0.1, ::1
#   server-rsa.pem server-rsa-key.pem   same names, RSA-2048 key
#   chained.pem chained-key.pem  leaf signed by inter; server-chain.pem = leaf+inter
#   client.pem client-key.pem    CN=client.test, clientAuth
#   second.pem second-key.pem    a second site under ca: second.test only (SNI tests)
#   wild.pem wild-rsa.pem        *.wild.test, ECDSA and RSA (SNI wildcards)
#   wild-exact.pem               www.wild.test and Mixed.Case.Test (SNI: exact, case)
#   ca2.pem ca2-key.pem server2.pem server2-key.pem   a second, independent CA
#   ca-bundle.pem                ca.pem + ca2.pem
#   untrusted-ca.pem untrusted-ca-key.pem untrusted.pem untrusted-key.pem
#   expired.pem notyet.pem revoked.pem wrongname.pem (+ -key.pem each)
#   server-p8enc-key.pem         server-key.pem as encrypted PKCS #8 (password "secret")
#   crl.pem (lists revoked.pem) crl-empty.pem
#   psk.hex psk.txt (identity handoff-test)   ticket.key (64 bytes, 0600)
# For the hostile-peer table (tests/interop/hostile.sh):
#   selfsigned.pem               a self-signed leaf with the server's names
#   eku-client.pem               server names, but clientAuth only (wrong EKU)
#   ku-encrypt.pem               server names, keyEncipherment only (wrong key usage)
#   server-ca.pem                an intermediate under ca, its EKU serverAuth only;
#   client-servca.pem            a client certificate (clientAuth) it issued;
#   client-servca-chain.pem      that leaf + server-ca.pem
#   client-eku-server.pem        under ca, serverAuth only (a client with a server's EKU)
#   (each with its -key.pem)
#
# POSIX sh: make runs it with $(SHELL).
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
CERTTOOL=${CERTTOOL:-certtool}

command -v "$CERTTOOL" >/dev/null 2>&1 || {
	echo "mkcerts.sh: certtool not found (install gnutls-bin)" >&2
	exit 1
}

rm -rf "$out"
mkdir -p "$out/tmpl"
# Keys and the ticket key are secrets even in a test tree: nobody else reads them.
umask 077

log=$out/tmpl/certtool.log
# certtool is chatty; keep its output for a failure, show nothing otherwise.
ct() {
	if ! "$CERTTOOL" "$@" >>"$log" 2>&1; then
		echo "mkcerts.sh: certtool $* failed:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
}

eckey() {
	ct --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text \
		--outfile "$out/$1"
}

rsakey() {
	ct --generate-privkey --key-type=rsa --bits=2048 --no-text \
		--outfile "$out/$1"
}

# tmpl NAME LINE...: write a template file, one line per argument.
tmpl() {
	name=$1
	shift
	: >"$out/tmpl/$name"
	for line in "$@"; do
		printf '%s\n' "$line" >>"$out/tmpl/$name"
	done
}

# selfsign CERT KEY TEMPLATE
selfsign() {
	ct --generate-self-signed --no-text --load-privkey "$out/$2" \
		--template "$out/tmpl/$3" --outfile "$out/$1"
}

# sign CERT KEY TEMPLATE CA CAKEY
sign() {
	ct --generate-certificate --no-text --load-privkey "$out/$2" \
		--load-ca-certificate "$out/$4" --load-ca-privkey "$out/$5" \
		--template "$out/tmpl/$3" --outfile "$out/$1"
}

ca_lines='ca
cert_signing_key
crl_signing_key
expiration_days = 3650'

# Lines are passed one per argument; split the shared block on newlines.
nl='
'
old_ifs=$IFS

mkca() {	# mkca NAME CN
	IFS=$nl
	# shellcheck disable=SC2086
	tmpl "$1.tmpl" "cn = \"$2\"" "serial = $(serial)" $ca_lines
	IFS=$old_ifs
}

# Random 63-bit serials: two runs must not reuse a serial under the same
# name, or a stale CRL could match a fresh certificate.
serial() {
	od -An -N7 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^/0x01/'
}

server_tmpl() {	# server_tmpl NAME CN [extra lines...]
	name=$1
	cn=$2
	shift 2
	tmpl "$name" "cn = \"$cn\"" "serial = $(serial)" \
		"tls_www_server" "signing_key" "encryption_key" \
		"expiration_days = 825" "$@"
}

std_names='dns_name = "localhost"
dns_name = "server.test"
ip_address = "127.0.0.1"
ip_address = "::1"'

# --- roots and the intermediate
eckey ca-key.pem
mkca ca "handoff test CA"
selfsign ca.pem ca-key.pem ca.tmpl

eckey inter-key.pem
IFS=$nl
# shellcheck disable=SC2086
tmpl inter.tmpl 'cn = "handoff test intermediate CA"' "serial = $(serial)" \
	$ca_lines 'path_len = 0'
IFS=$old_ifs
sign inter.pem inter-key.pem inter.tmpl ca.pem ca-key.pem

eckey ca2-key.pem
mkca ca2 "handoff test CA 2"
selfsign ca2.pem ca2-key.pem ca2.tmpl

eckey untrusted-ca-key.pem
mkca untrusted-ca "handoff untrusted CA"
selfsign untrusted-ca.pem untrusted-ca-key.pem untrusted-ca.tmpl

# --- server leaves
IFS=$nl
# shellcheck disable=SC2086
{
	eckey server-key.pem
	server_tmpl server.tmpl server.test $std_names
	sign server.pem server-key.pem server.tmpl ca.pem ca-key.pem

	rsakey server-rsa-key.pem
	server_tmpl server-rsa.tmpl server.test $std_names
	sign server-rsa.pem server-rsa-key.pem server-rsa.tmpl ca.pem ca-key.pem

	eckey chained-key.pem
	server_tmpl chained.tmpl server.test $std_names
	sign chained.pem chained-key.pem chained.tmpl inter.pem inter-key.pem

	eckey revoked-key.pem
	server_tmpl revoked.tmpl server.test $std_names
	sign revoked.pem revoked-key.pem revoked.tmpl ca.pem ca-key.pem
}
IFS=$old_ifs

eckey server2-key.pem
server_tmpl server2.tmpl server2.test 'dns_name = "localhost"' \
	'ip_address = "127.0.0.1"'
sign server2.pem server2-key.pem server2.tmpl ca2.pem ca2-key.pem

# A second name on the same server (SNI): nothing in common with server.pem's names.
eckey second-key.pem
server_tmpl second.tmpl second.test 'dns_name = "second.test"'
sign second.pem second-key.pem second.tmpl ca.pem ca-key.pem

# Wildcards and case (SNI): *.wild.test with an ECDSA and an RSA key; an
# exact name under it (www.wild.test) and a name spelled with capitals.
eckey wild-key.pem
server_tmpl wild.tmpl '*.wild.test' 'dns_name = "*.wild.test"'
sign wild.pem wild-key.pem wild.tmpl ca.pem ca-key.pem

rsakey wild-rsa-key.pem
server_tmpl wild-rsa.tmpl '*.wild.test' 'dns_name = "*.wild.test"'
sign wild-rsa.pem wild-rsa-key.pem wild-rsa.tmpl ca.pem ca-key.pem

eckey wild-exact-key.pem
server_tmpl wild-exact.tmpl www.wild.test 'dns_name = "www.wild.test"' \
	'dns_name = "Mixed.Case.Test"'
sign wild-exact.pem wild-exact-key.pem wild-exact.tmpl ca.pem ca-key.pem

eckey untrusted-key.pem
server_tmpl untrusted.tmpl untrusted.test 'dns_name = "localhost"' \
	'ip_address = "127.0.0.1"'
sign untrusted.pem untrusted-key.pem untrusted.tmpl untrusted-ca.pem \
	untrusted-ca-key.pem

eckey wrongname-key.pem
server_tmpl wrongname.tmpl other.test 'dns_name = "other.test"'
sign wrongname.pem wrongname-key.pem wrongname.tmpl ca.pem ca-key.pem

# Validity in fixed calendar windows: long past, and far enough ahead that
# the tests outlive the machine.  (The templates' *_date lines override
# expiration_days.)
eckey expired-key.pem
tmpl expired.tmpl 'cn = "server.test"' "serial = $(serial)" tls_www_server \
	signing_key 'dns_name = "localhost"' 'dns_name = "server.test"' \
	'ip_address = "127.0.0.1"' \
	'activation_date = "2001-01-01 00:00:00"' \
	'expiration_date = "2002-01-01 00:00:00"'
sign expired.pem expired-key.pem expired.tmpl ca.pem ca-key.pem

eckey notyet-key.pem
tmpl notyet.tmpl 'cn = "server.test"' "serial = $(serial)" tls_www_server \
	signing_key 'dns_name = "localhost"' 'dns_name = "server.test"' \
	'ip_address = "127.0.0.1"' \
	'activation_date = "2090-01-01 00:00:00"' \
	'expiration_date = "2091-01-01 00:00:00"'
sign notyet.pem notyet-key.pem notyet.tmpl ca.pem ca-key.pem

# --- client
eckey client-key.pem
tmpl client.tmpl 'cn = "client.test"' "serial = $(serial)" tls_www_client \
	signing_key 'expiration_days = 825'
sign client.pem client-key.pem client.tmpl ca.pem ca-key.pem

# --- the hostile-peer table's certificates
eckey selfsigned-key.pem
IFS=$nl
# shellcheck disable=SC2086
server_tmpl selfsigned.tmpl server.test $std_names
selfsign selfsigned.pem selfsigned-key.pem selfsigned.tmpl

eckey eku-client-key.pem
# shellcheck disable=SC2086
tmpl eku-client.tmpl 'cn = "server.test"' "serial = $(serial)" tls_www_client \
	signing_key 'expiration_days = 825' $std_names
sign eku-client.pem eku-client-key.pem eku-client.tmpl ca.pem ca-key.pem

# RSA: for an EC key certtool adds digitalSignature whatever the template says.
rsakey ku-encrypt-key.pem
# shellcheck disable=SC2086
tmpl ku-encrypt.tmpl 'cn = "server.test"' "serial = $(serial)" tls_www_server \
	encryption_key 'expiration_days = 825' $std_names
sign ku-encrypt.pem ku-encrypt-key.pem ku-encrypt.tmpl ca.pem ca-key.pem

# An intermediate under ca whose EKU limits it to servers (a trust anchor's
# own EKU is not checked by GnuTLS: it is trusted as configured).
eckey server-ca-key.pem
# shellcheck disable=SC2086
tmpl server-ca.tmpl 'cn = "handoff servers-only CA"' "serial = $(serial)" $ca_lines \
	'path_len = 0' tls_www_server
sign server-ca.pem server-ca-key.pem server-ca.tmpl ca.pem ca-key.pem
IFS=$old_ifs

eckey client-servca-key.pem
tmpl client-servca.tmpl 'cn = "client.test"' "serial = $(serial)" tls_www_client \
	signing_key 'expiration_days = 825'
sign client-servca.pem client-servca-key.pem client-servca.tmpl server-ca.pem server-ca-key.pem

eckey client-eku-server-key.pem
tmpl client-eku-server.tmpl 'cn = "client.test"' "serial = $(serial)" tls_www_server \
	signing_key 'expiration_days = 825'
sign client-eku-server.pem client-eku-server-key.pem client-eku-server.tmpl ca.pem ca-key.pem

# --- bundles
cat "$out/chained.pem" "$out/inter.pem" >"$out/server-chain.pem"
cat "$out/ca.pem" "$out/ca2.pem" >"$out/ca-bundle.pem"
cat "$out/client-servca.pem" "$out/server-ca.pem" >"$out/client-servca-chain.pem"

# --- CRLs
tmpl crl.tmpl 'crl_next_update = 3650' 'crl_number = 1'
ct --generate-crl --no-text --load-ca-certificate "$out/ca.pem" \
	--load-ca-privkey "$out/ca-key.pem" --load-certificate "$out/revoked.pem" \
	--template "$out/tmpl/crl.tmpl" --outfile "$out/crl.pem"
tmpl crl-empty.tmpl 'crl_next_update = 3650' 'crl_number = 2'
ct --generate-crl --no-text --load-ca-certificate "$out/ca.pem" \
	--load-ca-privkey "$out/ca-key.pem" \
	--template "$out/tmpl/crl-empty.tmpl" --outfile "$out/crl-empty.pem"

# --- server-key.pem as PKCS #8 under the password "secret" (PBES2): the
# tests check that an encrypted key is named as such.  Made here, natively:
# its key derivation takes seconds in a TCG guest.
ct --to-p8 --password secret --load-privkey "$out/server-key.pem" --outfile "$out/server-p8enc-key.pem"

# --- symmetric secrets
psk=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
[ ${#psk} -eq 64 ] || { echo "mkcerts.sh: could not read /dev/urandom" >&2; exit 1; }
printf '%s\n' "$psk" >"$out/psk.hex"
printf 'handoff-test:%s\n' "$psk" >"$out/psk.txt"
head -c 64 /dev/urandom >"$out/ticket.key"
[ "$(wc -c <"$out/ticket.key")" -eq 64 ] || { echo "mkcerts.sh: short ticket key" >&2; exit 1; }
chmod 600 "$out/ticket.key"

# Certificates are public; let tests running as another user read them.
chmod 644 "$out"/*.pem
chmod 600 "$out"/*-key.pem

# Sanity: the chains verify the way the tests expect them to.
ct --verify --load-ca-certificate "$out/ca.pem" --infile "$out/server.pem"
ct --verify --load-ca-certificate "$out/ca.pem" --infile "$out/server-chain.pem"
ct --verify --load-ca-certificate "$out/ca2.pem" --infile "$out/server2.pem"

echo "mkcerts.sh: test PKI in $out"

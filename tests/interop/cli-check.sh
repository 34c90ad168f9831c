#!/bin/bash
# cli-check.sh - `handoff check` tells the truth about this kernel.
#
# On the build host (HANDOFF_TEST_KTLS unset) the kernel has no kTLS: the
# report must say the ULP is missing, tell the operator to 'modprobe tls'
# and exit 1.  Inside the VM (HANDOFF_TEST_KTLS=1, Linux 6.12+ with the tls
# and cipher modules loaded) it must report the ULP, TLS 1.3 AES-128-GCM,
# the handshake family and /proc/net/tls_stat, and exit 0.
# Exit 0 pass, 1 fail, 77 skip (automake's convention).
set -u

cli=${HANDOFF_CLI:-}
if [[ -z $cli || ! -x $cli ]]; then
	echo "SKIP: HANDOFF_CLI does not name the handoff binary"
	exit 77
fi
if ! command -v python3 >/dev/null; then
	echo "SKIP: python3 is needed to read the JSON"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
# expect WHAT COMMAND...: WHAT holds if COMMAND succeeds.
expect() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

if [[ ${HANDOFF_TEST_KTLS:-} == 1 ]]; then
	mode=ktls
	want_rc=0
else
	mode=host
	want_rc=1
fi

"$cli" check --json >"$tmp/json" 2>"$tmp/json.err"
rc=$?
expect "check --json exits $want_rc (got $rc) $(cat "$tmp/json.err")" test "$rc" = "$want_rc"

if python3 - "$tmp/json" "$mode" "$(uname -r)" <<'PY'; then ok "JSON matches this kernel ($mode)"; else bad "JSON does not match this kernel ($mode)"; fi
import json, sys

path, mode, release = sys.argv[1:4]
with open(path) as f:
    d = json.load(f)
errors = []

def expect(cond, what):
    if not cond:
        errors.append(what)

expect(d["release"] == release, "release %r != uname -r %r" % (d["release"], release))
cells = {(c["version"], c["cipher"]): c for c in d["ciphers"]}
expect(len(cells) == 8, "want 8 cipher/version cells, got %d" % len(cells))
for c in d["ciphers"]:
    expect(c["ok"] == (c["tx_errno"] == 0 and c["rx_errno"] == 0),
           "cell %s/%s: ok disagrees with its errnos" % (c["version"], c["cipher"]))
usable = sum(1 for c in d["ciphers"] if c["ok"])
expect(d["usable_pairs"] == usable, "usable_pairs %d != %d ok cells" % (d["usable_pairs"], usable))
expect(d["usable"] == (usable > 0), "usable disagrees with the cells")

if mode == "host":
    expect(d["ulp"]["ok"] is False, "ULP reported ok on a kernel without kTLS")
    expect(d["ulp"]["error"] == "ENOENT", "ULP error %r, want ENOENT" % d["ulp"]["error"])
    expect("modprobe tls" in (d["ulp"]["advice"] or ""), "ULP advice lacks 'modprobe tls'")
    expect(usable == 0, "%d usable cells without kTLS" % usable)
    for c in d["ciphers"]:
        expect(c["tx_errno"] == d["ulp"]["errno"] and c["rx_errno"] == d["ulp"]["errno"],
               "cell %s/%s has an errno other than the ULP's" % (c["version"], c["cipher"]))
    expect(d["handshake_family"]["present"] is False, "handshake family reported present")
    expect("CONFIG_NET_HANDSHAKE" in (d["handshake_family"]["advice"] or ""),
           "handshake advice lacks CONFIG_NET_HANDSHAKE")
    expect(d["tls_stat"]["present"] is False, "tls_stat reported present")
else:
    expect(d["ulp"]["ok"] is True and d["ulp"]["errno"] == 0, "ULP not ok: %r" % d["ulp"])
    expect(d["ulp"]["advice"] is None, "advice given for a working ULP")
    expect(cells[("TLSv1.3", "AES-128-GCM")]["ok"] is True, "TLS 1.3 AES-128-GCM not ok")
    # The handshake family arrived in Linux 6.4 (6.1 is the matrix's kernel without it).
    major, minor = (int(x) for x in release.split(".")[:2])
    want_family = (major, minor) >= (6, 4)
    expect(d["handshake_family"]["present"] is want_family,
           "handshake family present=%r on %s, want %r" % (d["handshake_family"]["present"], release, want_family))
    expect(d["tls_stat"]["present"] is True, "tls_stat absent")

for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY

# The human report: the operator must be told what to do.
"$cli" check >"$tmp/text" 2>&1
rc=$?
expect "check exits $want_rc (got $rc)" test "$rc" = "$want_rc"
if [[ $mode == host ]]; then
	expect "text says 'modprobe tls'" grep -q "modprobe tls" "$tmp/text"
	expect "text verdict: not usable" grep -q "kTLS NOT usable" "$tmp/text"
	if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
		bad "host lists the tls ULP: run this test with HANDOFF_TEST_KTLS=1"
	fi
else
	expect "text says the ULP is ok" grep -q '^kTLS ULP.*ok$' "$tmp/text"
	expect "text verdict: usable" grep -q "kTLS usable" "$tmp/text"
	expect "/proc/net/tls_stat readable" test -r /proc/net/tls_stat
	# ss shows the ULP of a live kTLS socket only; here just that it runs.
	if command -v ss >/dev/null; then
		expect "ss runs" ss -tni >/dev/null
	fi
fi

# --quiet: nothing on stdout, same verdict.
"$cli" check --quiet >"$tmp/quiet" 2>&1
rc=$?
expect "--quiet exits $want_rc (got $rc)" test "$rc" = "$want_rc"
expect "--quiet prints nothing" test ! -s "$tmp/quiet"

# Usage errors are 2, --help is 0 and documents the exit status.
"$cli" check --no-such-option >/dev/null 2>&1
rc=$?
expect "unknown option exits 2 (got $rc)" test "$rc" = 2
"$cli" check --json --quiet >/dev/null 2>&1
rc=$?
expect "--json --quiet exits 2 (got $rc)" test "$rc" = 2
"$cli" check --help >"$tmp/help" 2>&1
rc=$?
expect "--help exits 0 (got $rc)" test "$rc" = 0
expect "--help documents the exit status" grep -q "Exit status" "$tmp/help"

exit $fail

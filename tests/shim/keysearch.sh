#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Key residue under the shim (the hardening issue): a plaintext server
# (tests/ktls/keysearch_shim) made a TLS server by `handoff run` searches
# its own memory after the hand-off for the traffic keys and IVs (read back
# from the kernel), the client's first traffic secrets and the private key.
# The library's own search is tests/ktls/ktls_keysearch.  VM only.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ASan's allocator keeps freed blocks in quarantine: a residue search there
# finds what a plain build has really wiped or reused (the plain 7.x pass runs it).
grep -q '^#define HANDOFF_ASAN_RUNTIME' "${HANDOFF_BUILDDIR:-$top_builddir}/config.h" 2>/dev/null &&
	skip "ASan build: freed memory stays in ASan's quarantine (the plain build's pass searches it)"
shim_setup keysearch

KS=
for d in "${HANDOFF_BUILDDIR:-}" "${top_builddir:-}" "$(dirname "$HANDOFF_CLI")"; do
	[ -n "$d" ] && [ -x "$d/tests/ktls/keysearch_shim" ] && { KS=$d/tests/ktls/keysearch_shim; break; }
done
if [ -z "$KS" ]; then
	fail "no tests/ktls/keysearch_shim in the build tree (make check builds it)"
	finish
fi
PORT=$(random_port)
if run_shim "$WORK/ks.shim.log" --cert "$HANDOFF_PKI/server.pem" --key "$HANDOFF_PKI/server-key.pem" \
	--accept "127.0.0.1:$PORT" -- "$KS" "$PORT" "$HANDOFF_PKI/server-key.pem" >"$WORK/ks.out" 2>&1; then
	pass "no traffic key, old secret or new private key copy in a shimmed server: $(tail -1 "$WORK/ks.out")"
else
	fail "key residue in a shimmed server" "$WORK/ks.out" "$WORK/ks.shim.log"
fi
sed 's/^/  | /' "$WORK/ks.out"
finish

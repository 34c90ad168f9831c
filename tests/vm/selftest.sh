#!/bin/bash
# selftest.sh [--kernel ID|all]
#
# Tests the harness itself on each kernel: a real kTLS smoke test must pass,
# and a failing, a hanging and a kernel-crashing test must each be reported
# as the failure it is; a clean run must exit 0; a guest that crashes while
# booting, before any test, is booted again; and a guest that outlives the
# host-side watchdog must be killed and reported.
#
# run.sh's own output (which has expected failures in it) is kept in files
# and shown, indented, only when a check fails, so that its summary lines
# never reach a caller that adds up "N passed, M failed" lines.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kernel=all
while [[ $# -gt 0 ]]; do
	case $1 in
	--kernel) kernel=${2?}; shift ;;
	--kernel=*) kernel=${1#*=} ;;
	*) printf 'usage: %s [--kernel ID|all]\n' "${0##*/}" >&2; exit 2 ;;
	esac
	shift
done
if [[ $kernel == all ]]; then
	mapfile -t ids < <(vm_default_ids)
else
	ids=("$kernel")
fi

# Paths as a caller in the source tree would pass them.
cd "$VM_DIR/../.."
build=tests/vm/.build
mkdir -p "$build"
if [[ ! -x $build/ktls-smoke || tests/vm/selftest/ktls-smoke.c -nt $build/ktls-smoke ]]; then
	# shellcheck disable=SC2086 # CFLAGS is a list of flags
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Wshadow -Wformat=2 \
		-Wmissing-prototypes -Werror ${CFLAGS:-} \
		-o "$build/ktls-smoke" tests/vm/selftest/ktls-smoke.c
fi

smoke=$build/ktls-smoke
sel=tests/vm/selftest
HANDOFF_SELFTEST_CWD=$(pwd -P)
HANDOFF_SELFTEST_TOKEN=$$.$RANDOM
export HANDOFF_SELFTEST_CWD HANDOFF_SELFTEST_TOKEN
logs=$(mktemp -d "${TMPDIR:-/tmp}/handoff-vm-selftest.XXXXXX")
# run.sh keeps the run folders of failed runs, and most runs here fail on
# purpose: keep them with the logs, gone together on success.
export TMPDIR=$logs

passed=0
failed=0
shown=

# expect NAME LOG DESCRIPTION FIXED-STRING: LOG has a line containing it.
expect() {
	local name=$1 log=$2 what=$3 str=$4
	if grep -qF -- "$str" "$log"; then
		printf 'ok: %s: %s\n' "$name" "$what"
		passed=$((passed + 1))
	else
		printf 'NOT OK: %s: %s (no line with "%s")\n' "$name" "$what" "$str"
		fail_show "$log"
	fi
}

# expect_line NAME LOG DESCRIPTION LINE: LOG has exactly this line.
expect_line() {
	local name=$1 log=$2 what=$3 line=$4
	if grep -qxF -- "$line" "$log"; then
		printf 'ok: %s: %s\n' "$name" "$what"
		passed=$((passed + 1))
	else
		printf 'NOT OK: %s: %s (no line "%s")\n' "$name" "$what" "$line"
		fail_show "$log"
	fi
}

# expect_rc NAME LOG DESCRIPTION GOT WANT: WANT is 0 or "nonzero".
expect_rc() {
	local name=$1 log=$2 what=$3 got=$4 want=$5
	if [[ ($want == 0 && $got -eq 0) || ($want == nonzero && $got -ne 0) ]]; then
		printf 'ok: %s: %s (exit %s)\n' "$name" "$what" "$got"
		passed=$((passed + 1))
	else
		printf 'NOT OK: %s: %s (exit %s, want %s)\n' "$name" "$what" "$got" "$want"
		fail_show "$log"
	fi
}

fail_show() {
	failed=$((failed + 1))
	case " $shown " in
	*" $1 "*) return ;;
	esac
	shown="$shown $1"
	printf -- '---- %s ----\n' "$1"
	sed 's/^/    # /' "$1"
}

for id in "${ids[@]}"; do
	# One boot: pass, fail, time out, pass again after the timeout, then
	# crash the kernel (last, since nothing runs after it).
	log=$logs/$id-mixed.log
	rc=0
	tests/vm/run.sh --kernel "$id" --timeout 10 -- \
		"$smoke" "$sel/fail.sh" "$sel/hang.sh" "$sel/env-check.sh" "$sel/panic.sh" \
		>"$log" 2>&1 || rc=$?
	n="$id mixed"
	expect_rc "$n" "$log" "run.sh fails" "$rc" nonzero
	expect "$n" "$log" "kTLS smoke test passes" "==== vm[$id] PASS: $smoke (exit 0,"
	expect "$n" "$log" "TlsCurrTxSw moved" "  |   TlsCurrTxSw                     	1"
	expect "$n" "$log" "failing test reported with its status" "==== vm[$id] FAIL: $sel/fail.sh (exit 3,"
	expect_line "$n" "$log" "failing test's stderr shown" "  | selftest-fail: stderr line"
	expect "$n" "$log" "hanging test timed out" "==== vm[$id] TIMEOUT: $sel/hang.sh (killed after 10 s"
	expect "$n" "$log" "environment as promised, after the timeout" "==== vm[$id] PASS: $sel/env-check.sh (exit 0,"
	expect "$n" "$log" "crashing test has no result" "==== vm[$id] FAIL: $sel/panic.sh (no result"
	expect "$n" "$log" "panic reported" "==== vm[$id] FAIL: guest: kernel panic"
	expect "$n" "$log" "panic shown from the console" "  | [ "
	expect_line "$n" "$log" "summary line" "vm[$id]: 2 passed, 3 failed"

	log=$logs/$id-clean.log
	rc=0
	tests/vm/run.sh --kernel "$id" -- "$smoke" "$sel/env-check.sh" >"$log" 2>&1 || rc=$?
	n="$id clean"
	expect_rc "$n" "$log" "run.sh succeeds" "$rc" 0
	expect_line "$n" "$log" "summary line" "vm[$id]: 2 passed, 0 failed"

	# A crash while booting, before any test: booted again, then all passes.
	log=$logs/$id-bootpanic.log
	rc=0
	HANDOFF_VM_SELFTEST_BOOT_PANIC=1 tests/vm/run.sh --kernel "$id" -- "$smoke" >"$log" 2>&1 || rc=$?
	n="$id boot panic"
	expect_rc "$n" "$log" "run.sh succeeds after booting again" "$rc" 0
	expect "$n" "$log" "the second boot is announced" "guest panicked while booting, before any test (boot 1); booting again"
	expect_line "$n" "$log" "summary line" "vm[$id]: 1 passed, 0 failed"

	log=$logs/$id-watchdog.log
	rc=0
	HANDOFF_VM_WATCHDOG=3 tests/vm/run.sh --kernel "$id" -- "$sel/hang.sh" >"$log" 2>&1 || rc=$?
	n="$id watchdog"
	expect_rc "$n" "$log" "run.sh fails" "$rc" nonzero
	expect "$n" "$log" "hung guest killed" "==== vm[$id] FAIL: guest: guest hung: killed after 3 s"
	expect_line "$n" "$log" "summary line" "vm[$id]: 0 passed, 1 failed"
done

if [[ $failed -eq 0 ]]; then
	rm -rf "$logs"
else
	printf 'run.sh logs kept in %s\n' "$logs"
fi
printf 'vm-selftest: %d passed, %d failed\n' "$passed" "$failed"
[[ $failed -eq 0 ]]

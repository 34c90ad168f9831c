#!/bin/bash
# run-all.sh - the whole test suite, from a fresh clone on Debian 12.
#
# Installs what it needs, builds with warnings as errors, runs the host
# suite (unit tests and interop tests against gnutls/openssl peers), checks
# the release tarball (make distcheck), then runs the same suite inside each
# kernel of the VM matrix (Linux 6.12 and 7.x), where kTLS is real.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$top" || exit 1
start=$SECONDS
passed=0
failed=0

step() { printf '\n===== %s (%ds)\n' "$*" $((SECONDS - start)); }
# count LOG: add automake's PASS/FAIL totals of a test-suite.log to ours.
count() {
	local p f
	p=$(sed -n 's/^# PASS: *//p' "$1" | head -n1)
	f=$(( $(sed -n 's/^# FAIL: *//p' "$1" | head -n1) + $(sed -n 's/^# ERROR: *//p' "$1" | head -n1) ))
	passed=$((passed + ${p:-0}))
	failed=$((failed + f))
}
vm_logs=()
finish() {
	# CI shows only the tail of the output: name what failed in the VMs last.
	if [[ $failed -gt 0 && ${#vm_logs[@]} -gt 0 ]]; then
		printf '\nrun-all: failed in the VMs:\n'
		grep -h '^==== vm\[[^]]*\] \(FAIL\|TIMEOUT\): ' "${vm_logs[@]}" 2>/dev/null | sed 's/^==== /  /; s/ ====$//'
		printf 'run-all: their first failing checks:\n'
		grep -h -E '^  \| (FAIL|not ok)\b' "${vm_logs[@]}" 2>/dev/null | head -n 20
	fi
	printf '\nrun-all: %d passed, %d failed (%ds)\n' "$passed" "$failed" $((SECONDS - start))
	[[ $failed -eq 0 && $1 -eq 0 ]] && exit 0
	exit 1
}

step "dependencies"
bash tests/install-deps.sh || finish 1

step "build"
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; finish 1; }
./configure --enable-werror >/dev/null || finish 1
make -j2 >/dev/null || { make; finish 1; }

step "host tests (make check)"
make -j2 check
rc=$?
[[ -f test-suite.log ]] && count test-suite.log
if [[ $rc -ne 0 ]]; then
	# The logs of what failed, so CI output says why.
	for log in tests/*/*.log; do
		[[ $log == */test-suite.log ]] && continue
		grep -q '^:test-result: \(FAIL\|ERROR\)' "${log%.log}.trs" 2>/dev/null && { echo "----- $log"; tail -n 60 "$log"; }
	done
	finish 1
fi

# A smoke run of the benchmark: it fails only when the benchmark itself
# breaks, never on a goal (timings on a shared CI machine prove nothing).
# Most of it is a TCG guest on one core, so memcheck takes the other core
# meanwhile; the benchmark's output comes after memcheck's.
step "benchmark smoke run (tests/bench/bench.sh --quick) beside leaks and memory errors (make check-valgrind)"
bash tests/bench/bench.sh --quick --out "$top/bench-results/ci" >/tmp/handoff-bench.log 2>&1 &
bench_pid=$!
make check-valgrind
rc=$?
wait "$bench_pid"
bench_rc=$?
echo "----- bench.sh --quick (exit $bench_rc)"
tail -n 60 /tmp/handoff-bench.log
[[ $rc -eq 0 ]] || { failed=$((failed + 1)); finish 1; }
passed=$((passed + 1))
[[ $bench_rc -eq 0 ]] || { failed=$((failed + 1)); finish 1; }
passed=$((passed + 1))

step "release tarball (make distcheck)"
make -j2 distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror TESTS= >/tmp/handoff-distcheck.log 2>&1 ||
	{ tail -n 60 /tmp/handoff-distcheck.log; failed=$((failed + 1)); finish 1; }
passed=$((passed + 1))
echo "distcheck: ok"

# The same host suite built with ASan and UBSan, from the tarball just
# checked (a VPATH build next to this configured tree is refused).  Its
# tree also runs the Linux 6.12 pass of the VM suite below.
step "sanitizers: ASan + UBSan build, host tests (build-san)"
rm -rf build-san && mkdir build-san &&
	tar -xzf handoff-*.tar.gz -C build-san --strip-components=1 || finish 1
(cd build-san && ./configure --enable-werror --enable-sanitizers >/dev/null && make -j2 >/dev/null) ||
	{ failed=$((failed + 1)); finish 1; }
(cd build-san && make -j2 check)
rc=$?
[[ -f build-san/test-suite.log ]] && count build-san/test-suite.log
if [[ $rc -ne 0 ]]; then
	for log in build-san/tests/*/*.log; do
		[[ $log == */test-suite.log ]] && continue
		grep -q '^:test-result: \(FAIL\|ERROR\)' "${log%.log}.trs" 2>/dev/null && { echo "----- $log"; tail -n 60 "$log"; }
	done
	finish 1
fi

# Every libFuzzer harness for a few seconds on top of its seed corpus (make
# check replays the corpus alone); by hand: make fuzz-run FUZZ_TIME=600.
# Fuzzing keeps one core busy; the VM harness's own test (a TCG guest, one
# vCPU) takes the other meanwhile, and its output follows the fuzzer's.
step "bounded fuzzing (make fuzz-run FUZZ_TIME=${HANDOFF_CI_FUZZ_SECONDS:-5} per harness) beside the VM harness itself (failures, hangs and panics are reported as such)"
bash tests/vm/selftest.sh --kernel 6.12 >/tmp/handoff-vm-selftest.log 2>&1 &
selftest_pid=$!
make fuzz-run FUZZ_TIME="${HANDOFF_CI_FUZZ_SECONDS:-5}" 2>&1 |
	grep -E '^fuzz_|stat::number_of_executed_units|ERROR|SUMMARY|check failed|^  FUZZ '
rc=${PIPESTATUS[0]}
wait "$selftest_pid"
selftest_rc=$?
[[ $rc -eq 0 ]] || { ls tests/fuzz/crash-* 2>/dev/null; failed=$((failed + 1)); finish 1; }
passed=$((passed + 1))
cat /tmp/handoff-vm-selftest.log
while read -r p f; do
	passed=$((passed + p))
	failed=$((failed + f))
done < <(sed -n 's/^vm-selftest: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' /tmp/handoff-vm-selftest.log)
[[ $selftest_rc -eq 0 ]] || finish 1

# Linux 6.12 runs the sanitizer build, 7.x the plain one: each kernel once.
# The two guests boot side by side, one vCPU each (tests/vm/run.sh says
# why one): each keeps one of the two cores busy.  7.x streams; 6.12's
# output is kept and printed whole after it.  A script that tests only
# user-space logic runs in one of the two (HANDOFF_VM_ONCE, its "vm-once"
# header line: tests/vm/suite.sh).
step "the suite in real kernels (make check-vm: 6.12 from build-san and 7.x, side by side)"
# Fill the VM cache first, so that the two passes never race to write it.
for id in 6.12 7.x; do
	bash tests/vm/fetch-kernel.sh "$id" >/dev/null || { failed=$((failed + 1)); finish 1; }
done
bash tests/shim/fetch-busybox.sh >/dev/null || echo "run-all: no dynamic busybox: its shim tests will fail"
# A guest that wedges is killed after 2400 s (twice the slowest pass seen):
# the run then fails with the guest's report, not by CI's own timeout.
export HANDOFF_VM_WATCHDOG=${HANDOFF_VM_WATCHDOG:-2400}
(cd build-san && HANDOFF_VM_ONCE=1 HANDOFF_VM_KERNELS=6.12 make check-vm) >/tmp/handoff-vm-6.12.log 2>&1 &
pid612=$!
HANDOFF_VM_ONCE=1 HANDOFF_VM_KERNELS=7.x make check-vm 2>&1 | tee /tmp/handoff-vm-7.x.log
rc=${PIPESTATUS[0]}
wait "$pid612" || rc=1
cat /tmp/handoff-vm-6.12.log
cat /tmp/handoff-vm-6.12.log /tmp/handoff-vm-7.x.log >/tmp/handoff-vm.log
vm_logs=(/tmp/handoff-vm.log)
while read -r p f; do
	passed=$((passed + p))
	failed=$((failed + f))
done < <(sed -n 's/^vm\[[^]]*\]: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' /tmp/handoff-vm.log)
[[ $rc -ne 0 && $failed -eq 0 ]] && failed=1
finish "$rc"

#!/bin/sh
# Checks the guest environment run.sh promises to every test.
# shellcheck disable=SC2016 # the checks are evaluated by check()
fails=0
check() {
	if eval "$2"; then
		echo "ok: $1"
	else
		echo "NOT OK: $1"
		fails=$((fails + 1))
	fi
}
check "HANDOFF_VM=1" '[ "${HANDOFF_VM-}" = 1 ]'
check "HANDOFF_TEST_KTLS=1" '[ "${HANDOFF_TEST_KTLS-}" = 1 ]'
check "HANDOFF_VM_KERNEL is uname -r" '[ "${HANDOFF_VM_KERNEL-}" = "$(uname -r)" ]'
check "caller's HANDOFF_* passed through" '[ -n "${HANDOFF_SELFTEST_TOKEN-}" ]'
check "cwd is the caller's" '[ "$(pwd -P)" = "${HANDOFF_SELFTEST_CWD-}" ]'
check "kTLS loaded" '[ -r /proc/net/tls_stat ]'
check "lo is up" '[ $(( $(cat /sys/class/net/lo/flags) & 1 )) = 1 ]'
check "/tmp is writable" 'echo x >/tmp/selftest.$$ && rm /tmp/selftest.$$'
check "host root is read-only" '! touch /selftest-must-fail 2>/dev/null'
check "the hung test left no process behind" '! ps -eo args | grep -q "[s]leep 100000"'
check "kernel module autoload (request_module) works" \
	'ip link add selftest0 type dummy && ip link del selftest0'
echo "uname -r: $(uname -r)"
[ "$fails" = 0 ]

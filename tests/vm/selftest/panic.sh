#!/bin/sh
# Crashes the guest kernel on purpose: the harness must report this test as
# having no result and the guest as panicked.
echo "selftest-panic: crashing the kernel"
echo c >/proc/sysrq-trigger
sleep 30

#!/bin/sh
# Hangs on purpose, ignoring SIGTERM: the harness's per-test timeout must
# kill it (KILL after TERM) and go on with the next test.
trap '' TERM
echo "selftest-hang: hanging"
sleep 100000 &
while :; do sleep 1; done

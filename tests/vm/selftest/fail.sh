#!/bin/sh
# Fails on purpose: the harness must report FAIL with exit 3 and this output.
echo "selftest-fail: stdout line"
echo "selftest-fail: stderr line" >&2
exit 3

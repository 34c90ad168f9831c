#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A flood of idle TCP connections, and what it costs the server.

  flood.py PORT COUNT SERVER-PID WORKDIR

Opens COUNT connections to 127.0.0.1:PORT that never send a byte, and
watches them until the server has closed every one (or 120 s passed).
Meanwhile it samples SERVER-PID's process tree (the process, its children
and theirs): the largest number of processes and the largest sum of their
proportional set size (Pss, so shared pages count once).  Half way through
the connects it creates WORKDIR/half (the test starts its good client
then); when WORKDIR/good-done appears it notes how many idle connections
were still open.  Prints "key value" lines; exit 0 when every connection
was closed by the server.
"""
import os
import select
import socket
import sys
import time

port, count, spid, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


def tree(pid):
    """pid and every descendant (through /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


max_procs = max_pss = 0


def sample():
    global max_procs, max_pss
    procs = tree(spid)
    max_procs = max(max_procs, len(procs))
    max_pss = max(max_pss, sum(pss_kib(p) for p in procs))


start = time.monotonic()
poller = select.poll()
socks = {}
opened = {}
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    socks[s.fileno()] = s
    opened[s.fileno()] = time.monotonic()
    poller.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    if i == count // 2:
        # The test's good client connects now: give it time to take its place in the queue.
        open(os.path.join(work, "half"), "w").close()
        time.sleep(0.5)
    if i % 50 == 0:
        sample()
print("connects_issued_s %.2f" % (time.monotonic() - start))

lifetimes = []
open_at_good = None
deadline = start + 120
last_sample = 0
while socks and time.monotonic() < deadline:
    for fd, ev in poller.poll(100):
        s = socks.pop(fd)
        poller.unregister(fd)
        try:
            s.recv(1)		# 0 (FIN) or ECONNRESET: either way the server dropped it
        except OSError:
            pass
        s.close()
        lifetimes.append(time.monotonic() - opened[fd])
    now = time.monotonic()
    if now - last_sample > 0.2:
        sample()
        last_sample = now
    if open_at_good is None and os.path.exists(os.path.join(work, "good-done")):
        open_at_good = len(socks)
sample()
lifetimes.sort()
print("closed %d/%d" % (len(lifetimes), count))
if lifetimes:
    print("lifetime_min_s %.2f" % lifetimes[0])
    print("lifetime_median_s %.2f" % lifetimes[len(lifetimes) // 2])
    print("lifetime_max_s %.2f" % lifetimes[-1])
print("open_when_good_client_done %s" % ("?" if open_at_good is None else open_at_good))
print("max_processes %d" % max_procs)
print("max_pss_kib %d" % max_pss)
print("elapsed_s %.2f" % (time.monotonic() - start))
sys.exit(0 if not socks else 1)

#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Raw TLS peers for tests/interop/hostile.sh: what stock tools will not send.

  hostile.py hello PORT RECVER HELLOVER SUITES
      A ClientHello with the record version RECVER and client_version
      HELLOVER (hex, e.g. 0300 for SSLv3), offering only SUITES (hex list,
      comma separated) and no supported_versions extension.  Prints the
      server's answer: "alert LEVEL DESC", "closed", or "handshake TYPE".
  hostile.py slow PORT DELAY_MS
      A TLS 1.2 ClientHello, one byte every DELAY_MS (a slowloris); prints
      "cut off after N of M bytes in T s" when the server closed first.
  hostile.py serverhello PORTFILE VERSION SUITE
      A server that answers any ClientHello with a ServerHello of VERSION
      choosing SUITE (hex), then waits for the client's answer.
  hostile.py proxy PORTFILE UPSTREAM MODE
      A TCP proxy to 127.0.0.1:UPSTREAM for one connection.  MODE onebyte
      relays every byte in a TCP segment of its own, both ways; sentinel
      rewrites the last 8 bytes of the ServerHello random to TLS 1.3's
      downgrade sentinel (RFC 8446 4.1.3, "DOWNGRD" 01).
Every mode exits 0 when it ran (the verdict is the test's), 2 on usage.
"""
import os
import select
import socket
import struct
import sys
import time


def record(ctype, ver, body):
    return struct.pack(">BHH", ctype, ver, len(body)) + body


def client_hello(hello_ver, suites, extensions=b""):
    body = struct.pack(">H", hello_ver) + os.urandom(32) + b"\x00"
    body += struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", s) for s in suites)
    body += b"\x01\x00"
    # signature_algorithms and supported_groups, so only the versions and suites are odd
    sig = b"\x00\x0d\x00\x0a\x00\x08\x04\x03\x08\x04\x04\x01\x02\x01"
    groups = b"\x00\x0a\x00\x06\x00\x04\x00\x17\x00\x1d"
    ecpf = b"\x00\x0b\x00\x02\x01\x00"
    exts = sig + groups + ecpf + extensions
    body += struct.pack(">H", len(exts)) + exts
    return b"\x01" + struct.pack(">I", len(body))[1:] + body


def answer(s):
    s.settimeout(10)
    try:
        hdr = s.recv(5)
        if len(hdr) < 5:
            return "closed"
        ctype, ver, n = struct.unpack(">BHH", hdr)
        body = b""
        while len(body) < min(n, 2):
            more = s.recv(n - len(body))
            if not more:
                break
            body += more
        if ctype == 21 and len(body) >= 2:
            return "alert %d %d" % (body[0], body[1])
        if ctype == 22 and body:
            return "handshake %d version %04x" % (body[0], ver)
        return "record type %d" % ctype
    except OSError as e:
        return "error %s" % e


def m_hello(port, recver, hellover, suites):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    suites = [int(x, 16) for x in suites.split(",")]
    s.sendall(record(22, int(recver, 16), client_hello(int(hellover, 16), suites)))
    print(answer(s))
    return 0


def m_slow(port, delay_ms):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = record(22, 0x0301, client_hello(0x0303, [0xc02b, 0xc02f]))
    sent = 0
    start = time.monotonic()
    try:
        for b in data:
            s.send(bytes([b]))
            sent += 1
            r, _, _ = select.select([s], [], [], int(delay_ms) / 1000)
            if r and not s.recv(1):
                break
    except OSError:
        pass
    took = time.monotonic() - start
    if sent < len(data):
        print("cut off after %d of %d bytes in %.1f s" % (sent, len(data), took))
    else:
        print("sent all %d bytes in %.1f s" % (len(data), took))
    return 0


def listen_one(portfile):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    ls.settimeout(30)
    c, _ = ls.accept()
    ls.close()
    c.settimeout(10)
    return c


def m_serverhello(portfile, version, suite):
    c = listen_one(portfile)
    c.recv(16384)
    body = struct.pack(">H", int(version, 16)) + os.urandom(32) + b"\x00"
    body += struct.pack(">H", int(suite, 16)) + b"\x00" + b"\x00\x00"
    hs = b"\x02" + struct.pack(">I", len(body))[1:] + body
    c.sendall(record(22, int(version, 16), hs))
    print("client answered: " + answer(c))
    return 0


def m_proxy(portfile, upstream, mode):
    c = listen_one(portfile)
    u = socket.create_connection(("127.0.0.1", int(upstream)), timeout=10)
    for s in (c, u):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = b""	# server bytes held until the ServerHello random is rewritten
    patched = mode != "sentinel"
    segments = 0
    live = [c, u]
    while live:
        r, _, _ = select.select(live, [], [], 20)
        if not r:
            break
        for s in r:
            other = u if s is c else c
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:	# pass the half-close on: close_notify may still come back
                live.remove(s)
                try:
                    other.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            if s is u and not patched:
                pending += data
                # record header 5, handshake header 4, version 2, random 32
                if len(pending) < 5 + 4 + 2 + 32:
                    continue
                end = 5 + 4 + 2 + 32
                pending = pending[:end - 8] + b"DOWNGRD\x01" + pending[end:]
                data, pending, patched = pending, b"", True
            if mode == "onebyte":
                for i in range(len(data)):
                    other.send(data[i:i + 1])
                    segments += 1
                    time.sleep(0.0005)	# so that loopback does not coalesce them
            else:
                other.sendall(data)
    print("segments %d, patched %s" % (segments, patched))
    return 0


MODES = {"hello": m_hello, "slow": m_slow, "serverhello": m_serverhello, "proxy": m_proxy}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        print(__doc__)
        sys.exit(2)
    sys.exit(MODES[sys.argv[1]](*sys.argv[2:]))

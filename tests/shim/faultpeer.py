#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Clients for tests/shim/faults.sh (never under the shim).

  faultpeer.py tls PORT CA MSG [HOLD [SECRET]]
      A TLS client (memory BIOs) that holds its Finished back for HOLD
      seconds, so the server stays in the middle of its handshake; then
      sends MSG and expects it back.  Prints "echo ok", or what went wrong
      ("ERR ..."); if SECRET is given, says whether those bytes ever came
      over the wire in plaintext or decrypted.  Exit 0 only for the echo.
  faultpeer.py plain PORT MSG
      A plaintext client: sends MSG, prints what came back.
"""
import socket
import ssl
import sys
import time


def err_line(e):
    return "ERR %s: %s" % (type(e).__name__, e)


def m_tls(port, ca, msg, hold="0", secret=None):
    hold = float(hold)
    msg = msg.encode() + b"\n"
    raw = bytearray()
    got = bytearray()
    ctx = ssl.create_default_context(cafile=ca)
    t0 = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="server.test")

    def pump_in():
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("EOF from the server")
        raw.extend(d)
        inc.write(d)

    rc = 1
    try:
        flights = 0
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            data = out.read()
            if data:
                flights += 1
                if flights == 2 and hold > 0:
                    print("holding the Finished back %.1f s" % hold, flush=True)
                    time.sleep(hold)
                sock.sendall(data)
            if done:
                break
            pump_in()
        tls.write(msg)
        sock.sendall(out.read())
        while len(got) < len(msg):
            try:
                got.extend(tls.read(65536))
            except ssl.SSLWantReadError:
                pump_in()
            data = out.read()
            if data:
                sock.sendall(data)
        if bytes(got) == msg:
            print("echo ok: %r over %s (%.1f s)" % (bytes(got), tls.version(), time.monotonic() - t0))
            rc = 0
        else:
            print("echo WRONG: sent %r, got %r" % (msg, bytes(got)))
    except (OSError, ssl.SSLError, ConnectionError) as e:
        print("%s (after %.1f s, %d raw bytes)" % (err_line(e), time.monotonic() - t0, len(raw)))
    if secret is not None:
        s = secret.encode()
        print("secret in plaintext on the wire: %s; decrypted: %s" % (
            "YES" if s in raw else "no", "YES" if s in got else "no"))
    sock.close()
    return rc


def m_plain(port, msg):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    s.sendall(msg.encode() + b"\n")
    got = b""
    try:
        while not got.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError as e:
        print(err_line(e))
    print("plain got %r" % got)
    return 0 if got == msg.encode() + b"\n" else 1


if __name__ == "__main__":
    modes = {"tls": m_tls, "plain": m_plain}
    if len(sys.argv) < 2 or sys.argv[1] not in modes:
        print(__doc__)
        sys.exit(2)
    sys.exit(modes[sys.argv[1]](*sys.argv[2:]))

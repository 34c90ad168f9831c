#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peers and small programs for the shim tests (tests/shim/*.sh).

Two kinds of mode:
  - TLS peers (never under the shim): echo, banner, get, plainhttp, rst,
    truncate, stall, load, alertproxy;
  - plaintext programs meant to run UNDER the shim: server, client.  They
    print what the program saw, errors as "ERR errno=N NAME: text", so a
    test can assert the exact errno the shim gave.

Every mode prints one result line per thing it checked and exits 0 when it
got what it expected, 1 otherwise (2 for usage).
"""
import errno
import hashlib
import os
import socket
import ssl
import struct
import sys
import threading
import time


def err_line(e):
    n = getattr(e, "errno", None)
    name = errno.errorcode.get(n, "?") if n is not None else type(e).__name__
    return "ERR errno=%s %s: %s" % (n, name, e)


def tls_ctx(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def tls_connect(port, ca, name="server.test", cert=None, key=None, timeout=20):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return tls_ctx(ca, cert, key).wrap_socket(raw, server_hostname=name)


def recv_exact(s, n):
    got = bytearray()
    while len(got) < n:
        b = s.recv(min(1 << 16, n - len(got)))
        if not b:
            break
        got += b
    return bytes(got)


def recv_line(s):
    got = bytearray()
    while not got.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        got += b
    return bytes(got)


def recv_all(s):
    got = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b:
            return bytes(got)
        got += b


def half_hello():
    """The first 60 bytes of a 517-byte TLS 1.3 ClientHello record."""
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32)
    hs = b"\x01" + struct.pack(">I", 512)[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", 512 + 4) + hs[:55]


# ---------------------------------------------------------------- TLS peers

def m_echo(port, ca, size, name="server.test"):
    """Send SIZE random bytes, expect them back, byte-exact."""
    data = os.urandom(int(size))
    s = tls_connect(int(port), ca, name)
    # Lock-step, 64 KiB at a time: one SSL object must not be read and
    # written from two threads at once, and an echo returns every byte.
    got = bytearray()
    for off in range(0, len(data), 65536):
        chunk = data[off:off + 65536]
        s.sendall(chunk)
        back = recv_exact(s, len(chunk))
        got += back
        if len(back) < len(chunk):
            break
    got = bytes(got)
    version = s.version()
    try:
        s = s.unwrap()  # close_notify, and wait for the server's
    except (OSError, ssl.SSLError) as e:
        print("unwrap: " + err_line(e))
    s.close()
    ok = got == data
    print("echo %s: sent %d sha256 %s, got %d sha256 %s, %s" % (
        version, len(data), hashlib.sha256(data).hexdigest()[:16], len(got),
        hashlib.sha256(got).hexdigest()[:16], "same" if ok else "DIFFERENT"))
    return 0 if ok else 1


def m_banner(port, ca, banner):
    """Server-first: the banner arrives before we send anything, then echo works."""
    s = tls_connect(int(port), ca)
    line = recv_line(s)
    ok = line == banner.encode() + b"\n"
    s.sendall(b"after-banner\n")
    echo = recv_line(s)
    ok = ok and echo == b"after-banner\n"
    try:
        s = s.unwrap()
    except (OSError, ssl.SSLError) as e:
        print("unwrap: " + err_line(e))
    s.close()
    print("banner %r, echo %r: %s" % (line, echo, "ok" if ok else "WRONG"))
    return 0 if ok else 1


def m_plainhttp(port):
    """Plaintext HTTP to a TLS port: nothing may come back in plaintext."""
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    s.sendall(b"GET /index.html HTTP/1.0\r\nHost: server.test\r\n\r\n")
    try:
        got = recv_all(s)
    except OSError as e:
        got = b""
        print("recv: " + err_line(e))
    plain = b"HTTP/" in got or b"hello" in got
    alert = got[:1] == b"\x15"
    print("got %d bytes %r: %s" % (len(got), got[:16],
          "PLAINTEXT SERVED" if plain else ("a TLS alert" if alert else "no plaintext")))
    return 1 if plain else 0


def m_rst(port):
    """Half a ClientHello, then a TCP reset (SO_LINGER 0)."""
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    s.sendall(half_hello())
    time.sleep(0.5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("sent half a ClientHello, then RST")
    return 0


def m_truncate(port, ca, text="hello"):
    """Handshake, send a line, then TCP FIN without close_notify."""
    s = tls_connect(int(port), ca)
    s.sendall(text.encode() + b"\n")
    time.sleep(0.5)
    raw = socket.socket(fileno=s.detach())  # no SSL_shutdown: no close_notify
    raw.shutdown(socket.SHUT_WR)
    time.sleep(1.0)
    raw.close()
    print("sent %r, then FIN without close_notify" % text)
    return 0


def m_get(port, ca, path, name="server.test"):
    s = tls_connect(int(port), ca, name)
    s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, name)).encode())
    got = recv_all(s)
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    print("GET %s: %s, %d body bytes" % (path, head.split(b"\r\n")[0].decode(errors="replace"),
                                         len(body)))
    return 0 if head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0] else 1


class Stallers:
    """Keep one half-ClientHello and one silent connection open at all times;
    record how long each lived until the server closed it."""

    def __init__(self, port):
        self.port = port
        self.lives = []   # (kind, seconds, how)
        self.stop = False
        self.threads = []
        self.opened = 0

    def one(self, kind):
        while not self.stop:
            t0 = time.monotonic()
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                self.opened += 1
                if kind == "half-hello":
                    s.sendall(half_hello())
                try:
                    b = s.recv(4096)
                    while b and b[:1] != b"\x15":
                        b = s.recv(4096)
                    how = "alert" if b else "eof"
                except socket.timeout:
                    how = "still open after 30 s"
                except OSError as e:
                    how = errno.errorcode.get(e.errno, str(e.errno))
                s.close()
            except OSError as e:
                how = "connect: " + str(e)
            self.lives.append((kind, time.monotonic() - t0, how))

    def start(self):
        for kind in ("half-hello", "silent"):
            t = threading.Thread(target=self.one, args=(kind,), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop = True
        for t in self.threads:
            t.join(45)


def m_load(port, ca, kind, count, expect_path="/index.html", stall="yes"):
    """COUNT fresh TLS connections (http GET or echo) while stallers hang on
    (none with STALL=no: the baseline).  Prints latencies; 0 when every
    request succeeded and every staller was closed by the server after
    2.5..15 s."""
    port, count = int(port), int(count)
    st = Stallers(port)
    if stall == "yes":
        st.start()
        time.sleep(0.5)
    lat, fails = [], []
    expect = None
    if kind == "http":
        expect = open(expect_path, "rb").read()
    for i in range(count):
        t0 = time.monotonic()
        try:
            s = tls_connect(port, ca, timeout=20)
            if kind == "http":
                s.sendall(b"GET /index.html HTTP/1.1\r\nHost: server.test\r\nConnection: close\r\n\r\n")
                got = recv_all(s)
                ok = got.startswith(b"HTTP/1.1 200") and got.endswith(expect)
            else:
                msg = b"request %d\n" % i
                s.sendall(msg)
                ok = recv_exact(s, len(msg)) == msg
            s.close()
            if not ok:
                fails.append("request %d: wrong answer" % i)
        except Exception as e:  # noqa: BLE001 - report anything
            fails.append("request %d: %s" % (i, err_line(e)))
        lat.append(time.monotonic() - t0)
    during = list(st.lives)
    st.finish()
    lat.sort()
    ms = [x * 1000 for x in lat]
    print("requests: %d/%d ok; latency ms min %.1f median %.1f p90 %.1f max %.1f (TCG: compare only side by side)"
          % (count - len(fails), count, ms[0], ms[len(ms) // 2], ms[int(len(ms) * 0.9)], ms[-1]))
    for f in fails[:10]:
        print("  " + f)
    print("stallers opened %d, closed during the requests %d" % (st.opened, len(during)))
    bad = 0
    for kind_, secs, how in st.lives:
        good = 2.5 <= secs <= 15 and not how.startswith("still") and not how.startswith("connect")
        bad += not good
        print("  staller %-10s closed after %.2f s (%s)%s" % (kind_, secs, how, "" if good else "  <-- WRONG"))
    ok = not fails and not bad and (stall != "yes" or len(st.lives) >= 2)
    return 0 if ok else 1


def m_alertproxy(listen_port, upstream_port):
    """A TCP proxy that corrupts the client's first application-data record
    after its Finished (TLS 1.3: the 2nd record of type 23), so the server
    answers with a fatal bad_record_mac alert, after the hand-off."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(listen_port)))
    ls.listen(8)
    print("proxy listening", flush=True)

    def pump(a, b, corrupt):
        buf = b""
        n23 = 0
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                if not corrupt:
                    b.sendall(d)
                    continue
                buf += d
                while len(buf) >= 5:
                    ln = struct.unpack(">H", buf[3:5])[0]
                    if len(buf) < 5 + ln:
                        break
                    rec, buf = bytearray(buf[:5 + ln]), buf[5 + ln:]
                    if rec[0] == 23:
                        n23 += 1
                        if n23 == 2:
                            rec[-1] ^= 0x5A
                            print("proxy: corrupted client record %d (%d bytes)" % (n23, len(rec)), flush=True)
                    b.sendall(bytes(rec))
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    while True:
        c, _ = ls.accept()
        u = socket.create_connection(("127.0.0.1", int(upstream_port)))
        threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, False), daemon=True).start()


def m_sniserver(port, cert, key):
    """A TLS server (python ssl) that answers every connection with the SNI
    the client sent: 'SNI=<name>' (or 'SNI=None'), then close_notify."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    seen = {}

    def cb(sobj, name, _ctx):
        seen["name"] = name

    ctx.sni_callback = cb
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(port)))
    ls.listen(8)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        seen.clear()
        try:
            t = ctx.wrap_socket(c, server_side=True)
            t.recv(4096)
            t.sendall(("SNI=%s\n" % seen.get("name")).encode())
            print("served SNI=%s" % seen.get("name"), flush=True)
            t.unwrap().close()
        except (OSError, ssl.SSLError) as e:
            print("sniserver: " + err_line(e), flush=True)
            c.close()


# ------------------------------------------- plaintext programs (under the shim)

def m_server(port, count="1", reply=""):
    """Accept COUNT connections one after the other; per connection print
    each read (as 'READ n bytes: ...'), then 'EOF' or the error; optionally
    send REPLY first."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(port)))
    ls.listen(8)
    print("listening", flush=True)
    for i in range(int(count)):
        try:
            c, _ = ls.accept()
        except OSError as e:
            print("accept: " + err_line(e), flush=True)
            continue
        try:
            if reply:
                c.sendall(reply.encode() + b"\n")
            while True:
                b = c.recv(65536)
                if not b:
                    print("conn %d: EOF" % i, flush=True)
                    break
                print("conn %d: READ %d bytes: %r" % (i, len(b), b[:60]), flush=True)
        except OSError as e:
            print("conn %d: recv: %s" % (i, err_line(e)), flush=True)
        c.close()
    return 0


def m_client(host, port, request="GET / HTTP/1.0\r\nHost: server.test\r\n\r\n"):
    """Connect by name (getaddrinfo), send REQUEST, print what came back."""
    try:
        s = socket.create_connection((host, int(port)), timeout=20)
    except OSError as e:
        print("connect: " + err_line(e))
        return 1
    try:
        s.sendall(request.encode().decode("unicode_escape").encode("latin-1"))
        got = recv_all(s)
        print("READ %d bytes: %r" % (len(got), got[:80]))
        print("EOF")
        return 0
    except OSError as e:
        print("io: " + err_line(e))
        return 1


MODES = {
    "echo": m_echo, "banner": m_banner, "plainhttp": m_plainhttp, "rst": m_rst,
    "truncate": m_truncate, "get": m_get, "sniserver": m_sniserver, "load": m_load, "alertproxy": m_alertproxy,
    "server": m_server, "client": m_client,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        print("usage: shimpeer.py MODE ARGS... (modes: %s)" % ", ".join(sorted(MODES)))
        sys.exit(2)
    sys.exit(MODES[sys.argv[1]](*sys.argv[2:]))

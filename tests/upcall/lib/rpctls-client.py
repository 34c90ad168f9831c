#!/usr/bin/env python3
"""rpctls-client.py - a user-space RPC-with-TLS client (RFC 9289) for nfsd.

Usage: rpctls-client.py [--repeat N] HOST PORT CA_FILE SERVER_NAME [CERT KEY]

Speaks to nfsd exactly as the kernel's NFS client does before a mount: an
RPC NULL call with AUTH_TLS, whose reply must carry "STARTTLS"; then a TLS
1.3 handshake on the same connection (ALPN "sunrpc", the server verified
against CA_FILE for SERVER_NAME, CERT and KEY presented when given); then
an RPC NULL call inside TLS, whose reply proves the server kept the session.
In TLS 1.3 the server judges the client's certificate after the client has
finished its handshake, so a refusal shows only at that last call.

Why not the kernel's own client: this tests the server side (nfsd and the
handshake daemon answering its upcalls) without the kernel client's TLS
failure path, which in Linux 6.12.95 can hang a refused mount or corrupt
the kernel (see tests/upcall/nfs-tls.sh).

Prints one line and exits 0 when served, 1 when refused (the line names
how: an alert, a reset, end of file), 2 when the probe itself went wrong
(no STARTTLS, a malformed reply, a bad argument).  With --repeat N it
connects N times in a row (one process: a process start is slow in a TCG
guest) and exits 0 or 1 only when all N agree, 3 when they did not.
"""
import socket
import ssl
import struct
import sys

NFS_PROGRAM = 100003
NFS_V4 = 4
AUTH_NONE = 0
AUTH_TLS = 7


def call(xid, flavor):
    """One RPC NULL call to NFSv4, record-marked (a single last fragment)."""
    body = struct.pack(">IIIIII", xid, 0, 2, NFS_PROGRAM, NFS_V4, 0)
    body += struct.pack(">II", flavor, 0)  # credential, empty body
    body += struct.pack(">II", AUTH_NONE, 0)  # verifier
    return struct.pack(">I", 0x80000000 | len(body)) + body


def recv_exact(read, n):
    data = b""
    while len(data) < n:
        chunk = read(n - len(data))
        if not chunk:
            raise EOFError("end of file after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def reply(read, xid):
    """Reads one record; returns (accept_stat, verifier body) of an accepted reply."""
    (mark,) = struct.unpack(">I", recv_exact(read, 4))
    if not mark & 0x80000000 or (mark & 0x7FFFFFFF) > 65536:
        raise ValueError("record mark 0x%08x" % mark)
    rec = recv_exact(read, mark & 0x7FFFFFFF)
    rxid, mtype, stat = struct.unpack(">III", rec[:12])
    if rxid != xid or mtype != 1:
        raise ValueError("reply xid %d type %d to call %d" % (rxid, mtype, xid))
    if stat != 0:
        raise ValueError("call denied (reply_stat %d)" % stat)
    _, vlen = struct.unpack(">II", rec[12:20])
    verf = rec[20:20 + vlen]
    off = 20 + ((vlen + 3) & ~3)
    (accept,) = struct.unpack(">I", rec[off:off + 4])
    return accept, verf


def why(e):
    """An exception as one short phrase: OpenSSL's reason, else its text."""
    reason = getattr(e, "reason", None)
    if reason:
        return reason
    if isinstance(e, ssl.SSLEOFError):
        return "end of file (the server closed the connection)"
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def main(argv):
    repeat = 1
    if len(argv) > 2 and argv[1] == "--repeat":
        repeat = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) not in (5, 7) or repeat < 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    results = []
    for _ in range(repeat):
        rc, line = once(argv)
        if rc == 2:
            print(line)
            return 2
        results.append((rc, line))
    served = sum(1 for rc, _ in results if rc == 0)
    if repeat == 1:
        print(results[0][1])
        return results[0][0]
    if served == repeat:
        print("served %d of %d: %s" % (repeat, repeat, results[0][1]))
        return 0
    if served == 0:
        print("refused %d of %d: %s" % (repeat, repeat, results[0][1]))
        return 1
    print("mixed: %d of %d served; %s" % (served, repeat,
                                          "; ".join("#%d %s" % (i + 1, line) for i, (_, line) in enumerate(results))))
    return 3


def once(argv):
    """One connection: (0 served | 1 refused | 2 probe failed, the line to print)."""
    host, port, ca, name = argv[1], int(argv[2]), argv[3], argv[4]
    try:
        sock = socket.create_connection((host, port), timeout=20)
    except OSError as e:
        return 2, "connect %s:%d: %s" % (host, port, e)
    sock.sendall(call(1, AUTH_TLS))
    try:
        accept, verf = reply(sock.recv, 1)
    except (EOFError, ValueError, OSError) as e:
        return 2, "AUTH_TLS probe: %s" % e
    if accept != 0 or verf != b"STARTTLS":
        return 2, "AUTH_TLS probe: accept_stat %d, verifier %r (want 0, b'STARTTLS')" % (accept, verf)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    ctx.set_alpn_protocols(["sunrpc"])
    if len(argv) == 7:
        ctx.load_cert_chain(argv[5], argv[6])
    try:
        tls = ctx.wrap_socket(sock, server_hostname=name)
    except OSError as e:  # ssl.SSLError included
        return 1, "refused in the handshake: %s" % why(e)
    try:
        tls.sendall(call(2, AUTH_NONE))
        accept, _ = reply(tls.recv, 2)
    except (OSError, EOFError) as e:  # ssl.SSLError included
        return 1, "refused after the handshake: %s" % why(e)
    except ValueError as e:
        return 2, "NULL call inside TLS: %s" % e
    line = "served: %s, ALPN %s, NULL call inside TLS answered (accept_stat %d)" % (
        tls.version(), tls.selected_alpn_protocol(), accept)
    tls.close()
    return (0 if accept == 0 else 2), line


if __name__ == "__main__":
    sys.exit(main(sys.argv))

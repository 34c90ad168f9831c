#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus of every harness in tests/fuzz (corpus/<harness>/).

A developer tool, not run by make: the files it writes are checked in.
Run it from anywhere; it rewrites only the files it names.  Input formats
are described at the top of each fuzz_*.c.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ------------------------------------------------------------ genl_reply
# Real datagrams from a 6.18 kernel's controller (seq 0x1234), each after
# the harness's flags byte 0x01 ("take seq and port id from the header").
KERNEL = {
    "kernel-nlctrl-reply": "01880000001000000034120000531f0000010200000b0002006e6c6374726c0000060001001000000008000300020000000800040000000000080005000000"
                           "00002c000600140001000800010003000000080002000e00000014000200080001000a000000080002000c0000001c0007001800010008000200100000000b"
                           "0001006e6f746966790000",
    "kernel-nlctrl-ack": "01240000000200000134120000531f00000000000020000000100005003412000000000000",
    "kernel-enoent-ext-ack": "013c0000000200000034120000541f0000feffffff2800000010000500341200000000000003010000130002006e6f2d737563682d66616d696c790000",
    "kernel-handshake-enoent": "01380000000200000034120000551f0000feffffff24000000100005003412000000000000030100000e00020068616e647368616b65000000",
}
for name, hexdata in KERNEL.items():
    write("genl_reply", name, bytes.fromhex(hexdata))

GENL_ID_CTRL = 0x10
NLMSG_ERROR, NLMSG_DONE, NLMSG_NOOP = 2, 3, 1
CTRL_CMD_NEWFAMILY, CTRL_CMD_GETFAMILY = 1, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
SEQ, PID = 0x1234, 0x1F53


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def nla(atype, payload, length=None):
    n = 4 + len(payload) if length is None else length
    return pad4(struct.pack("<HH", n, atype) + payload)


def nlmsg(mtype, payload, flags=0, seq=SEQ, pid=PID, length=None):
    n = 16 + len(payload) if length is None else length
    return struct.pack("<IHHII", n, mtype, flags, seq, pid) + payload


def genl(cmd, attrs):
    return struct.pack("<BBH", cmd, 2, 0) + b"".join(attrs)


def family_reply(fid=0x1C, name=b"handshake\0", cmd=CTRL_CMD_NEWFAMILY, extra=()):
    attrs = [nla(CTRL_ATTR_FAMILY_NAME, name), nla(CTRL_ATTR_FAMILY_ID, struct.pack("<H", fid))]
    return nlmsg(GENL_ID_CTRL, genl(cmd, attrs + list(extra)))


def ack(err=0, seq=SEQ):
    return nlmsg(NLMSG_ERROR, struct.pack("<i", err) + nlmsg(GENL_ID_CTRL, b"", seq=seq, length=16), flags=0x100)


def g(name, dgram, match=True):
    write("genl_reply", name, bytes([1 if match else 0]) + dgram)


g("reply-and-ack", family_reply() + ack())
g("reply-only", family_reply())
g("ack-only", ack())
g("error-enoent", ack(-2))
g("error-positive", ack(5))
g("error-truncated", nlmsg(NLMSG_ERROR, b"\0\0"))
g("done", nlmsg(NLMSG_DONE, b"\0\0\0\0"))
g("noop-then-reply", nlmsg(NLMSG_NOOP, b"") + family_reply() + ack())
g("id-below-min", family_reply(fid=0x0F) + ack())
g("id-u8", nlmsg(GENL_ID_CTRL, genl(CTRL_CMD_NEWFAMILY, [nla(CTRL_ATTR_FAMILY_ID, b"\x1c")])))
g("id-u32", nlmsg(GENL_ID_CTRL, genl(CTRL_CMD_NEWFAMILY, [nla(CTRL_ATTR_FAMILY_ID, b"\x1c\0\0\0")])))
g("no-id", nlmsg(GENL_ID_CTRL, genl(CTRL_CMD_NEWFAMILY, [nla(CTRL_ATTR_FAMILY_NAME, b"x\0")])) + ack())
g("name-no-nul", family_reply(name=b"handshake") + ack())
g("unknown-attr", family_reply(extra=[nla(0x7F, b"zz"), nla(0x99, b"")]) + ack())
g("wrong-cmd", family_reply(cmd=CTRL_CMD_GETFAMILY))
g("wrong-type", nlmsg(0x1C, genl(CTRL_CMD_NEWFAMILY, [nla(1, b"\x1c\0")])))
g("no-genl-header", nlmsg(GENL_ID_CTRL, b"\x01\x02"))
g("attr-len-zero", nlmsg(GENL_ID_CTRL, genl(CTRL_CMD_NEWFAMILY, [nla(1, b"\x1c\0", length=0)])))
g("attr-len-over", nlmsg(GENL_ID_CTRL, genl(CTRL_CMD_NEWFAMILY, [nla(1, b"\x1c\0", length=0x400)])))
g("attr-nested-flag", nlmsg(GENL_ID_CTRL, genl(CTRL_CMD_NEWFAMILY, [struct.pack("<HH", 6, 0x8001) + b"\x1c\0\0\0"])))
g("msg-len-zero", nlmsg(GENL_ID_CTRL, b"", length=0))
g("msg-len-short", nlmsg(GENL_ID_CTRL, b"", length=8))
g("msg-len-over", nlmsg(GENL_ID_CTRL, genl(1, []), length=0x1000))
g("trailing-bytes", family_reply() + ack() + b"\x01\x02\x03")
g("truncated-header", family_reply()[:10])
g("truncated-reply", (family_reply() + ack())[:37])
g("foreign-pid", family_reply() + nlmsg(NLMSG_ERROR, b"\0" * 20, pid=0x999))
g("foreign-seq", family_reply() + ack(seq=SEQ + 1))
g("empty", b"")
g("mismatch-seq-pid", struct.pack("<II", 0x5678, PID) + family_reply() + ack(), match=False)
g("pid-zero", struct.pack("<II", SEQ, 0) + family_reply() + ack(), match=False)
g("two-replies", family_reply(0x1C) + family_reply(0x1D) + ack())
# Found by this harness: nlmsg_len of 0x80000000 and up passed libmnl's
# signed length check; the first looped forever, the others read far off
# the end of the datagram (probe_genl_parse_reply, fixed).
g("regress-nlmsg-len-wraps", nlmsg(GENL_ID_CTRL, b"", length=0xFFFFFFFF))
g("regress-nlmsg-len-far", nlmsg(GENL_ID_CTRL, b"\0" * 8, length=0xFFFFFFF0))
g("regress-nlmsg-len-int-min", nlmsg(GENL_ID_CTRL, genl(CTRL_CMD_NEWFAMILY, [nla(0x77, b"\0" * 4)]), length=0x80000000))
# Also found here: an error field that is no -errno came back as the
# return value (-16777216; INT_MIN overflowed when negated).
g("regress-error-not-errno", family_reply() + ack(0x01000000))
g("regress-error-int-min", ack(-0x80000000))

# ------------------------------------------------------------ accept
# handoffd's ACCEPT reply parser.  Built the way net/handshake/tlshd.c
# writes the reply (Linux 6.12): family 0x1F, cmd ACCEPT (2), u32
# attributes sockfd 1, message-type 3, timeout 4, auth-mode 5,
# peer-identity 6 (repeated), certificate 7 (nest: cert 1, privkey 2),
# peername 8 (string), keyring 9.
HS_FAMILY = 0x1F
A_SOCKFD, A_CLASS, A_MSGTYPE, A_TIMEOUT, A_AUTH, A_PEERID, A_CERT, A_PEERNAME, A_KEYRING = range(1, 10)
CLIENTHELLO, SERVERHELLO = 1, 2
UNAUTH, PSK, X509 = 1, 2, 3


def u32(atype, v):
    return nla(atype, struct.pack("<I", v))


def accept_reply(attrs, cmd=2, family=HS_FAMILY):
    return nlmsg(family, genl(cmd, attrs))


def base(mtype=CLIENTHELLO, auth=X509, fd=9):
    return [u32(A_SOCKFD, fd), u32(A_MSGTYPE, mtype), u32(A_TIMEOUT, 15000), u32(A_AUTH, auth)]


def cert(c=0x100, k=0x200):
    return nla(A_CERT | 0x8000, u32(1, c) + u32(2, k))


def a(name, dgram, match=True):
    write("accept", name, bytes([1 if match else 0]) + dgram)


a("x509-client", accept_reply(base() + [cert(), nla(A_PEERNAME, b"localhost\0"), u32(A_KEYRING, 0x300)]))
a("x509-server", accept_reply(base(SERVERHELLO) + [cert()]))
a("psk-client", accept_reply(base(auth=PSK) + [u32(A_PEERID, 0x501), u32(A_PEERID, 0x502)]))
a("unauth-client", accept_reply(base(auth=UNAUTH) + [nla(A_PEERNAME, b"192.0.2.1\0")]))
a("minimal-6.4", accept_reply([u32(A_SOCKFD, 9), u32(A_MSGTYPE, CLIENTHELLO), u32(A_AUTH, UNAUTH)]))
a("unknown-attrs", accept_reply(base() + [nla(10, b"future\0"), nla(0x7F, b""), cert()]))
a("no-sockfd", accept_reply(base()[1:]))
a("no-auth", accept_reply(base()[:3]))
a("sockfd-u16", accept_reply([nla(A_SOCKFD, b"\x09\0")] + base()[1:]))
a("sockfd-twice", accept_reply(base() + [u32(A_SOCKFD, 10)]))
a("peerids-6", accept_reply(base(auth=PSK) + [u32(A_PEERID, i) for i in range(6)]))
a("certs-5", accept_reply(base() + [cert(i, i) for i in range(5)]))
a("cert-flat", accept_reply(base() + [nla(A_CERT, b"\x01\x02")]))
a("cert-inner-cut", accept_reply(base() + [nla(A_CERT, u32(1, 1) + struct.pack("<HH", 12, 2) + b"\0\0\0\0")]))
a("peername-no-nul", accept_reply(base() + [nla(A_PEERNAME, b"host")]))
a("peername-long", accept_reply(base() + [nla(A_PEERNAME, b"a" * 300 + b"\0")]))
a("msgtype-3", accept_reply(base(mtype=3)))
a("auth-4", accept_reply(base(auth=4)))
a("attr-len-over", accept_reply(base()[:3] + [nla(A_AUTH, b"\x03\0\0\0", length=64)]))
a("attr-len-zero", accept_reply([nla(A_SOCKFD, b"\x09\0\0\0", length=0)]))
a("ready-not-reply", accept_reply([u32(A_CLASS, 1)], cmd=1))
a("wrong-family", accept_reply(base(), family=0x20))
a("two-replies", accept_reply(base()) + accept_reply(base(fd=10)))
a("eagain", ack(-11))
a("eperm", ack(-1))
a("ack", ack(0))
a("truncated", accept_reply(base())[:30])
a("trailing", accept_reply(base()) + b"\0" * 8)
a("empty", b"")
a("foreign-seq", accept_reply(base()), match=False)
# Found by this harness: a positive error field came back as -ENODATA with
# no attribute named, like a missing attribute.
a("regress-error-positive", ack(61))
# Also found here: with an unaligned nlmsg_len on the last message, libmnl
# read a string attribute up to the aligned end, past the datagram.
a("regress-unaligned-len", nlmsg(HS_FAMILY, genl(2, [u32(A_PEERID, 0x34000501)]) + struct.pack("<HH", 8, A_PEERNAME) + b"\x02\x05\x01", length=35))
a("msg-len-huge", nlmsg(HS_FAMILY, genl(2, base()), length=0x80000000))

# ------------------------------------------------------------ conf
# handoffd's config parser: format byte (1: tlshd's file, 0: handoffd.conf),
# then the text.
def c(name, text, tlshd=True):
    write("conf", name, bytes([1 if tlshd else 0]) + text.encode())


c("tlshd-full", "[debug]\nloglevel=1\ntls=2\nnl=0\n[authenticate]\nkeyrings=.a;.b ; c\n"
  "[authenticate.client]\nx509.truststore=/ca.pem\nx509.crl=/crl.pem\n"
  "x509.certificate=/c.pem\nx509.private_key=/c.key\n[authenticate.server]\n"
  "x509.certificate=/s.pem\nx509.private_key=/s.key\nx509.pq.certificate=/pq.pem\n")
c("ours", "[handoffd]\nworkers=4\nmax-handshakes=32\ntimeout=5000\n", tlshd=False)
c("ours-unknown", "[handoffd]\nthreads=4\n", tlshd=False)
c("bad-number", "[debug]\nloglevel=x\n")
c("syntax", "[debug\nloglevel 1\n")
c("no-section", "loglevel=1\n")
c("long-line", "[debug]\nloglevel=" + "9" * 400 + "\n")
c("multiline", "[authenticate]\nkeyrings=a\n  b;c\n")
c("comments", "# c\n; c\n[debug] ; c\nnl=1 ; c\n")
c("many-keyrings", "[authenticate]\nkeyrings=" + ";".join("k%d" % i for i in range(20)) + "\n")
c("empty", "")

# ------------------------------------------------------------ posthandshake
TLS13_CLIENT, TLS12_CLIENT, TLS13_SERVER, TLS12_SERVER = 0, 1, 2, 3
ALERT, HANDSHAKE, CCS, APPDATA = 21, 22, 20, 23


def rec(rtype, data, length=None):
    n = len(data) if length is None else length
    return struct.pack(">BH", rtype, n) + data


def hs(htype, body, length=None):
    n = len(body) if length is None else length
    return bytes([htype]) + n.to_bytes(3, "big") + body


def nst(nonce=b"\0", ticket=b"T" * 48, exts=b""):
    body = struct.pack(">II", 7200, 0x12345678) + bytes([len(nonce)]) + nonce
    body += struct.pack(">H", len(ticket)) + ticket + struct.pack(">H", len(exts)) + exts
    return hs(4, body)


def key_update(requested):
    return hs(24, bytes([requested]))


LEAN = 4


def p(name, setup, *records):
    write("posthandshake", name, bytes([setup]) + b"".join(records))
    # The same records for the lean path (no session: our own parser).
    write("posthandshake", name + "-lean", bytes([setup | LEAN]) + b"".join(records))


T1, T2 = nst(b"\x01"), nst(b"\x02", b"U" * 80)
p("tls13-ticket", TLS13_CLIENT, rec(HANDSHAKE, T1))
p("tls13-ticket-early-data", TLS13_CLIENT, rec(HANDSHAKE, nst(exts=b"\x00\x2a\x00\x04\x00\x00\x40\x00")))
p("tls13-ticket-split", TLS13_CLIENT, rec(HANDSHAKE, T1[:3]), rec(HANDSHAKE, T1[3:]))
p("tls13-ticket-split-body", TLS13_CLIENT, rec(HANDSHAKE, T1[:20]), rec(HANDSHAKE, T1[20:]))
p("tls13-ticket-bytewise", TLS13_CLIENT, *[rec(HANDSHAKE, T1[i:i + 1]) for i in range(len(T1))])
p("tls13-tickets-coalesced", TLS13_CLIENT, rec(HANDSHAKE, T1 + T2))
p("tls13-tickets-straddling", TLS13_CLIENT, rec(HANDSHAKE, T1 + T2[:10]), rec(HANDSHAKE, T2[10:]))
p("tls13-ticket-truncated-body", TLS13_CLIENT, rec(HANDSHAKE, hs(4, T1[4:-6])))
p("tls13-ticket-empty-ticket", TLS13_CLIENT, rec(HANDSHAKE, nst(ticket=b"")))
p("tls13-keyupdate", TLS13_CLIENT, rec(HANDSHAKE, key_update(0)))
p("tls13-keyupdate-requested", TLS13_CLIENT, rec(HANDSHAKE, key_update(1)))
p("tls13-keyupdate-twice", TLS13_CLIENT, rec(HANDSHAKE, key_update(1)), rec(HANDSHAKE, key_update(0)))
p("tls13-keyupdate-bad-value", TLS13_CLIENT, rec(HANDSHAKE, key_update(2)))
p("tls13-keyupdate-long", TLS13_CLIENT, rec(HANDSHAKE, hs(24, b"\x00\x00")))
p("tls13-keyupdate-then-ticket", TLS13_CLIENT, rec(HANDSHAKE, key_update(0) + T1))
p("tls13-ticket-then-keyupdate", TLS13_CLIENT, rec(HANDSHAKE, T1 + key_update(1)))
p("tls13-keyupdate-split", TLS13_CLIENT, rec(HANDSHAKE, key_update(1)[:2]), rec(HANDSHAKE, key_update(1)[2:]))
p("tls13-keyupdate-then-partial", TLS13_CLIENT, rec(HANDSHAKE, key_update(0) + b"\x04\x00"))
p("tls13-server-keyupdate", TLS13_SERVER, rec(HANDSHAKE, key_update(1)))
p("tls13-server-gets-ticket", TLS13_SERVER, rec(HANDSHAKE, T1))
p("tls13-client-hello-after", TLS13_SERVER, rec(HANDSHAKE, hs(1, b"\x03\x03" + b"\0" * 34)))
p("tls13-finished-after", TLS13_CLIENT, rec(HANDSHAKE, hs(20, b"\0" * 32)))
p("tls13-cert-request-after", TLS13_CLIENT, rec(HANDSHAKE, hs(13, b"\x00\x00\x00")))
p("tls13-hs-length-over", TLS13_CLIENT, rec(HANDSHAKE, hs(4, b"\0" * 8, length=0xFFFFFF)))
p("tls13-empty-hs-record", TLS13_CLIENT, rec(HANDSHAKE, b""))
p("alert-close-notify", TLS13_CLIENT, rec(ALERT, b"\x01\x00"))
p("alert-close-notify-fatal", TLS13_SERVER, rec(ALERT, b"\x02\x00"))
p("alert-user-canceled", TLS13_CLIENT, rec(ALERT, b"\x01\x5a"), rec(ALERT, b"\x01\x00"))
p("alert-fatal", TLS13_CLIENT, rec(ALERT, b"\x02\x28"))
p("alert-warning-tls13", TLS13_CLIENT, rec(ALERT, b"\x01\x64"))
p("alert-warning-tls12", TLS12_CLIENT, rec(ALERT, b"\x01\x64"), rec(ALERT, b"\x01\x00"))
p("alert-bad-level", TLS13_CLIENT, rec(ALERT, b"\x03\x28"))
p("alert-unknown-desc", TLS12_SERVER, rec(ALERT, b"\x02\xee"))
p("alert-short", TLS13_CLIENT, rec(ALERT, b"\x01"))
p("alert-long", TLS13_CLIENT, rec(ALERT, b"\x01\x00\x00"))
p("alert-empty", TLS13_CLIENT, rec(ALERT, b""))
p("ccs", TLS13_CLIENT, rec(CCS, b"\x01"))
p("appdata", TLS13_CLIENT, rec(APPDATA, b"hello"))
p("unknown-type", TLS12_CLIENT, rec(99, b"\0\0"))
p("record-length-over", TLS13_CLIENT, rec(HANDSHAKE, T1, length=0xFFFF))
p("record-length-cut", TLS13_CLIENT, bytes([HANDSHAKE, 0x00]))
p("tls12-hello-request", TLS12_CLIENT, rec(HANDSHAKE, hs(0, b"")))
p("tls12-hello-requests", TLS12_CLIENT, rec(HANDSHAKE, hs(0, b"") * 8), rec(HANDSHAKE, hs(0, b"")))
p("tls12-hello-request-body", TLS12_CLIENT, rec(HANDSHAKE, hs(0, b"\0")))
p("tls12-hello-request-split", TLS12_CLIENT, rec(HANDSHAKE, b"\0\0"), rec(HANDSHAKE, b"\0\0"))
p("tls12-client-hello", TLS12_SERVER, rec(HANDSHAKE, hs(1, b"\x03\x03" + b"\0" * 38)))
p("tls12-client-hello-fragment", TLS12_SERVER, rec(HANDSHAKE, hs(1, b"\x03\x03", length=40)))
p("tls12-hello-request-to-server", TLS12_SERVER, rec(HANDSHAKE, hs(0, b"")))
p("tls12-ticket", TLS12_CLIENT, rec(HANDSHAKE, hs(4, b"\0\0\0\0\0\0")))
p("tls12-keyupdate", TLS12_CLIENT, rec(HANDSHAKE, key_update(1)))
p("tls12-truncated-header", TLS12_CLIENT, rec(HANDSHAKE, b"\0\0\0"))
p("setup-only-tls12", TLS12_SERVER)
# Zero-length application data is legal and nothing (RFC 8446 5.1, RFC 5246 6.2.1).
p("appdata-empty", TLS13_CLIENT, rec(APPDATA, b""), rec(APPDATA, b""), rec(HANDSHAKE, T1))
p("tls12-appdata-empty-then-close-notify", TLS12_SERVER, rec(APPDATA, b""), rec(ALERT, b"\x01\x00"))
# TLS 1.2 renegotiation is declined once the message is whole, however it is cut (RFC 5246 6.2.1).
CH = hs(1, b"\x03\x03" + b"\x5a" * 32 + b"\x00\x00\x02\xc0\x2b\x01\x00")
p("tls12-client-hello-split", TLS12_SERVER, rec(HANDSHAKE, CH[:10]), rec(HANDSHAKE, CH[10:30]), rec(HANDSHAKE, CH[30:]))
p("tls12-client-hello-header-split", TLS12_SERVER, rec(HANDSHAKE, CH[:2]), rec(HANDSHAKE, CH[2:]))
p("tls12-client-hello-data-between", TLS12_SERVER, rec(HANDSHAKE, CH[:7]), rec(APPDATA, b"data"),
  rec(APPDATA, b""), rec(HANDSHAKE, CH[7:]), rec(APPDATA, b"more"))
p("tls12-client-hellos-straddling", TLS12_SERVER, rec(HANDSHAKE, CH + CH[:5]), rec(HANDSHAKE, CH[5:] + CH))
p("tls12-client-hello-then-fatal", TLS12_SERVER, rec(HANDSHAKE, CH), rec(ALERT, b"\x02\x28"))
p("tls12-client-hello-oversized", TLS12_SERVER, rec(HANDSHAKE, hs(1, b"\x03\x03", length=0x020001)))
p("tls12-client-hello-128k", TLS12_SERVER, *[rec(HANDSHAKE, chunk) for chunk in
  [hs(1, b"\x00" * 16380, length=128 * 1024 - 4)] + [b"\x00" * 16384] * 7])
p("tls12-hello-request-split-data", TLS12_CLIENT, rec(HANDSHAKE, b"\x00"), rec(APPDATA, b"x"),
  rec(HANDSHAKE, b"\x00\x00\x00"), rec(HANDSHAKE, hs(0, b"")))

# ------------------------------------------------------------ transport


def t(name, sizes, stream):
    write("transport", name, bytes([len(sizes)]) + bytes(sizes) + stream)


def tls(rtype, body, length=None):
    n = len(body) if length is None else length
    return struct.pack(">BBBH", rtype, 3, 3, n) + body


BIG = 0xFF  # asks for 0x80 * 256 = 32 KiB, more than a record can hold
HANDSHAKE_FLIGHT = tls(22, b"\x02" + b"\0" * 89) + tls(20, b"\x01") + tls(23, b"E" * 300) + tls(23, b"appdata-after-finished")
t("flight-big-reads", [BIG], HANDSHAKE_FLIGHT)
t("flight-header-reads", [4, BIG], HANDSHAKE_FLIGHT)
t("flight-bytewise", [0], HANDSHAKE_FLIGHT[:40])
t("flight-mixed", [0, 2, 0x85, 6, 0x80], HANDSHAKE_FLIGHT)
t("zero-length-records", [BIG], tls(23, b"") * 3 + tls(21, b"\x01\x00"))
t("zero-length-bytewise", [0, 1], tls(23, b"") + tls(23, b"") + tls(23, b"x"))
t("max-record", [BIG, 0x90], tls(23, b"M" * 16640))
t("length-ffff-short-body", [BIG], tls(23, b"short", length=0xFFFF))
t("truncated-header", [BIG], tls(22, b"abc")[:3])
t("truncated-body", [BIG], tls(22, b"abcdef")[:8])
t("header-split-2-3", [1, 2], tls(22, b"hello") + tls(22, b"world"))
t("not-tls", [BIG, 3], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
t("empty-stream", [BIG], b"")
t("many-small", [3, 0, 8], b"".join(tls(23, bytes([i])) for i in range(64)))


def th(name, sizes, stream):
    """Hold mode (a TLS 1.2 hand-off to user space): handshake records are kept from GnuTLS."""
    write("transport", name, bytes([0x80 | len(sizes)]) + bytes(sizes) + stream)


AFTER12 = tls(23, b"before") + tls(22, b"H" * 60) + tls(23, b"between") + tls(22, b"") + tls(21, b"\x02\x28")
th("hold-after-handshake", [BIG], AFTER12)
th("hold-header-reads", [4, BIG], AFTER12)
th("hold-bytewise", [0], AFTER12)
th("hold-handshake-cut", [BIG], tls(23, b"x") + tls(22, b"H" * 40)[:20])
th("hold-header-cut", [BIG], tls(23, b"x") + tls(22, b"H")[:3])
th("hold-oversized-handshake", [BIG], tls(22, b"", length=0x4801) + b"\0" * 64)
th("hold-max-handshake", [BIG, 0x90], tls(22, b"M" * 18432) + tls(23, b"after"))

# ------------------------------------------------------------ match


def query(connect, port, addr=b"", name=None, family=0):
    """family: 0 IPv4, 1 IPv6, 2 IPv4-mapped IPv6, 3 AF_UNIX."""
    nm = b"\xff" if name is None else bytes([len(name)]) + name
    return bytes([(1 if connect else 0) | family << 1]) + struct.pack(">H", port) + addr.ljust(16, b"\0") + nm


MATCH_CONF = (b"[accept 127.0.0.1:8443]\ninsecure-plaintext = yes\n"
              b"[accept ::1 8443]\ninsecure-plaintext = yes\n"
              b"[accept 8443]\ninsecure-plaintext = yes\n"
              b"[connect *.example.com:443]\ninsecure-plaintext = yes\n"
              b"[connect Server.Test:443]\ninsecure-plaintext = yes\n"
              b"[connect 10.0.0.1:25]\ninsecure-plaintext = yes\n"
              b"[connect ::1 25]\ninsecure-plaintext = yes\n"
              b"[connect 8080]\ninsecure-plaintext = yes\n")
LO4, LO6, TEN = bytes([127, 0, 0, 1]), b"\0" * 15 + b"\1", bytes([10, 0, 0, 1])


def m(name, *queries, conf=MATCH_CONF):
    write("match", name, conf + b"\0" + b"".join(queries))


m("accept-addresses", query(False, 8443, LO4), query(False, 8443, LO6, family=1),
  query(False, 8443, TEN), query(False, 8443, LO4, family=2), query(False, 8444, LO4))
m("accept-unix", query(False, 8443, family=3))
m("connect-wildcard", query(True, 443, TEN, b"a.example.com"), query(True, 443, TEN, b"a.b.EXAMPLE.com"),
  query(True, 443, TEN, b"example.com"), query(True, 443, TEN, b".example.com"),
  query(True, 443, TEN, b"badexample.com"), query(True, 443, TEN, None))
m("connect-name-case", query(True, 443, LO4, b"server.test"), query(True, 443, LO4, b"SERVER.TEST"),
  query(True, 443, LO4, b"server.test."), query(True, 443, LO4, b"server.tes"))
m("connect-address", query(True, 25, TEN), query(True, 25, TEN, family=2), query(True, 25, LO6, family=1),
  query(True, 25, LO4), query(True, 8080, LO4, b"anything"))
m("name-with-nul", query(True, 443, TEN, b"a.example.com\0.evil"))
m("name-255", query(True, 443, TEN, b"x" * 243 + b".example.com"))
m("cut-short", query(True, 443, TEN, b"a.example.com")[:-3])
# "*example.com" is not "*.example.com": it must not match badexample.com.
m("regress-star-no-dot", query(True, 443, TEN, b"badexample.com"), query(True, 443, TEN, b"a.example.com"),
  conf=b"[connect *example.com:443]\ninsecure-plaintext = yes\n")
m("star-only", query(True, 443, TEN, b"x"), query(True, 443, TEN, b""),
  conf=b"[connect *:443]\ninsecure-plaintext = yes\n")
m("star-inside", query(True, 443, TEN, b"a.example.com"), conf=b"[connect a.*.com:443]\ninsecure-plaintext = yes\n")

# ------------------------------------------------------------ psk
# Set-up byte: 0x01 the server looks identities up (those starting "ok-" are known), 0x02 TLS 1.2.
for setup, tag in ((0, "tls13"), (2, "tls12")):
    write("psk", tag + "-known", bytes([setup]) + b"fuzz-identity")
    write("psk", tag + "-unknown", bytes([setup]) + b"someone-else")
    write("psk", tag + "-prefix", bytes([setup]) + b"fuzz-identit")
    write("psk", "regress-" + tag + "-nul-after-known", bytes([setup]) + b"fuzz-identity\0evil")
    write("psk", tag + "-lookup-ok", bytes([setup | 1]) + b"ok-host1")
    write("psk", tag + "-lookup-refused", bytes([setup | 1]) + b"no-host1")
    write("psk", "regress-" + tag + "-lookup-nul", bytes([setup | 1]) + b"ok-a\0b")
write("psk", "lookup-long", bytes([1]) + b"ok-" + b"L" * 600)
write("psk", "lookup-binary", bytes([1]) + b"ok-\x01\xff\x7f")
write("psk", "one-byte", bytes([0]) + b"x")
write("psk", "setup-only", bytes([0]))

# ------------------------------------------------------------ records
# Setup as posthandshake (TLS13_CLIENT ...); then the calls; then records of
# type, control (1-6: an error instead: EAGAIN EIO EMSGSIZE EBADMSG
# EKEYEXPIRED ECONNRESET; 0x08: control message cut), length, data.
READ, TAKE, ZERO = 0, 2, 3


def small(n):
    return 1 | (n - 1) << 2


def krec(rtype, data=b"", ctl=0, length=None):
    n = len(data) if length is None else length
    return struct.pack(">BBH", rtype, ctl, n) + data


def r(name, setup, calls, *records):
    write("records", name, bytes([setup, len(calls)]) + bytes(calls) + b"".join(records))


CN = krec(ALERT, b"\x01\x00")
r("data-then-close-notify", TLS13_CLIENT, [READ], krec(APPDATA, b"hello"), krec(APPDATA, b" world"), CN)
r("data-small-reads", TLS13_CLIENT, [small(3), small(1), small(64)], krec(APPDATA, b"abcdefgh"), CN)
r("fin-without-close-notify", TLS13_CLIENT, [READ], krec(APPDATA, b"cut"))
r("ticket-between-data", TLS13_CLIENT, [READ, READ], krec(APPDATA, b"a"), krec(HANDSHAKE, T1), krec(APPDATA, b"b"), CN)
r("ticket-small-buffer", TLS13_CLIENT, [small(1), small(1)], krec(HANDSHAKE, T1), krec(APPDATA, b"xy"), CN)
r("keyupdate-requested", TLS13_CLIENT, [READ], krec(HANDSHAKE, key_update(1)), krec(APPDATA, b"after"), CN)
r("server-keyupdate", TLS13_SERVER, [READ], krec(HANDSHAKE, key_update(0)), krec(APPDATA, b"after"), CN)
r("empty-before-close-notify", TLS13_CLIENT, [READ], krec(APPDATA), krec(APPDATA), CN)
r("empty-before-fin", TLS13_CLIENT, [READ], krec(APPDATA, b"x"), krec(APPDATA), krec(APPDATA))
r("empty-before-data", TLS13_CLIENT, [READ], krec(APPDATA), krec(APPDATA, b"data"), CN)
r("fatal-alert", TLS13_CLIENT, [READ], krec(APPDATA, b"x"), krec(ALERT, b"\x02\x28"))
r("warning-alert-then-data", TLS12_CLIENT, [READ], krec(ALERT, b"\x01\x5a"), krec(APPDATA, b"x"), CN)
r("alert-short", TLS13_CLIENT, [READ], krec(ALERT, b"\x01"))
r("alert-empty", TLS13_CLIENT, [READ], krec(ALERT))
r("handshake-empty", TLS13_CLIENT, [READ], krec(HANDSHAKE))
r("oversized", TLS13_CLIENT, [READ], krec(APPDATA, b"x"), krec(APPDATA, b"\0" * 16385))
r("unknown-type", TLS13_CLIENT, [READ], krec(0x63, b"zz"), CN)
r("ccs-after", TLS12_CLIENT, [READ], krec(CCS, b"\x01"), CN)
r("ctrunc", TLS13_CLIENT, [READ], krec(ALERT, b"\x01\x00", ctl=0x08))
r("errors", TLS13_CLIENT, [READ, READ, READ], krec(0, ctl=1), krec(APPDATA, b"a"), krec(0, ctl=4))
r("eio", TLS13_CLIENT, [READ], krec(0, ctl=2))
r("emsgsize", TLS13_CLIENT, [READ], krec(0, ctl=3))
r("ekeyexpired", TLS13_CLIENT, [READ], krec(0, ctl=5))
r("econnreset", TLS13_CLIENT, [READ], krec(0, ctl=6))
# The shim's calls: EIO from the program's read (a control record next), then 0 (empty or the end).
r("shim-take-ticket", TLS13_CLIENT, [TAKE, READ], krec(HANDSHAKE, T1), krec(APPDATA, b"x"), CN)
r("shim-take-close-notify", TLS13_CLIENT, [TAKE], CN)
r("shim-take-nothing", TLS13_CLIENT, [TAKE, TAKE], krec(APPDATA, b"x"), CN)
r("shim-take-fatal", TLS13_SERVER, [TAKE], krec(ALERT, b"\x02\x14"))
r("shim-zero-empty", TLS13_CLIENT, [ZERO, READ], krec(APPDATA), krec(APPDATA, b"x"), CN)
r("shim-zero-fin", TLS13_CLIENT, [ZERO], krec(APPDATA))
r("shim-zero-then-take", TLS13_CLIENT, [ZERO, TAKE, ZERO], krec(APPDATA), CN)
r("shim-zero-eagain", TLS13_CLIENT, [ZERO, ZERO], krec(0, ctl=1), CN)
r("tls12-renegotiation", TLS12_SERVER, [READ], krec(HANDSHAKE, CH), krec(APPDATA, b"x"), CN)
r("tls12-hello-request", TLS12_CLIENT, [TAKE, READ], krec(HANDSHAKE, hs(0, b"")), CN)


# ------------------------------------------------------------ custody
# The key-custody messages (helper/custody/wire.h) after the control byte:
# bit 2 passes the message through a socketpair, bits 0-1 the fds with it.
def creq(role=2, ident=b"web", name=b"", timeout=30000, magic=b"HOcR", version=1, flags=0,
         il=None, sl=None, tail=b""):
    return (magic + struct.pack("<HBBI", version, role, flags, timeout) +
            bytes([len(ident) if il is None else il, len(name) if sl is None else sl]) +
            b"\0\0" + ident + name + tail)


def crep(status=0, fields=(b"TLSv1.3", b"AES-128-GCM", b"", b"", b""), magic=b"HOcA", version=1,
         secrets=b"", sl=None):
    v, c, a, p, m = fields
    return (magic + struct.pack("<HHI", version, 0, status) +
            bytes([len(v), len(c), len(a), len(secrets) // 2 if sl is None else sl]) +
            struct.pack("<HHI", len(p), len(m), 0) + v + c + a + p + m + secrets)


def cu(name, ctl, msg):
    write("custody", name, bytes([ctl]) + msg)


cu("server", 0x05, creq())
cu("client", 0x05, creq(role=1, ident=b"out", name=b"www.example.com"))
cu("client-address", 0x05, creq(role=1, ident=b"out", name=b"127.0.0.1"))
cu("client-ipv6", 0x05, creq(role=1, ident=b"out", name=b"::1"))
cu("identity-64", 0x05, creq(ident=b"a" * 64))
cu("identity-65", 0x05, creq(ident=b"a" * 65))
cu("name-253", 0x05, creq(role=1, name=b"n" * 253))
cu("name-255", 0x05, creq(role=1, name=b"n" * 255))
cu("no-fd", 0x04, creq())
cu("two-fds", 0x06, creq())
cu("three-fds", 0x07, creq())
cu("empty-no-fd", 0x04, b"")
cu("empty-with-fd", 0x05, b"")
cu("bad-magic", 0x05, creq(magic=b"HOcX"))
cu("version-2", 0x05, creq(version=2))
cu("flags", 0x05, creq(flags=1))
cu("flags-unknown", 0x05, creq(flags=2))
cu("flags-all", 0x05, creq(flags=0xff))
cu("role-0", 0x05, creq(role=0))
cu("server-with-name", 0x05, creq(name=b"x.test"))
cu("length-over", 0x05, creq(il=200))
cu("length-under", 0x05, creq(tail=b"extra"))
cu("header-only", 0x05, creq()[:16])
cu("header-cut", 0x05, creq()[:11])
cu("identity-slash", 0x05, creq(ident=b"../x"))
cu("identity-nul", 0x05, creq(ident=b"we\0b"))
cu("oversized", 0x05, creq(tail=b"Z" * 400))
cu("reply-ok", 0x00, crep(fields=(b"TLSv1.3", b"AES-256-GCM", b"h2", b"CN=client.test", b"")))
cu("reply-refused", 0x00, crep(status=13, fields=(b"", b"", b"", b"", b'uid 4321 (gid 4321) may not use identity "web"')))
cu("reply-status-big", 0x00, crep(status=70000))
cu("reply-control-char", 0x00, crep(fields=(b"TLS\x01", b"", b"", b"", b"")))
cu("reply-cut", 0x00, crep()[:30])
cu("reply-long-cause", 0x00, crep(status=5, fields=(b"", b"", b"", b"", b"c" * 511)))
cu("reply-too-long-cause", 0x00, crep(status=5, fields=(b"", b"", b"", b"", b"c" * 600)))
# The traffic secrets after the texts: the caller's write, then its read.
cu("reply-secrets-32", 0x00, crep(secrets=bytes(range(1, 33)) + bytes(range(101, 133))))
cu("reply-secrets-48", 0x00, crep(fields=(b"TLSv1.3", b"AES-256-GCM", b"h2", b"", b""),
                                  secrets=bytes(range(1, 49)) + bytes(range(101, 149))))
cu("reply-secrets-16", 0x00, crep(secrets=bytes(32)))
cu("reply-secrets-cut", 0x00, crep(secrets=bytes(64))[:-1])
cu("reply-secrets-len-only", 0x00, crep(sl=32))
cu("reply-secrets-failed", 0x00, crep(status=104, secrets=bytes(64)))


# ------------------------------------------------------------ pskhash
# Key length byte, then the identity (NQNs as the kernel's NVMe host forms them).
NQNS = b" nqn.2014-08.org.nvmexpress:uuid:0c6f5c1e-0000-4000-8000-000000000001 nqn.2014-08.org.handoff:tls-test"


def ph(name, key_len, identity):
    write("pskhash", name, bytes([key_len]) + identity)


ph("nvme-sha256", 32, b"NVMe0R01" + NQNS)
ph("nvme-sha384", 48, b"NVMe0R02" + NQNS)
ph("nvme1-digest", 32, b"NVMe1R01" + NQNS + b" AAAA")
ph("nvme-generated", 32, b"NVMe0G01" + NQNS)
ph("nvme-length-mismatch", 48, b"NVMe0R01" + NQNS)
ph("nvme-hash-03", 32, b"NVMe0R03" + NQNS)
ph("nvme-cut", 32, b"NVMe0R0")
ph("nvme-no-space", 48, b"NVMe0R02")
ph("plain-32", 32, b"handoff-test")
ph("plain-48", 48, b"handoff-test")
ph("plain-16", 16, b"handoff-test")
ph("empty-key", 0, b"handoff-test")
ph("empty-identity", 32, b"")
ph("nul-inside", 48, b"NVMe0R01\0 x")
ph("long", 32, b"NVMe0R01 " + b"n" * 400)
